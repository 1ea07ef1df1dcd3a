"""Background ingestion of vector-store files: a bounded queue of parse → chunk → embed.

Attaching a file only records it ``in_progress`` and queues it; a few
workers (embedding is CPU-bound, so more would only contend) take files off
the queue, index them through :class:`KnowledgeBase`, and record the
outcome. On start-up, files a dead process left ``in_progress`` are queued
again — their bytes are still in file storage — so none stays stuck.

``usage_bytes`` of a file is the UTF-8 size of its extracted text plus
4 bytes per vector dimension per chunk: roughly what the index holds for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from plinth.knowledge.chunking import ChunkingError, ChunkingStrategy
from plinth.knowledge.filters import FilterError
from plinth.knowledge.index import StoreNotFound
from plinth.knowledge.parsing import ParseError, parse
from plinth.knowledge.service import KnowledgeBase
from plinth.store.vector_stores import VectorStoreCatalog

log = logging.getLogger(__name__)

# Reports a store's new total size (the storage meter, in the server).
UsageReporter = Callable[[str, int], None]


def error_for(exc: BaseException) -> tuple[str, str]:
    """OpenAI's ``last_error`` (code, message) for a failed ingestion."""
    if isinstance(exc, ParseError):
        message = str(exc)
        code = "unsupported_file" if message.startswith("unsupported file type") else "invalid_file"
        return code, message
    if isinstance(exc, FileNotFoundError):
        return "invalid_file", "the file's content is no longer stored"
    if isinstance(exc, ChunkingError | FilterError):
        return "invalid_file", str(exc)
    return "server_error", f"ingestion failed: {type(exc).__name__}"


class Ingestor:
    def __init__(
        self,
        catalog: VectorStoreCatalog,
        knowledge: KnowledgeBase,
        file_path: Callable[[str], Path],
        report_usage: UsageReporter,
        *,
        workers: int = 2,
    ):
        self.catalog = catalog
        self.knowledge = knowledge
        self._file_path = file_path
        self._report_usage = report_usage
        self._workers = workers
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        # One run per (store, file) at a time: a re-attach queued while a run is
        # indexing the same file waits for it, so the two never interleave.
        self._running: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    async def start(self) -> int:
        """Start the workers and re-queue interrupted files; return how many."""
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]
        pending = await asyncio.to_thread(self.catalog.in_progress_files)
        for row in pending:
            self.submit(row.vector_store_id, row.file_id)
        if pending:
            log.info("re-queued %d vector-store files left in progress", len(pending))
        return len(pending)

    def submit(self, store_id: str, file_id: str) -> None:
        self._queue.put_nowait((store_id, file_id))

    async def idle(self) -> None:
        """Wait until every queued file is done (tests, the CLI)."""
        await self._queue.join()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            store_id, file_id = await self._queue.get()
            try:
                await self.ingest(store_id, file_id)
            except Exception:  # a worker must outlive any one file
                log.exception("ingesting %s into %s failed unexpectedly", file_id, store_id)
            finally:
                self._queue.task_done()

    async def ingest(self, store_id: str, file_id: str) -> str:
        """Index one attached file now; return its final status."""
        key = (store_id, file_id)
        lock, users = self._running.get(key, (asyncio.Lock(), 0))
        self._running[key] = (lock, users + 1)
        try:
            async with lock:
                return await self._ingest(store_id, file_id)
        finally:
            lock, users = self._running[key]
            if users == 1:
                del self._running[key]
            else:
                self._running[key] = (lock, users - 1)

    async def _ingest(self, store_id: str, file_id: str) -> str:
        row = await asyncio.to_thread(self.catalog.get_file, store_id, file_id)
        if row is None or row.status != "in_progress":
            return "gone" if row is None else row.status
        status, usage, error = "completed", 0, None
        try:
            path = self._file_path(file_id)
            data = await asyncio.to_thread(path.read_bytes)
            text = await asyncio.to_thread(parse, data, row.filename)
            if not text.strip():
                raise ParseError(f"'{row.filename}' has no text")
            strategy = ChunkingStrategy.from_openai(row.chunking)
            info = await self.knowledge.add_text(store_id, file_id, text, strategy, row.attributes)
            usage = len(text.encode()) + info.chunks * 4 * (self.knowledge.dims or 0)
        except Exception as exc:
            if not isinstance(exc, ParseError | FileNotFoundError | StoreNotFound):
                log.exception("ingesting %s into %s failed", file_id, store_id)
            status, error = "failed", error_for(exc)
        finished = await asyncio.to_thread(
            self.catalog.finish_file, store_id, file_id, status=status, usage_bytes=usage,
            error=error, chunking=row.chunking,
        )  # fmt: skip
        if not finished:
            now = await asyncio.to_thread(self.catalog.get_file, store_id, file_id)
            if now is None or now.status == "cancelled":
                # Cancelled or removed while being indexed: free what was just written.
                await self._forget(store_id, file_id)
                return "cancelled"
            return "superseded"  # re-attached with another strategy: its own run is queued
        if status == "completed":
            now = await asyncio.to_thread(self.catalog.get_file, store_id, file_id)
            if now is not None and now.attributes != row.attributes:
                # Changed while being indexed (an update, or a re-attach): the row's win.
                with contextlib.suppress(StoreNotFound):
                    await self.knowledge.update_attributes(store_id, file_id, now.attributes)
            await self.report(store_id)
        return status

    async def _forget(self, store_id: str, file_id: str) -> None:
        with contextlib.suppress(StoreNotFound):
            await self.knowledge.delete_file(store_id, file_id)

    async def report(self, store_id: str) -> None:
        """Recompute the store's usage_bytes and tell the meter."""
        total = await asyncio.to_thread(self.catalog.refresh_usage, store_id)
        await asyncio.to_thread(self._report_usage, store_id, total)
