"""Stores record their embedder; re-embedding in the background switches vector sets at once.

The two embedders here are small deterministic functions (hashed bags of
words, 8 and 16 dimensions), so each test can hold a run half-way and watch
what searches see; the re-embedding, the index, the gate and the database
(SQLite and PostgreSQL) are the real ones. ``test_e5.py`` re-embeds with the
real bundled models.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from plinth.billing.storage import StorageMeter
from plinth.errors import Conflict, InvalidRequest
from plinth.files.storage import LocalFileStorage
from plinth.knowledge.chunking import AUTO, WindowedEmbedder, WordSpans
from plinth.knowledge.index import SearchOptions
from plinth.knowledge.limits import UploadLimits
from plinth.store.door import Database
from plinth.store.schema import kb_chunk_vectors_next, kb_chunks, kb_stores, vector_stores
from plinth.vectorstores.embedded_index import EmbeddedIndex
from plinth.vectorstores.embedders import Embedders, EmbedderUnavailable
from plinth.vectorstores.ingest import CpuWork, Retrieval
from plinth.vectorstores.service import Owner, VectorStores

pytestmark = pytest.mark.anyio


class HashedWords:
    """A bag of words hashed into ``dims`` buckets, salted per model; counts its calls."""

    def __init__(self, salt: str, dims: int):
        self.salt, self.dims = salt, dims
        self.texts: list[str] = []
        self.hold: asyncio.Event | None = None  # set: embedding waits for it

    async def __call__(self, texts: list[str]) -> list[list[float]]:
        if self.hold is not None:
            await self.hold.wait()
        self.texts += texts
        rows = []
        for text in texts:
            row = np.zeros(self.dims)
            for word in text.lower().split():
                digest = hashlib.sha256(f"{self.salt}:{word.strip('.,?')}".encode()).digest()
                row[digest[0] % self.dims] += 1.0
            rows.append(row.tolist())
        return rows


DOCS = {
    "f1": "Refunds are possible within thirty days of delivery.",
    "f2": "The warehouse ships parcels every Monday morning.",
    "f3": "Invoices are sent by email after each order.",
}


@pytest.fixture
async def setup(
    db: Engine, tmp_path: Path
) -> AsyncIterator[tuple[VectorStores, HashedWords, HashedWords]]:
    small, large = HashedWords("a", 8), HashedWords("b", 16)
    tokenizer = WordSpans()
    windowed = {
        "small": WindowedEmbedder(small, tokenizer),
        "large": WindowedEmbedder(large, tokenizer),
    }
    retrieval = Retrieval(
        EmbeddedIndex(db),
        tokenizer,
        windowed["small"],
        8,
        None,
        Embedders("small", windowed),
    )
    database = Database(db)
    files = LocalFileStorage(tmp_path / "files")
    stores = VectorStores(database, retrieval, StorageMeter(db), files, UploadLimits(), CpuWork())
    yield stores, small, large
    await stores.reembeds.close()
    stores.close()
    files.close()


async def add(stores: VectorStores, store_id: str, file_id: str, text: str) -> None:
    await stores.db.run(
        stores.catalog.add_file, store_id, file_id, filename=f"{file_id}.txt", chunking={},
        attributes={}, batch_id=None, now=0,
    )  # fmt: skip
    await stores.ingestion.index_text(store_id, file_id, text, AUTO, {})


async def dense_top(stores: VectorStores, store_id: str, query: str) -> str:
    store = await stores.visible(store_id, None)
    options = SearchOptions(max_num_results=1, mode="dense")
    ((hit, _),) = await stores.search(store, [query], options)
    return hit.file_id


def vector_sizes(engine: Engine, store_id: str) -> set[int]:
    with engine.connect() as conn:
        rows = conn.scalars(sa.select(kb_chunks.c.vector).where(kb_chunks.c.store_id == store_id))
        return {len(v) // 4 for v in rows}


async def test_a_store_records_its_embedder_and_queries_use_it(
    setup: tuple[VectorStores, HashedWords, HashedWords],
) -> None:
    stores, small, large = setup
    store = await stores.create(Owner(), "docs")
    assert store.embedder == "small"
    for file_id, text in DOCS.items():
        await add(stores, store.id, file_id, text)
    small.texts.clear()
    assert await dense_top(stores, store.id, "refunds within thirty days") == "f1"
    assert small.texts == ["refunds within thirty days"] and large.texts == []


async def test_reembedding_serves_the_old_vectors_until_the_new_set_is_complete(
    setup: tuple[VectorStores, HashedWords, HashedWords], db: Engine
) -> None:
    stores, small, large = setup
    store = await stores.create(Owner(), "docs")
    for file_id, text in DOCS.items():
        await add(stores, store.id, file_id, text)
    large.hold = asyncio.Event()
    run = await stores.reembeds.start(store, "large")
    assert (run.status, run.embedder, run.previous, run.total) == (
        "in_progress",
        "large",
        "small",
        3,
    )

    # Mid-run: searches still embed with "small" against the 8-dim vectors.
    small.texts.clear()
    assert await dense_top(stores, store.id, "warehouse ships parcels") == "f2"
    assert small.texts == ["warehouse ships parcels"]
    # A file attached mid-run is embedded with the store's current model ...
    await add(stores, store.id, "f4", "Gift cards never expire.")
    assert vector_sizes(db, store.id) == {8}

    large.hold.set()
    finished = await stores.reembeds.wait(store.id)
    assert finished is not None
    assert (finished.status, finished.done, finished.total) == ("completed", 4, 4)
    # ... and re-embedded before the switch: every chunk now has a 16-dim vector.
    assert vector_sizes(db, store.id) == {16}
    assert (await stores.visible(store.id, None)).embedder == "large"
    with db.connect() as conn:
        assert conn.scalar(sa.select(kb_stores.c.dims).where(kb_stores.c.id == store.id)) == 16
        assert conn.scalar(sa.select(sa.func.count()).select_from(kb_chunk_vectors_next)) == 0
    large.texts.clear()
    small.texts.clear()
    assert await dense_top(stores, store.id, "gift cards expire") == "f4"
    assert large.texts == ["gift cards expire"] and small.texts == []
    # New files now get the new model's vectors.
    await add(stores, store.id, "f5", "Returns need the original receipt.")
    assert vector_sizes(db, store.id) == {16}


async def test_starting_a_run_is_refused_when_it_cannot_be_done(
    setup: tuple[VectorStores, HashedWords, HashedWords],
) -> None:
    stores, _, large = setup
    store = await stores.create(Owner(), "docs")
    await add(stores, store.id, "f1", DOCS["f1"])
    with pytest.raises(EmbedderUnavailable):
        await stores.reembeds.start(store, "not-loaded")
    with pytest.raises(InvalidRequest, match="already embedded"):
        await stores.reembeds.start(store, "small")
    large.hold = asyncio.Event()
    await stores.reembeds.start(store, "large")
    with pytest.raises(Conflict, match="already being re-embedded"):
        await stores.reembeds.start(store, "large")
    large.hold.set()
    assert (await stores.reembeds.wait(store.id)).status == "completed"  # type: ignore[union-attr]


async def test_a_store_whose_model_is_not_loaded_is_never_searched_with_another(
    setup: tuple[VectorStores, HashedWords, HashedWords], db: Engine
) -> None:
    stores, small, large = setup
    store = await stores.create(Owner(), "docs")
    for file_id, text in DOCS.items():
        await add(stores, store.id, file_id, text)
    with db.begin() as conn:  # as if made by a model this server no longer loads
        conn.execute(
            vector_stores.update()
            .where(vector_stores.c.id == store.id)
            .values(embedder="gone-model")
        )
    small.texts.clear()
    with pytest.raises(EmbedderUnavailable, match="gone-model"):
        await dense_top(stores, store.id, "refunds")
    store = await stores.visible(store.id, None)
    hits = await stores.search(store, ["refunds thirty days"], SearchOptions(max_num_results=1))
    assert hits[0][0].file_id == "f1"  # hybrid: the lexical half alone
    assert small.texts == [] and large.texts == []
    with pytest.raises(EmbedderUnavailable):  # nor is a file embedded with another model
        await stores.ingestion.index_text(store.id, "f9", "Anything at all.", AUTO, {})
