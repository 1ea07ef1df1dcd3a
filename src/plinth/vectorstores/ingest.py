"""Background ingestion of vector-store files: a bounded queue of read → parse → index.

Attaching a file only records it ``in_progress`` and queues it; a few
workers (embedding is CPU-bound, so more would only contend) take files off
the queue and run :meth:`FileIngestion.run`. On start-up, files a dead
process left ``in_progress`` are queued again (their bytes are still in file
storage), so none stays stuck.

A File's text is extracted once, within the upload limits, and stored: a
later attach of the same File (to this or another store) and the
file-content endpoint read the stored text instead of parsing again.

``usage_bytes`` of a file is the UTF-8 size of its extracted text plus
4 bytes per vector dimension per chunk: roughly what the index holds for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

from plinth.billing.storage import StorageMeter
from plinth.errors import InvalidFile, PlinthError, VectorStoreNotFound
from plinth.files.storage import FileStorage
from plinth.knowledge.chunking import (
    ChunkingStrategy,
    TokenSpans,
    WindowedEmbedder,
    chunk_and_analyze,
)
from plinth.knowledge.filters import AttributeValue
from plinth.knowledge.index import ChunkRecord, KnowledgeIndex
from plinth.knowledge.limits import UploadLimits
from plinth.knowledge.parsing import extract_text
from plinth.store.door import Database
from plinth.vectorstores.catalog import FileRow, VectorStoreCatalog, now_s
from plinth.vectorstores.embedders import EmbedderGate, Embedders, embedder_for

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class CpuWork:
    """The one place vector stores run CPU-heavy work: parsing, chunking, term analysis.

    Seconds of parsing on the event loop would stall every request; a small
    pool of its own keeps it off the loop and bounds how many files are
    parsed at once (each is bounded in memory by the upload limits, so two at
    a time bound the total). Database work never runs here (``Database.run``).
    """

    def __init__(self, threads: int = 2):
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="plinth-cpu")

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@dataclass(frozen=True)
class Retrieval:
    """The parts of the retrieval library (``plinth.knowledge``) vector stores compose:
    the index backend, the tokenizer chunk sizes are counted in, and the embedder
    with its dimensions (None: the stores are lexical only)."""

    index: KnowledgeIndex
    tokenizer: TokenSpans
    embedder: WindowedEmbedder | None = None
    dims: int | None = None
    # The embedder's declared languages (catalog), None if unknown.
    languages: frozenset[str] | None = None
    # Every loaded embedder by model, ``embedder`` the default's (embedders.py, where
    # ``embedder_for`` picks a store's); None exactly when ``embedder`` is None.
    embedders: Embedders | None = None
    gate: EmbedderGate = field(default_factory=EmbedderGate)

    def __post_init__(self) -> None:
        if (self.embedder is None) != (self.embedders is None):
            raise ValueError("Retrieval needs both embedder and embedders, or neither")


def error_for(exc: BaseException) -> tuple[str, str]:
    """OpenAI's ``last_error`` (code, message) for a failed ingestion."""
    if isinstance(exc, FileNotFoundError):
        return "invalid_file", "the file's content is no longer stored"
    if isinstance(exc, PlinthError) and exc.status_code < 500:
        # InvalidFile (a limit, a bad format), UnsupportedFile, ChunkingError, FilterError.
        return exc.code or "invalid_file", exc.message
    return "server_error", f"ingestion failed: {type(exc).__name__}"


def read_and_extract(path: Path, filename: str, limits: UploadLimits) -> str:
    """Blocking: the File's bytes, parsed within the limits (run on the CPU pool)."""
    return extract_text(path.read_bytes(), filename, limits)


class StoreSizes:
    """Recomputes a store's ``usage_bytes`` and reports it to the storage meter."""

    def __init__(self, db: Database, catalog: VectorStoreCatalog, meter: StorageMeter):
        self.db, self.catalog, self.meter = db, catalog, meter

    def _refresh(self, store_id: str) -> None:
        total = self.catalog.refresh_usage(store_id)
        store = self.catalog.get_store(store_id, key_id=None)
        if store is not None:
            self.meter.set_size(store_id, total, tenant_id=store.tenant_id, key_id=store.key_id)

    async def refresh(self, store_id: str) -> None:
        await self.db.run(self._refresh, store_id)


