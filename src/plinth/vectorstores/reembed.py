"""Re-embedding a vector store with another model, in the background, while it serves.

A run walks the store's chunks in id order, embeds each chunk's text with the
target model and stages the vector in ``kb_chunk_vectors_next`` (keyed by
chunk id). Searches meanwhile keep using the old vectors and the old model
for queries. When every chunk of the store has a staged vector, one
transaction copies them over, bumps the index's version (so every process's
in-memory index reloads on its next search) and records the new model on the
store: a search sees the old set or the new one, never a mix.

Files ingested during a run are embedded with the store's current model and
get fresh chunk ids; the walk picks them up, and the switch only happens when
nothing is left unstaged, under :class:`~plinth.vectorstores.embedders.EmbedderGate`'s
exclusive hold (no ingestion of the store in flight in this process). A run
interrupted by a restart keeps its staged vectors: starting it again with the
same model continues where it stopped. Only the embedded backend is
supported (Milvus keeps vectors in its own collection).

Replicas: the gate is per process. Ingestion on another replica that embeds
with the old model and commits after the switch would leave that file's
chunks with old vectors; run re-embedding where the store takes no uploads
from other replicas, or re-attach such files afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from plinth.errors import Conflict, InvalidRequest
from plinth.knowledge.index import KnowledgeIndex
from plinth.store.door import Database
from plinth.store.schema import (
    kb_chunk_vectors_next,
    kb_chunks,
    kb_stores,
    vector_store_reembeds,
    vector_stores,
)
from plinth.vectorstores.catalog import StoreRow, now_s
from plinth.vectorstores.embedded_index import EmbeddedIndex
from plinth.vectorstores.embedders import EmbedderGate, Embedders, EmbedderUnavailable

log = logging.getLogger(__name__)
BATCH = 32  # chunks per embed call and per staging write


@dataclass(frozen=True)
class ReembedRow:
    vector_store_id: str
    embedder: str
    previous: str | None
    status: str  # in_progress | completed | failed
    total: int
    done: int
    error: str | None
    started_at: int
    finished_at: int | None
    current_model: str | None  # the model the store searches with now

    def json(self) -> dict[str, Any]:
        return {
            "object": "vector_store.reembed",
            "vector_store_id": self.vector_store_id,
            "model": self.embedder,
            "previous_model": self.previous,
            "status": self.status,
            "chunks": {"total": self.total, "done": self.done},
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


class _Unstaged(Exception):
    """A chunk arrived without a staged vector: the switch waits for another pass."""


class ReembedTables:
    """The run's database work (synchronous: called through the database door)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def get(self, store_id: str) -> ReembedRow | None:
        table = vector_store_reembeds
        # The store's model in the same read: a switch sets it and the run's status
        # in one transaction, so the two always agree.
        query = (
            sa.select(table, vector_stores.c.embedder.label("current_model"))
            .join(vector_stores, vector_stores.c.id == table.c.vector_store_id)
            .where(table.c.vector_store_id == store_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else ReembedRow(**row._mapping)

    def begin(self, store_id: str, model: str, previous: str | None, *, resume: bool) -> None:
        table = vector_store_reembeds
        with self.engine.begin() as conn:
            if not resume:  # a fresh run: nothing staged for another model may survive
                conn.execute(
                    kb_chunk_vectors_next.delete().where(
                        kb_chunk_vectors_next.c.store_id == store_id
                    )
                )
            conn.execute(table.delete().where(table.c.vector_store_id == store_id))
            conn.execute(
                table.insert().values(
                    vector_store_id=store_id,
                    embedder=model,
                    previous=previous,
                    status="in_progress",
                    total=0,
                    done=0,
                    started_at=now_s(),
                )
            )
            self._count(conn, store_id)

    @staticmethod
    def _unstaged(store_id: str) -> sa.ColumnElement[bool]:
        staged = sa.select(kb_chunk_vectors_next.c.chunk_id).where(
            kb_chunk_vectors_next.c.chunk_id == kb_chunks.c.id
        )
        return (kb_chunks.c.store_id == store_id) & ~sa.exists(staged)

    def pending(self, store_id: str, limit: int) -> list[tuple[int, str]]:
        """Chunks of the store without a staged vector, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(kb_chunks.c.id, kb_chunks.c.text)
                .where(self._unstaged(store_id))
                .order_by(kb_chunks.c.id)
                .limit(limit)
            ).all()
        return [(int(chunk_id), text) for chunk_id, text in rows]

    def stage(self, store_id: str, ids: list[int], vectors: np.ndarray[Any, Any]) -> None:
        rows = [
            {"chunk_id": chunk_id, "store_id": store_id, "vector": vector.tobytes()}
            for chunk_id, vector in zip(ids, vectors.astype(np.float32), strict=True)
        ]
        with self.engine.begin() as conn:
            # A chunk deleted since it was read: its staged row would be an orphan.
            live = set(conn.scalars(sa.select(kb_chunks.c.id).where(kb_chunks.c.id.in_(ids))).all())
            rows = [row for row in rows if row["chunk_id"] in live]
            if rows:
                conn.execute(kb_chunk_vectors_next.insert(), rows)
            self._count(conn, store_id)

    def _count(self, conn: sa.Connection, store_id: str) -> None:
        total = conn.scalar(
            sa.select(sa.func.count())
            .select_from(kb_chunks)
            .where(kb_chunks.c.store_id == store_id)
        )
        missing = conn.scalar(
            sa.select(sa.func.count()).select_from(kb_chunks).where(self._unstaged(store_id))
        )
        conn.execute(
            vector_store_reembeds.update()
            .where(vector_store_reembeds.c.vector_store_id == store_id)
            .values(total=int(total or 0), done=int(total or 0) - int(missing or 0))
        )

    def switch(self, store_id: str, model: str, dims: int) -> bool:
        """Swap the staged vectors in, in one transaction; False if any chunk lacks one."""
        try:
            self._switch(store_id, model, dims)
        except _Unstaged:
            return False
        return True

    def _switch(self, store_id: str, model: str, dims: int) -> None:
        with self.engine.begin() as conn:
            # Taking the index row first serialises with every upsert (they bump it too).
            conn.execute(
                kb_stores.update()
                .where(kb_stores.c.id == store_id)
                .values(version=kb_stores.c.version + 1)
            )
            missing = conn.scalar(
                sa.select(sa.func.count()).select_from(kb_chunks).where(self._unstaged(store_id))
            )
            if missing:
                raise _Unstaged  # rolls the version bump back
            self._count(conn, store_id)  # every chunk staged: done = total
            staged = (
                sa.select(kb_chunk_vectors_next.c.vector)
                .where(kb_chunk_vectors_next.c.chunk_id == kb_chunks.c.id)
                .scalar_subquery()
            )
            conn.execute(
                kb_chunks.update().where(kb_chunks.c.store_id == store_id).values(vector=staged)
            )
            conn.execute(
                kb_chunk_vectors_next.delete().where(kb_chunk_vectors_next.c.store_id == store_id)
            )
            conn.execute(kb_stores.update().where(kb_stores.c.id == store_id).values(dims=dims))
            conn.execute(
                vector_stores.update().where(vector_stores.c.id == store_id).values(embedder=model)
            )
            self._finish(conn, store_id, "completed", None)

    def fail(self, store_id: str, error: str) -> None:
        with self.engine.begin() as conn:
            self._finish(conn, store_id, "failed", error[:1000])

    @staticmethod
    def _finish(conn: sa.Connection, store_id: str, status: str, error: str | None) -> None:
        conn.execute(
            vector_store_reembeds.update()
            .where(vector_store_reembeds.c.vector_store_id == store_id)
            .values(status=status, error=error, finished_at=now_s())
        )


class Reembedder:
    """Starts, runs and reports re-embedding runs; one per store at a time."""

    def __init__(
        self, db: Database, index: KnowledgeIndex, embedders: Embedders, gate: EmbedderGate
    ):
        self.db, self.index, self.embedders, self.gate = db, index, embedders, gate
        self.tables = ReembedTables(db.engine)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def status(self, store_id: str) -> ReembedRow | None:
        return await self.db.run(self.tables.get, store_id)

    async def start(self, store: StoreRow, model: str) -> ReembedRow:
        if not isinstance(self.index, EmbeddedIndex):
            raise InvalidRequest(
                "Re-embedding needs the embedded backend (knowledge.backend = 'embedded')",
                code="unsupported_backend",
            )
        if self.embedders.get(model) is None:
            raise EmbedderUnavailable(f"Embedding model '{model}' is not loaded", param="model")
        current = store.embedder or self.embedders.default
        if model == current:
            raise InvalidRequest(
                f"Vector store '{store.id}' is already embedded with '{model}'", param="model"
            )
        running = self._tasks.get(store.id)
        if running is not None and not running.done():
            raise Conflict(f"Vector store '{store.id}' is already being re-embedded")
        earlier = await self.status(store.id)
        # The same model after a restart: keep what was staged and go on from there.
        resume = (
            earlier is not None and earlier.status == "in_progress" and earlier.embedder == model
        )
        await self.db.run(self.tables.begin, store.id, model, current, resume=resume)
        self._tasks[store.id] = asyncio.create_task(self._run(store.id, model))
        found = await self.status(store.id)
        assert found is not None
        return found

    async def wait(self, store_id: str) -> ReembedRow | None:
        """Until the store's run in this process ends (tests, the CLI)."""
        task = self._tasks.get(store_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        return await self.status(store_id)

    async def _run(self, store_id: str, model: str) -> None:
        try:
            await self._walk(store_id, model)
        except asyncio.CancelledError:
            raise  # shutdown: the staged vectors stay, the run resumes when started again
        except Exception as exc:
            log.exception("re-embedding %s with %s failed", store_id, model)
            await self.db.run(self.tables.fail, store_id, f"{type(exc).__name__}: {exc}")

    async def _walk(self, store_id: str, model: str) -> None:
        target = self.embedders.get(model)
        if target is None:
            raise EmbedderUnavailable(f"Embedding model '{model}' is no longer loaded")
        dims = int((await target.embedder.embed(["dimension probe"])).shape[1])
        while True:
            batch = await self.db.run(self.tables.pending, store_id, BATCH)
            if batch:
                vectors = await target.embedder.embed([text for _, text in batch])
                await self.db.run(self.tables.stage, store_id, [i for i, _ in batch], vectors)
                continue
            async with self.gate.switching(store_id):
                if await self.db.run(self.tables.switch, store_id, model, dims):
                    log.info("vector store %s now searches with %s", store_id, model)
                    return
            # A file landed between the last batch and the switch: embed it too.

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
