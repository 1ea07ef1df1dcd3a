"""Vector stores as the API, ``/v1/responses``, Dify and ``plinth kb`` use them.

:class:`VectorStores` is the one door to the feature: it owns the rows
(:class:`VectorStoreCatalog`, through the database door), the index and
ingestion, and keeps them in step. Creating a
store makes its index, attaching a file records it and queues it, removing a
file or a store frees its index entries and reports the new size to the
storage meter. It composes the retrieval library's parts itself (index,
tokenizer, embedder: :class:`Retrieval`), so a request goes from here
straight to the index. Every database call, the index's included, goes
through ``Database.run``; parsing and chunking run on the CPU pool
(:class:`CpuWork`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plinth.billing.storage import StorageMeter
from plinth.errors import InvalidFile, InvalidRequest, NotFound, VectorStoreNotFound
from plinth.files.storage import FileStorage
from plinth.knowledge.chunking import ChunkingStrategy
from plinth.knowledge.filters import AttributeValue
from plinth.knowledge.index import Hit, SearchOptions, SearchRequest
from plinth.knowledge.limits import UploadLimits
from plinth.store.door import Database
from plinth.vectorstores.catalog import (
    BatchRow,
    FileRow,
    Page,
    PageRequest,
    StoreRow,
    VectorStoreCatalog,
    now_s,
)
from plinth.vectorstores.embedders import (
    Embedders,
    EmbedderUnavailable,
    embedder_for,
    record_embedder,
)
from plinth.vectorstores.ingest import CpuWork, FileIngestion, Ingestor, Retrieval, StoreSizes
from plinth.vectorstores.reembed import Reembedder


@dataclass(frozen=True)
class Owner:
    """Who creates a store: a key (and its tenant), or None for the CLI (admins only)."""

    key_id: str | None = None
    tenant_id: str | None = None


@dataclass(frozen=True)
class Attachment:
    file_id: str
    filename: str
    strategy: ChunkingStrategy
    attributes: dict[str, AttributeValue]


class VectorStores:
    def __init__(
        self,
        db: Database,
        retrieval: Retrieval,
        meter: StorageMeter,
        files: FileStorage,
        limits: UploadLimits,
        cpu: CpuWork,
        *,
        workers: int = 2,
    ):
        self.db = db
        self.catalog = VectorStoreCatalog(db.engine)
        self.retrieval = retrieval
        self.index = retrieval.index
        self.cpu = cpu
        self.sizes = StoreSizes(db, self.catalog, meter)
        self.ingestion = FileIngestion(db, self.catalog, retrieval, files, limits, cpu, self.sizes)
        self.ingestor = Ingestor(self.ingestion.run, self._interrupted_files, workers=workers)
        embedders = retrieval.embedders or Embedders()
        self.reembeds = Reembedder(db, retrieval.index, embedders, retrieval.gate)

    async def _interrupted_files(self) -> list[FileRow]:
        return await self.db.run(self.catalog.in_progress_files)

    def close(self) -> None:
        """After the ingestor stopped: release the index's and the CPU pool's resources."""
        self.index.close()
        self.cpu.close()

    # -- stores -----------------------------------------------------------------

    async def create(
        self,
        owner: Owner,
        name: str,
        *,
        metadata: Mapping[str, str] | None = None,
        expires_after_days: int | None = None,
        chunking: dict[str, Any] | None = None,
    ) -> StoreRow:
        store = await self.db.run(
            self.catalog.create_store,
            key_id=owner.key_id,
            tenant_id=owner.tenant_id,
            name=name,
            metadata=dict(metadata or {}),
            expires_after_days=expires_after_days,
            chunking=chunking,
            now=now_s(),
        )
        await self.db.run(self.index.create_store, store.id, self.retrieval.dims)
        if self.retrieval.embedder is not None and self.retrieval.embedders is not None:
            # The model its vectors will come from (reembed.py may change it later).
            model = self.retrieval.embedders.default
            await self.db.run(record_embedder, self.db.engine, store.id, model)
            return await self.visible(store.id, None)
        return store

    async def visible(
        self, store_id: str, key_id: str | None, *, param: str = "vector_store_id"
    ) -> StoreRow:
        """The store if ``key_id`` may see it (None: an admin); another key's reads as unknown."""
        store = await self.db.run(self.catalog.get_store, store_id, key_id=key_id)
        if store is None:
            raise VectorStoreNotFound(f"No vector store found with id '{store_id}'", param=param)
        return store

    @staticmethod
    def live(store: StoreRow, *, param: str | None = None) -> StoreRow:
        """The store, unless expired: an expired store is still listed but takes no new work."""
        if store.expired(now_s()):
            raise InvalidRequest(
                f"Vector store '{store.id}' has expired", param=param, code="vector_store_expired"
            )
        return store

    async def named(self, name: str) -> list[StoreRow]:
        return await self.db.run(self.catalog.find_by_name, name)

    async def page(self, key_id: str | None, request: PageRequest) -> Page:
        return await self.db.run(self.catalog.page_stores, key_id=key_id, request=request)

    async def update(self, store: StoreRow, changes: dict[str, Any]) -> StoreRow:
        await self.db.run(self.catalog.update_store, store.id, changes)
        return await self.visible(store.id, None)

    async def delete(self, store: StoreRow) -> None:
        file_ids = await self.db.run(self.catalog.file_ids, store.id)
        await self.db.run(self.catalog.delete_store, store.id)
        await self.db.run(self.catalog.forget_texts, file_ids)
        await self.db.run(self.index.delete_store, store.id)
        meter = self.sizes.meter
        await self.db.run(
            meter.set_size, store.id, 0, tenant_id=store.tenant_id, key_id=store.key_id
        )

    async def touch(self, store: StoreRow) -> None:
        """A search or a change keeps a store alive (its expiry counts from here)."""
        await self.db.run(self.catalog.update_store, store.id, {"last_active_at": now_s()})

    async def store_json(self, store: StoreRow) -> dict[str, Any]:
        counts = await self.db.run(self.catalog.file_counts, store.id)
        return store_json(store, counts, now_s())

    # -- files ------------------------------------------------------------------

    async def attach(
        self,
        store: StoreRow,
        files: list[Attachment],
        *,
        batch_id: str | None = None,
        queue: bool = True,
    ) -> list[FileRow]:
        """Record the files ``in_progress`` and queue them (unless the caller ingests them)."""
        rows = []
        for item in files:
            row = await self.db.run(
                self.catalog.add_file,
                store.id,
                item.file_id,
                filename=item.filename,
                chunking=item.strategy.to_openai(),
                attributes=item.attributes,
                batch_id=batch_id,
                now=now_s(),
            )
            rows.append(row)
            if queue:
                self.ingestor.submit(store.id, item.file_id)
        await self.touch(store)
        return rows

    async def file(self, store: StoreRow, file_id: str) -> FileRow:
        row = await self.db.run(self.catalog.get_file, store.id, file_id)
        if row is None:
            raise NotFound(
                f"No file found with id '{file_id}' in vector store '{store.id}'", param="file_id"
            )
        return row

    async def files(
        self,
        store_id: str,
        request: PageRequest,
        *,
        status: str | None = None,
        batch_id: str | None = None,
    ) -> Page:
        return await self.db.run(
            self.catalog.page_files, store_id, request, status=status, batch_id=batch_id
        )

    async def text(self, row: FileRow) -> str:
        """The file's extracted text: the stored one (parsed once, within the limits).

        A file that failed is not parsed again on every read: its error is the answer.
        """
        if row.status == "failed" and row.error_code is not None:
            stored = await self.db.run(self.catalog.get_text, row.file_id)
            if stored is None:
                raise InvalidFile(row.error_message or "the file could not be read")
            return stored
        try:
            return await self.ingestion.text_of(row.file_id, row.filename)
        except FileNotFoundError:
            raise NotFound(f"The content of file '{row.file_id}' is no longer stored") from None

    async def remove_file(self, store: StoreRow, file_id: str) -> None:
        await self.db.run(self.catalog.delete_file, store.id, file_id)
        await self.db.run(self.catalog.forget_texts, [file_id])
        await self.ingestion.forget(store.id, file_id)
        await self.sizes.refresh(store.id)

    async def set_attributes(
        self, store: StoreRow, row: FileRow, attributes: dict[str, AttributeValue]
    ) -> FileRow:
        await self.db.run(self.catalog.set_attributes, store.id, row.file_id, attributes)
        # A file still in progress picks the new attributes up from its row when indexed.
        updated = await self.file(store, row.file_id)
        if updated.status == "completed":
            await self.db.run(self.index.update_attributes, store.id, row.file_id, attributes)
        return updated

    # -- batches ----------------------------------------------------------------

    async def create_batch(self, store: StoreRow, files: list[Attachment]) -> BatchRow:
        batch = await self.db.run(self.catalog.create_batch, store.id, now=now_s())
        await self.attach(store, files, batch_id=batch.id)
        return batch

    async def batch(self, store: StoreRow, batch_id: str) -> BatchRow:
        batch = await self.db.run(self.catalog.get_batch, store.id, batch_id)
        if batch is None:
            raise NotFound(f"No file batch found with id '{batch_id}'", param="batch_id")
        return batch

    async def cancel_batch(self, store: StoreRow, batch: BatchRow) -> BatchRow:
        cancelled = await self.db.run(self.catalog.cancel_batch, batch.id)
        for file_id in cancelled:
            # A file a worker is indexing right now is freed again when it finishes.
            await self.ingestion.forget(batch.vector_store_id, file_id)
        return await self.batch(store, batch.id)

    async def batch_json(self, batch: BatchRow) -> dict[str, Any]:
        counts = await self.db.run(
            self.catalog.file_counts, batch.vector_store_id, batch_id=batch.id
        )
        return batch_json(batch, counts)

    # -- search -----------------------------------------------------------------

    async def _search_one(self, store: StoreRow, query: str, options: SearchOptions) -> list[Hit]:
        vector, languages = None, self.retrieval.languages
        if options.mode != "lexical":
            # The query is embedded by the model that made the store's vectors, or
            # not at all: a hybrid search then ranks lexically, a dense one is refused.
            try:
                chosen = embedder_for(self.retrieval.embedders, store.embedder, store.id)
            except EmbedderUnavailable:
                if options.mode == "dense":
                    raise
                chosen = None
            if chosen is not None:
                vector = (await chosen.embedder.embed_queries([query]))[0]
                languages = chosen.languages
        request = SearchRequest(
            text=query, vector=vector, options=options, dense_languages=languages
        )
        return await self.db.run(self.index.search, store.id, request)

    async def search(
        self, store: StoreRow, queries: list[str], options: SearchOptions
    ) -> list[tuple[Hit, str]]:
        """Ranked chunks with their files' names; several queries keep each chunk's best score."""
        best: dict[tuple[str, int], Hit] = {}
        for query in queries:
            for hit in await self._search_one(store, query, options):
                key = (hit.file_id, hit.chunk_id)
                if key not in best or best[key].score < hit.score:
                    best[key] = hit
        ranked = sorted(best.values(), key=lambda h: -h.score)[: options.max_num_results]
        await self.touch(store)
        if not ranked:
            return []
        names = await self.db.run(
            self.catalog.filenames, store.id, list({h.file_id for h in ranked})
        )
        # A file removed while the search ran has no name any more: it is skipped.
        return [(hit, names[hit.file_id]) for hit in ranked if hit.file_id in names]