class FileIngestion:
    """Indexes one attached file and records the outcome on its row."""

    def __init__(
        self,
        db: Database,
        catalog: VectorStoreCatalog,
        retrieval: Retrieval,
        files: FileStorage,
        limits: UploadLimits,
        cpu: CpuWork,
        sizes: StoreSizes,
    ):
        self.db, self.catalog, self.retrieval = db, catalog, retrieval
        self.files, self.limits, self.cpu, self.sizes = files, limits, cpu, sizes

    async def text_of(self, file_id: str, filename: str) -> str:
        """The File's extracted text: stored at its first ingestion, parsed only then."""
        text = await self.db.run(self.catalog.get_text, file_id)
        if text is None:
            path = self.files.path(file_id)
            text = await self.cpu.run(read_and_extract, path, filename, self.limits)
            await self.db.run(self.catalog.put_text, file_id, text, now=now_s())
        return text

    async def index_text(
        self,
        store_id: str,
        file_id: str,
        text: str,
        strategy: ChunkingStrategy,
        attributes: Mapping[str, AttributeValue],
    ) -> int:
        """Chunk, analyse, embed and index one file's text (replacing the file); its chunks."""
        clean = dict(attributes)  # checked where they were read (the request, the row)
        tokenizer = self.retrieval.tokenizer
        chunks, terms = await self.cpu.run(chunk_and_analyze, text, strategy, tokenizer)
        # Embedded and indexed under the gate: a re-embedding cannot switch the
        # store's model between reading it here and the upsert (reembed.py).
        async with self.retrieval.gate.ingesting(store_id):
            store = await self.db.run(self.catalog.get_store, store_id, key_id=None)
            recorded = store.embedder if store is not None else None
            chosen = embedder_for(self.retrieval.embedders, recorded, store_id)
            vectors = None
            if chosen is not None and chunks:
                vectors = await chosen.embedder.embed([c.text for c in chunks])
            records = [
                ChunkRecord(c.text, t, None if vectors is None else vectors[i], c.tokens)
                for i, (c, t) in enumerate(zip(chunks, terms, strict=True))
            ]
            await self.db.run(self.retrieval.index.upsert_file, store_id, file_id, records, clean)
        return len(records)

    async def _index(self, row: FileRow) -> int:
        """Index the file; its usage in bytes."""
        text = await self.text_of(row.file_id, row.filename)
        strategy = ChunkingStrategy.from_openai(row.chunking)
        chunks = await self.index_text(
            row.vector_store_id, row.file_id, text, strategy, row.attributes
        )
        return len(text.encode()) + chunks * 4 * (self.retrieval.dims or 0)

    async def forget(self, store_id: str, file_id: str) -> None:
        """Free a file's index entries (nothing to free where its store is gone)."""
        with contextlib.suppress(VectorStoreNotFound):
            await self.db.run(self.retrieval.index.delete_file, store_id, file_id)

    async def run(self, store_id: str, file_id: str) -> str:
        """Index one attached file now; return its final status."""
        row = await self.db.run(self.catalog.get_file, store_id, file_id)
        if row is None or row.status != "in_progress":
            return "gone" if row is None else row.status
        status, usage, error = "completed", 0, None
        try:
            usage = await self._index(row)
        except Exception as exc:
            if not isinstance(exc, InvalidFile | FileNotFoundError | VectorStoreNotFound):
                log.exception("ingesting %s into %s failed", file_id, store_id)
            status, error = "failed", error_for(exc)
        finished = await self.db.run(
            self.catalog.finish_file, store_id, file_id, status=status, usage_bytes=usage,
            error=error, chunking=row.chunking,
        )  # fmt: skip
        if not finished:
            now = await self.db.run(self.catalog.get_file, store_id, file_id)
            if now is None or now.status == "cancelled":
                # Cancelled or removed while being indexed: free what was just written.
                await self.forget(store_id, file_id)
                return "cancelled"
            return "superseded"  # re-attached with another strategy: its own run is queued
        if status == "completed":
            now = await self.db.run(self.catalog.get_file, store_id, file_id)
            if now is not None and now.attributes != row.attributes:
                # Changed while being indexed (an update, or a re-attach): the row's win.
                with contextlib.suppress(VectorStoreNotFound):
                    index = self.retrieval.index
                    await self.db.run(index.update_attributes, store_id, file_id, now.attributes)
            await self.sizes.refresh(store_id)
        return status


class Ingestor:
    """The queue and its workers; one run per (store, file) at a time."""

    def __init__(
        self,
        ingest: Callable[[str, str], Awaitable[str]],
        interrupted: Callable[[], Awaitable[list[FileRow]]],
        *,
        workers: int = 2,
    ):
        self._ingest = ingest
        self._interrupted = interrupted
        self._workers = workers
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        # A re-attach queued while a run is indexing the same file waits for it,
        # so the two never interleave.
        self._running: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    async def start(self) -> int:
        """Start the workers and re-queue interrupted files; return how many."""
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]
        pending = await self._interrupted()
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
        """Index one attached file now (serialised per file); return its final status."""
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
