"""A store's ``usage_bytes`` counts every completed file, however their refreshes interleave.

Two ingestion workers finishing files of one store at the same time each
recompute the store's total. A read-then-write refresh let the one that summed
first write last, dropping a file from the total (seen once in CI).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine

from plinth.vectorstores.catalog import VectorStoreCatalog

FILES = 8
ROUNDS = 5


def test_concurrent_refreshes_count_every_completed_file(db: Engine) -> None:
    catalog = VectorStoreCatalog(db)
    now = int(time.time())
    for round_ in range(ROUNDS):
        store = catalog.create_store(
            key_id=None, tenant_id=None, name=f"race-{round_}", metadata={},
            expires_after_days=None, now=now,
        )  # fmt: skip
        sizes = [1000 + i for i in range(FILES)]
        for i in range(FILES):
            catalog.add_file(
                store.id, f"file-{i}", filename=f"{i}.txt", chunking={}, attributes={},
                batch_id=None, now=now,
            )  # fmt: skip
        start = threading.Barrier(FILES)

        def finish(i: int, store_id: str = store.id, start: threading.Barrier = start) -> None:
            start.wait()
            catalog.finish_file(store_id, f"file-{i}", status="completed", usage_bytes=1000 + i)
            catalog.refresh_usage(store_id)

        threads = [threading.Thread(target=finish, args=(i,)) for i in range(FILES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        row = catalog.get_store(store.id, key_id=None)
        assert row is not None and row.usage_bytes == sum(sizes)
