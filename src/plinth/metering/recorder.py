"""Writes ledger rows off the request path, with group commit.

A row goes to a queue; one background task writes everything queued so far
in one transaction, then the next batch: under load the batches grow, with one
request alone a batch is one row. The write and its commit run on the
database door's threads (:class:`plinth.store.door.Database`), never on the
event loop: a commit waiting for SQLite's lock (a CLI command writing) delays
the responses waiting for their rows, not every request the server holds. ``record`` returns a
future that resolves when the row is committed, and the gateway waits for it
before the last byte of a response, so every response a client received in
full has its ledger row even if the process is killed right after (SIGKILL
included). ``flush`` waits until every row queued so far is stored (reads of
the ledger and shutdown call it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import IntegrityError

from plinth.store.door import Database
from plinth.store.usage import UsageRecord, UsageStore

log = logging.getLogger(__name__)

Entry = tuple[UsageRecord, "asyncio.Future[None]"]


class UsageRecorder:
    def __init__(self, store: UsageStore, db: Database, *, max_batch: int = 500):
        self._store = store
        self._db = db
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Entry] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._pending = asyncio.Event()

    def record(self, row: UsageRecord) -> asyncio.Future[None]:
        """Queue a row; the future resolves once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((row, done))
        self._pending.set()
        return done

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-recorder")

    async def close(self) -> None:
        if self._task is not None:
            async with self._lock:  # cancel between batches, never mid-commit
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while not self._queue.empty():
                size = min(self._queue.qsize(), self._max_batch)
                batch = [self._queue.get_nowait() for _ in range(size)]
                rows = [row for row, _ in batch]
                try:
                    await self._db.run(self._write, rows)
                except Exception:
                    for entry in batch:  # keep them for the next try
                        self._queue.put_nowait(entry)
                    raise
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _run(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("writing the usage ledger failed; retrying in 1 s")
                self._pending.set()
                await asyncio.sleep(1.0)

    def _write(self, batch: list[UsageRecord]) -> None:
        try:
            self._store.append(batch)
        except IntegrityError:
            # One bad row must not lose its batch-mates: store them one by one.
            for row in batch:
                try:
                    self._store.append([row])
                except IntegrityError:
                    log.error(
                        "ledger row for request %s was rejected as a duplicate", row.request_id
                    )