# -- OpenAI's objects ---------------------------------------------------------------


def store_json(store: StoreRow, counts: dict[str, int], now: int) -> dict[str, Any]:
    if store.expired(now):
        status = "expired"
    elif counts["in_progress"]:
        status = "in_progress"
    else:
        status = "completed"
    expires_after = (
        None
        if store.expires_after_days is None
        else {"anchor": "last_active_at", "days": store.expires_after_days}
    )
    return {
        "id": store.id,
        "object": "vector_store",
        "created_at": store.created_at,
        "name": store.name,
        "usage_bytes": store.usage_bytes,
        "file_counts": counts,
        "status": status,
        "expires_after": expires_after,
        "expires_at": store.expires_at,
        "last_active_at": store.last_active_at,
        "metadata": store.metadata,
    }


def batch_json(batch: BatchRow, counts: dict[str, int]) -> dict[str, Any]:
    if batch.cancelled:
        status = "cancelled"
    elif counts["in_progress"]:
        status = "in_progress"
    elif counts["total"] and counts["failed"] == counts["total"]:
        status = "failed"
    else:
        status = "completed"
    return {
        "id": batch.id,
        "object": "vector_store.files_batch",
        "created_at": batch.created_at,
        "vector_store_id": batch.vector_store_id,
        "status": status,
        "file_counts": counts,
    }


def file_json(row: FileRow) -> dict[str, Any]:
    last_error = (
        None
        if row.error_code is None
        else {"code": row.error_code, "message": row.error_message or ""}
    )
    return {
        "id": row.file_id,
        "object": "vector_store.file",
        "usage_bytes": row.usage_bytes,
        "created_at": row.created_at,
        "vector_store_id": row.vector_store_id,
        "status": row.status,
        "last_error": last_error,
        "chunking_strategy": row.chunking,
        "attributes": row.attributes,
    }
