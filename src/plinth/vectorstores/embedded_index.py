"""The default backend: chunks in Plinth's own database, searched in memory.

Chunks (text, BM25 terms, float32 vector bytes) live in ``kb_chunks`` on the
same SQLAlchemy engine as everything else (SQLite or PostgreSQL): no extra
server. Each store's search state (:class:`StoreMemory`) is built lazily on
its first search and then kept in step with this process's own upserts and
deletes. Every change also bumps ``kb_stores.version`` in its transaction;
a search first reads that version (one indexed row) and rebuilds if another
process changed the store, so replicas on one PostgreSQL stay correct.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import sqlalchemy as sa

from plinth.errors import VectorStoreNotFound
from plinth.knowledge.filters import AttributeValue
from plinth.knowledge.index import ChunkRecord, FileInfo, Hit, SearchRequest
from plinth.knowledge.memory import RowChunk, StoreMemory
from plinth.store.schema import kb_chunks, kb_files, kb_stores

_Change = Callable[[StoreMemory], None]


class EmbeddedIndex:
    def __init__(self, engine: sa.Engine, *, k1: float = 0.9, b: float = 0.4):
        self._engine = engine
        self.k1, self.b = k1, b
        self._memories: dict[str, StoreMemory] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, store_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(store_id, threading.RLock())

    # -- stores ---------------------------------------------------------------

    def create_store(self, store_id: str, dims: int | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                kb_stores.insert().values(
                    id=store_id, dims=dims, version=0, created_at=int(time.time())
                )
            )

    def delete_store(self, store_id: str) -> bool:
        with self._engine.begin() as conn:
            conn.execute(kb_chunks.delete().where(kb_chunks.c.store_id == store_id))
            conn.execute(kb_files.delete().where(kb_files.c.store_id == store_id))
            gone = conn.execute(kb_stores.delete().where(kb_stores.c.id == store_id)).rowcount
        with self._lock(store_id):
            self._memories.pop(store_id, None)
        return bool(gone)

    def _bump(self, conn: sa.Connection, store_id: str) -> int:
        """Increment the store's version inside the caller's transaction; return it."""
        bumped = conn.execute(
            kb_stores.update()
            .where(kb_stores.c.id == store_id)
            .values(version=kb_stores.c.version + 1)
        ).rowcount
        if not bumped:
            raise VectorStoreNotFound(f"No vector store found with id '{store_id}'")
        return int(
            conn.scalar(sa.select(kb_stores.c.version).where(kb_stores.c.id == store_id)) or 0
        )

    def _apply(self, store_id: str, version: int, change: _Change) -> None:
        """Bring this process's memory to ``version``: apply the change, or drop it to reload."""
        with self._lock(store_id):
            memory = self._memories.get(store_id)
            if memory is None or memory.version == version:
                return
            if memory.version != version - 1:
                del self._memories[store_id]  # another writer got in between
                return
            change(memory)
            memory.version = version
            if memory.needs_rebuild():
                del self._memories[store_id]

    # -- files ----------------------------------------------------------------

    def upsert_file(
        self,
        store_id: str,
        file_id: str,
        chunks: Sequence[ChunkRecord],
        attributes: dict[str, AttributeValue],
    ) -> None:
        rows = [
            {
                "store_id": store_id,
                "file_id": file_id,
                "seq": seq,
                "text": chunk.text,
                "terms": " ".join(chunk.terms),
                "tokens": chunk.tokens,
                "vector": None
                if chunk.vector is None
                else np.asarray(chunk.vector, dtype=np.float32).tobytes(),
            }
            for seq, chunk in enumerate(chunks)
        ]
        with self._engine.begin() as conn:
            version = self._bump(conn, store_id)
            self._delete_rows(conn, store_id, file_id)
            conn.execute(
                kb_files.insert().values(
                    store_id=store_id,
                    file_id=file_id,
                    attributes=json.dumps(attributes),
                    chunks=len(chunks),
                    tokens=sum(c.tokens for c in chunks),
                    created_at=int(time.time()),
                )
            )
            ids: list[int] = []
            if rows:
                inserted = conn.execute(
                    kb_chunks.insert().returning(kb_chunks.c.id, sort_by_parameter_order=True),
                    rows,
                )
                ids = [int(row[0]) for row in inserted]
        memory_rows = [RowChunk(i, c.terms, c.vector) for i, c in zip(ids, chunks, strict=True)]
        self._apply(store_id, version, lambda m: m.add_file(file_id, attributes, memory_rows))

    @staticmethod
    def _delete_rows(conn: sa.Connection, store_id: str, file_id: str) -> int:
        where = (kb_chunks.c.store_id == store_id) & (kb_chunks.c.file_id == file_id)
        conn.execute(kb_chunks.delete().where(where))
        file_where = (kb_files.c.store_id == store_id) & (kb_files.c.file_id == file_id)
        return int(conn.execute(kb_files.delete().where(file_where)).rowcount)

    def delete_file(self, store_id: str, file_id: str) -> bool:
        with self._engine.begin() as conn:
            version = self._bump(conn, store_id)
            removed = self._delete_rows(conn, store_id, file_id)
        self._apply(store_id, version, lambda m: m.remove_file(file_id))
        return bool(removed)

    def update_attributes(
        self, store_id: str, file_id: str, attributes: dict[str, AttributeValue]
    ) -> bool:
        where = (kb_files.c.store_id == store_id) & (kb_files.c.file_id == file_id)
        with self._engine.begin() as conn:
            version = self._bump(conn, store_id)
            updated = conn.execute(
                kb_files.update().where(where).values(attributes=json.dumps(attributes))
            ).rowcount
        self._apply(store_id, version, lambda m: m.set_attributes(file_id, attributes))
        return bool(updated)

    def get_file(self, store_id: str, file_id: str) -> FileInfo | None:
        where = (kb_files.c.store_id == store_id) & (kb_files.c.file_id == file_id)
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(kb_files).where(where)).mappings().first()
        if row is None:
            return None
        return FileInfo(file_id, row["chunks"], row["tokens"], json.loads(row["attributes"]))

    # -- search ---------------------------------------------------------------

    def _memory(self, store_id: str) -> StoreMemory:
        """The store's memory at the database's current version (built if missing or stale)."""
        with self._engine.connect() as conn:
            version = conn.scalar(sa.select(kb_stores.c.version).where(kb_stores.c.id == store_id))
        if version is None:
            raise VectorStoreNotFound(f"No vector store found with id '{store_id}'")
        memory = self._memories.get(store_id)
        if memory is not None and memory.version == version:
            return memory
        memory = self._load(store_id)
        self._memories[store_id] = memory
        return memory

    def _load(self, store_id: str) -> StoreMemory:
        with self._engine.connect() as conn, conn.begin():  # one snapshot for all three reads
            store = conn.execute(sa.select(kb_stores).where(kb_stores.c.id == store_id)).first()
            if store is None:
                raise VectorStoreNotFound(f"No vector store found with id '{store_id}'")
            memory = StoreMemory(int(store.version), store.dims, self.k1, self.b)
            files = conn.execute(
                sa.select(kb_files.c.file_id, kb_files.c.attributes).where(
                    kb_files.c.store_id == store_id
                )
            ).all()
            chunks = conn.execute(
                sa.select(
                    kb_chunks.c.id, kb_chunks.c.file_id, kb_chunks.c.terms, kb_chunks.c.vector
                )
                .where(kb_chunks.c.store_id == store_id)
                .order_by(kb_chunks.c.file_id, kb_chunks.c.id)
            ).all()
        by_file: dict[str, list[RowChunk]] = {}
        for chunk_id, file_id, terms, vector in chunks:
            vec = None if vector is None else np.frombuffer(vector, dtype=np.float32)
            by_file.setdefault(file_id, []).append(RowChunk(chunk_id, terms.split(), vec))
        for file_id, attributes in files:
            memory.add_file(file_id, json.loads(attributes), by_file.get(file_id, []))
        return memory

    def close(self) -> None:
        """Nothing of its own to release: the database belongs to the app."""

    def search(self, store_id: str, request: SearchRequest) -> list[Hit]:
        with self._lock(store_id):
            memory = self._memory(store_id)
            ranked = memory.search(request)
            chunk_ids = memory.chunk_ids[ranked.keys].tolist()
            scores = ranked.scores.tolist()
        if not chunk_ids:
            return []
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    kb_chunks.c.id, kb_chunks.c.file_id, kb_chunks.c.seq, kb_chunks.c.text
                ).where(kb_chunks.c.id.in_(chunk_ids))
            ).all()
            file_ids = {row.file_id for row in rows}
            attrs = dict(
                conn.execute(
                    sa.select(kb_files.c.file_id, kb_files.c.attributes).where(
                        (kb_files.c.store_id == store_id) & kb_files.c.file_id.in_(file_ids)
                    )
                ).all()
            )
        by_id = {row.id: row for row in rows}
        return [
            Hit(
                row.file_id,
                row.id,
                row.seq,
                row.text,
                score,
                json.loads(attrs.get(row.file_id, "{}")),
            )
            for chunk_id, score in zip(chunk_ids, scores, strict=True)
            if (row := by_id.get(chunk_id)) is not None
        ]
