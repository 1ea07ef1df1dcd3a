"""Vector stores as the API and the CLI use them: rows, index and ingestion kept in step.

:class:`VectorStores` is the one place that changes a store: creating one
makes its index, attaching a file records it and queues it for ingestion,
removing a file or a store frees its index entries and reports the new size
to the storage meter. Rendering into OpenAI's JSON shapes is here too, so
the HTTP layer and ``plinth kb`` show the same objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plinth.billing.storage import StorageMeter
from plinth.knowledge.chunking import ChunkingStrategy
from plinth.knowledge.fusion import FusionMethod
from plinth.knowledge.index import Hit, SearchMode, StoreNotFound
from plinth.knowledge.ingest import Ingestor
from plinth.knowledge.service import KnowledgeBase
from plinth.store.vector_stores import BatchRow, FileRow, StoreRow, VectorStoreCatalog

# How soon the SDK's poll helpers should ask again about an in-progress file.
POLL_AFTER_MS = 200


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
    attributes: dict[str, Any]


@dataclass(frozen=True)
class SearchOptions:
    max_num_results: int = 10
    mode: SearchMode = "hybrid"
    fusion: FusionMethod = "weighted"  # see RankingOptions in api/vector_stores.py
    lexical_weight: float = 1.0
    dense_weight: float = 1.0
    filters: Mapping[str, object] | None = None
    score_threshold: float = 0.0


def now_s() -> int:
    return int(time.time())


class VectorStores:
    def __init__(
        self,
        catalog: VectorStoreCatalog,
        knowledge: KnowledgeBase,
        meter: StorageMeter,
        file_path: Callable[[str], Path],
        *,
        workers: int = 2,
    ):
        self.catalog = catalog
        self.knowledge = knowledge
        self.meter = meter
        self.ingestor = Ingestor(catalog, knowledge, file_path, self._meter_usage, workers=workers)

    def _meter_usage(self, store_id: str, size_bytes: int) -> None:
        store = self.catalog.get_store(store_id, key_id=None)
        if store is not None:
            self.meter.set_size(
                store_id, size_bytes, tenant_id=store.tenant_id, key_id=store.key_id
            )

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
        store = await asyncio.to_thread(
            self.catalog.create_store,
            key_id=owner.key_id,
            tenant_id=owner.tenant_id,
            name=name,
            metadata=dict(metadata or {}),
            expires_after_days=expires_after_days,
            chunking=chunking,
            now=now_s(),
        )
        await self.knowledge.create_store(store.id)
        return store

    async def delete(self, store: StoreRow) -> None:
        await asyncio.to_thread(self.catalog.delete_store, store.id)
        await self.knowledge.delete_store(store.id)
        await asyncio.to_thread(
            self.meter.set_size, store.id, 0, tenant_id=store.tenant_id, key_id=store.key_id
        )

    async def touch(self, store: StoreRow) -> None:
        """A search or a change keeps a store alive (its expiry counts from here)."""
        await asyncio.to_thread(self.catalog.update_store, store.id, {"last_active_at": now_s()})

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
            row = await asyncio.to_thread(
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

    async def remove_file(self, store: StoreRow, file_id: str) -> None:
        await asyncio.to_thread(self.catalog.delete_file, store.id, file_id)
        with contextlib.suppress(StoreNotFound):
            await self.knowledge.delete_file(store.id, file_id)
        await self.ingestor.report(store.id)

    async def set_attributes(
        self, store: StoreRow, row: FileRow, attributes: dict[str, Any]
    ) -> FileRow:
        await asyncio.to_thread(self.catalog.set_attributes, store.id, row.file_id, attributes)
        # A file still in progress picks the new attributes up from its row when indexed.
        updated = await asyncio.to_thread(self.catalog.get_file, store.id, row.file_id)
        assert updated is not None
        if updated.status == "completed":
            await self.knowledge.update_attributes(store.id, row.file_id, attributes)
        return updated

    async def cancel_batch(self, batch: BatchRow) -> None:
        cancelled = await asyncio.to_thread(self.catalog.cancel_batch, batch.id)
        for file_id in cancelled:
            # A file a worker is indexing right now is freed again when it finishes.
            with contextlib.suppress(StoreNotFound):
                await self.knowledge.delete_file(batch.vector_store_id, file_id)

    # -- search -----------------------------------------------------------------

    async def search(
        self, store: StoreRow, queries: list[str], options: SearchOptions
    ) -> list[tuple[Hit, str]]:
        """Ranked chunks with their files' names; several queries keep each chunk's best score.

        Raises ``FilterError`` for a malformed filter.
        """
        best: dict[tuple[str, int], Hit] = {}
        for query in queries:
            hits = await self.knowledge.search(
                store.id,
                query,
                max_num_results=options.max_num_results,
                mode=options.mode,
                fusion=options.fusion,
                lexical_weight=options.lexical_weight,
                dense_weight=options.dense_weight,
                filters=options.filters,
                score_threshold=options.score_threshold,
            )
            for hit in hits:
                key = (hit.file_id, hit.chunk_id)
                if key not in best or best[key].score < hit.score:
                    best[key] = hit
        ranked = sorted(best.values(), key=lambda h: -h.score)[: options.max_num_results]
        await self.touch(store)
        names: dict[str, str | None] = {}
        results = []
        for hit in ranked:
            if hit.file_id not in names:
                row = await asyncio.to_thread(self.catalog.get_file, store.id, hit.file_id)
                names[hit.file_id] = None if row is None else row.filename
            name = names[hit.file_id]
            if name is not None:  # skip a file removed while the search ran
                results.append((hit, name))
        return results

    # -- OpenAI's JSON shapes ---------------------------------------------------

    async def store_json(self, store: StoreRow) -> dict[str, Any]:
        counts = await asyncio.to_thread(self.catalog.file_counts, store.id)
        if store.expired(now_s()):
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

    async def batch_json(self, batch: BatchRow) -> dict[str, Any]:
        counts = await asyncio.to_thread(
            self.catalog.file_counts, batch.vector_store_id, batch_id=batch.id
        )
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
