"""Writes ledger rows off the request path, in batches.

A request never waits for its ledger row: rows go to a queue that a
background task writes in one transaction per batch, on a worker thread.
``flush`` waits until every row queued so far is stored (reads of the ledger
and shutdown call it), so a row is only at risk if the process is killed
within one batch interval of its response (documented in the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import IntegrityError

from plinth.store.usage import UsageRecord, UsageStore

log = logging.getLogger(__name__)


class UsageRecorder:
    def __init__(self, store: UsageStore, *, interval_s: float = 0.05, max_batch: int = 500):
        self._store = store
        self._interval = interval_s
        self._max_batch = max_batch
        self._queue: asyncio.Queue[UsageRecord] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._pending = asyncio.Event()

    def record(self, row: UsageRecord) -> None:
        self._queue.put_nowait(row)
        self._pending.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-recorder")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while not self._queue.empty():
                size = min(self._queue.qsize(), self._max_batch)
                batch = [self._queue.get_nowait() for _ in range(size)]
                try:
                    await asyncio.to_thread(self._write, batch)
                except Exception:
                    for row in batch:  # keep them for the next try
                        self._queue.put_nowait(row)
                    raise

    async def _run(self) -> None:
        while True:
            await self._pending.wait()
            await asyncio.sleep(self._interval)
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
