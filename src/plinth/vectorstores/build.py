"""The one builder of :class:`VectorStores`, used by the server and by ``plinth kb`` alike.

The backend is chosen by ``knowledge.backend``; chunks and queries are
embedded by the engine named ``knowledge.embedding_model`` in the pool it is
given (the server's pool; the CLI's holds just that engine). When that
engine is not loaded, or the bundled embedder's tokenizer package is missing,
stores are lexical only and a warning says so, once, at start-up: the same
degraded mode in both, because both come through here.
"""

from __future__ import annotations

import logging
import os

from plinth.billing.storage import StorageMeter
from plinth.catalog.bundled import bundled_model, embedder_languages
from plinth.engines.base import Engine
from plinth.engines.pool import EnginePool
from plinth.errors import BundledModelMissing
from plinth.files.storage import FileStorage
from plinth.knowledge.chunking import TokenSpans, WindowedEmbedder, WordPieceSpans, WordSpans
from plinth.knowledge.index import KnowledgeIndex
from plinth.knowledge.limits import UploadLimits
from plinth.settings import KnowledgeSettings, Settings
from plinth.store.door import Database
from plinth.store.models import ModelStore
from plinth.vectorstores.embedded_index import EmbeddedIndex
from plinth.vectorstores.embedders import Embedders
from plinth.vectorstores.ingest import CpuWork, Retrieval
from plinth.vectorstores.service import VectorStores

log = logging.getLogger(__name__)


def open_index(settings: KnowledgeSettings, database: Database) -> KnowledgeIndex:
    if settings.backend == "embedded":
        return EmbeddedIndex(database.engine)
    from plinth.knowledge.milvus import MilvusIndex

    assert settings.milvus_uri is not None  # the settings validator demands it
    token = os.environ.get(settings.milvus_token_env, "") if settings.milvus_token_env else ""
    return MilvusIndex(settings.milvus_uri, token=token)


def chunk_tokenizer() -> TokenSpans:
    """The bundled embedder's word pieces, or words where its package is missing.

    Chunk sizes are counted in the embedder's word pieces either way, so
    ``max_chunk_size_tokens`` means the same with or without dense vectors.
    """
    try:
        return WordPieceSpans.bundled()
    except BundledModelMissing as exc:
        log.warning("%s; vector stores count chunk tokens as words", exc)
        return WordSpans()


async def _embedder(
    settings: KnowledgeSettings, pool: EnginePool, tokenizer: TokenSpans
) -> tuple[WindowedEmbedder | None, int | None]:
    """The windowed embedder over the pool's engine and its dimensions, or (None, None)."""
    if not pool.has(settings.embedding_model):
        log.warning(
            "embedding model %r is not loaded: vector stores search lexically only",
            settings.embedding_model,
        )
        return None, None
    if isinstance(tokenizer, WordSpans):
        # The embedder's windows are counted in its own word pieces; without
        # its tokenizer they cannot be, so it is not used.
        log.warning("no tokenizer for %r: vector stores search lexically", settings.embedding_model)
        return None, None
    # The engine's own embed, no adapter in between: its result has ``vectors``.
    embedder = windowed(settings.embedding_model, pool, tokenizer)
    # An engine that knows its width from its config (the numpy embedder) is not
    # asked: a probe would load it at start-up, before anything needs it.
    dims = getattr(pool.get(settings.embedding_model), "dims", None)
    if not isinstance(dims, int):
        dims = int((await embedder.embed(["dimension probe"])).shape[1])
    return embedder, dims


def windowed(model_id: str, pool: EnginePool, tokenizer: TokenSpans) -> WindowedEmbedder:
    """The pool's engine for ``model_id``, windowed, with its catalog prefixes (e5's)."""
    catalog = bundled_model(model_id)
    return WindowedEmbedder(
        pool.get(model_id).embed,
        tokenizer,
        query_prefix=catalog.query_prefix if catalog else "",
        passage_prefix=catalog.passage_prefix if catalog else "",
    )


async def build_vector_stores(
    settings: Settings,
    database: Database,
    pool: EnginePool,
    files: FileStorage,
    meter: StorageMeter,
    *,
    # Three files in flight: while two embed (one text per embedder copy), the
    # third is parsed, chunked or indexed, so the copies never wait for work
    # (spare_core_embedder; with two, each copy sat idle 1.5-3 % of the time).
    workers: int = 3,
    embedding: bool = True,
) -> VectorStores:
    """Call after ``pool.start()``: the embedder is probed once for its dimensions.

    ``embedding=False`` is for work that never embeds (``plinth kb list``/``rm``):
    no embedder is looked for, so none is missed. The caller closes the result
    (``stores.close()``) after its engines' users stop.
    """
    cpu = CpuWork()
    tokenizer = chunk_tokenizer()
    embedder, dims = None, None
    if embedding:
        embedder, dims = await _embedder(settings.knowledge, pool, tokenizer)
    languages = embedder_languages(settings.knowledge.embedding_model)
    index = open_index(settings.knowledge, database)
    embedders = None
    if embedder is not None:
        # Every loaded embedder: a store keeps the model that made its vectors,
        # and can be re-embedded with any of these (reembed.py).
        others = {
            engine.model_id: windowed(engine.model_id, pool, tokenizer)
            for engine in pool.all()
            if engine.kind == "embedding" and engine.model_id != settings.knowledge.embedding_model
        }
        by_model = {settings.knowledge.embedding_model: embedder, **others}
        embedders = Embedders(settings.knowledge.embedding_model, by_model)
    retrieval = Retrieval(index, tokenizer, embedder, dims, languages, embedders)
    limits = UploadLimits(**settings.uploads.model_dump())
    return VectorStores(database, retrieval, meter, files, limits, cpu, workers=workers)


def embedding_engines(settings: Settings, database: Database) -> list[Engine]:
    """For ``plinth kb``: the embedding engines, built as the server builds them.

    All of them, not just ``knowledge.embedding_model``: a store is searched
    with the model that made its vectors, and re-embedded with another.
    """
    from plinth.bootstrap import build_engines

    return [
        engine
        for engine in build_engines(settings, ModelStore(database.engine))
        if engine.kind == "embedding"
    ]
