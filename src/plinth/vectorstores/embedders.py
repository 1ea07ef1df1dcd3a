"""Which embedder serves a store: the one that made its vectors, never another.

Each vector store records the embedding model that made its vectors
(``vector_stores.embedder``, migration 31). A query is embedded with that same
model, since vectors of two models do not compare; if it is not loaded, a
hybrid search falls back to the lexical half and a dense-only search is
refused. Stores made before the record existed (``None``) were made by the
configured ``knowledge.embedding_model``, and are read as such.

:class:`EmbedderGate` keeps ingestion and a re-embedding's final switch
apart: a file is embedded and indexed under a shared hold on its store, and
the switch to the new vectors takes the store exclusively, so no file can be
embedded with the old model and land after the switch (in this process;
see ``reembed.py`` for replicas).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from plinth.catalog.bundled import embedder_languages
from plinth.errors import Conflict
from plinth.knowledge.chunking import WindowedEmbedder
from plinth.store.schema import vector_stores


class EmbedderUnavailable(Conflict):
    default_code = "embedder_unavailable"


@dataclass(frozen=True)
class StoreEmbedder:
    model: str
    embedder: WindowedEmbedder
    languages: frozenset[str] | None


@dataclass(frozen=True)
class Embedders:
    """Every loaded embedding model, windowed, and the default one for new stores."""

    default: str | None = None
    by_model: Mapping[str, WindowedEmbedder] = field(default_factory=dict)
    _stores: dict[str, StoreEmbedder] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Once, at start-up: the catalog's languages of a model do not change while
        # the server runs, so no search or ingestion asks the catalog again.
        stores = {m: StoreEmbedder(m, e, embedder_languages(m)) for m, e in self.by_model.items()}
        object.__setattr__(self, "_stores", stores)

    def get(self, model: str) -> StoreEmbedder | None:
        return self._stores.get(model)

    def for_store(self, recorded: str | None) -> StoreEmbedder | None:
        """The embedder of a store's vectors, or None where that model is not loaded."""
        model = recorded if recorded is not None else self.default
        return None if model is None else self.get(model)

    def require(self, recorded: str | None, store_id: str) -> StoreEmbedder:
        found = self.for_store(recorded)
        if found is None:
            raise EmbedderUnavailable(
                f"Vector store '{store_id}' was embedded with '{recorded or self.default}', "
                "which this server does not load; load it, or re-embed the store with a "
                "loaded model"
            )
        return found


def embedder_for(
    embedders: Embedders | None, recorded: str | None, store_id: str
) -> StoreEmbedder | None:
    """The embedder of a store's vectors; None where it has none (lexical stores).

    ``embedders`` None: this server loads no embedder, every store is lexical.
    Raises ``EmbedderUnavailable`` where the store's model is not loaded.
    """
    if embedders is None or (recorded is None and embedders.default is None):
        return None
    return embedders.require(recorded, store_id)


class EmbedderGate:
    """Per store: many ingestions at once, or one switch of vector sets, not both."""

    def __init__(self) -> None:
        self._busy: dict[str, int] = {}
        self._switching: set[str] = set()
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def ingesting(self, store_id: str) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: store_id not in self._switching)
            self._busy[store_id] = self._busy.get(store_id, 0) + 1
        try:
            yield
        finally:
            async with self._changed:
                self._busy[store_id] -= 1
                if not self._busy[store_id]:
                    del self._busy[store_id]
                self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def switching(self, store_id: str) -> AsyncIterator[None]:
        async with self._changed:
            # New ingestions wait from here on; running ones finish first.
            await self._changed.wait_for(lambda: store_id not in self._switching)
            self._switching.add(store_id)
            await self._changed.wait_for(lambda: not self._busy.get(store_id))
        try:
            yield
        finally:
            async with self._changed:
                self._switching.discard(store_id)
                self._changed.notify_all()


def record_embedder(engine: sa.Engine, store_id: str, model: str | None) -> None:
    """Note on the store which model makes its vectors (blocking: via the database door)."""
    with engine.begin() as conn:
        conn.execute(
            vector_stores.update().where(vector_stores.c.id == store_id).values(embedder=model)
        )
