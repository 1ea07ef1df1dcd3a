"""A vector store's size reaches the storage meter (billed per GB-month) as it changes."""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa
from vssupport import fake_app, new_key, sdk

from plinth.store.schema import storage_spans

TEXT = "Refunds: items may be returned within 30 days of delivery with the receipt."


def _spans(app, store_id: str) -> list[tuple[int, bool]]:  # type: ignore[no-untyped-def]
    engine = app.app.state.services.storage_meter._engine
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(storage_spans.c.bytes, storage_spans.c.ended_at)
            .where(storage_spans.c.resource == store_id)
            .order_by(storage_spans.c.id)
        )
        return [(row.bytes, row.ended_at is not None) for row in rows]


def test_store_sizes_are_metered_until_the_store_is_deleted(tmp_path: Path) -> None:
    with fake_app(tmp_path) as app:
        client = sdk(app, new_key(app, "metered"))
        store = client.vector_stores.create(name="metered")
        first = client.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=("a.txt", io.BytesIO(TEXT.encode()))
        )
        second = client.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=("b.txt", io.BytesIO((TEXT * 3).encode()))
        )
        size = client.vector_stores.retrieve(store.id).usage_bytes
        assert size == first.usage_bytes + second.usage_bytes > 0
        assert _spans(app, store.id) == [(first.usage_bytes, True), (size, False)]

        client.vector_stores.files.delete(file_id=first.id, vector_store_id=store.id)
        assert _spans(app, store.id)[-1] == (second.usage_bytes, False)
        client.vector_stores.delete(store.id)
        assert all(ended for _, ended in _spans(app, store.id))
