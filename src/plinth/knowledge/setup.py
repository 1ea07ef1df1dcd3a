"""Builds the server's :class:`KnowledgeBase` from settings.

The backend is chosen by ``knowledge.backend``; chunks and queries are
embedded by the local engine named ``knowledge.embedding_model`` through
:class:`WindowedEmbedder`. When that engine is not loaded (e.g.
``load_bundled_models = false``), stores are lexical only and a warning
says so once, at start-up.
"""

from __future__ import annotations

import logging
import os

import sqlalchemy as sa

from plinth.catalog.bundled import BundledModelMissing
from plinth.engines.pool import EnginePool
from plinth.knowledge.chunking import TokenSpans, WordPieceSpans, WordSpans
from plinth.knowledge.embedded import EmbeddedIndex
from plinth.knowledge.embedding import WindowedEmbedder
from plinth.knowledge.index import KnowledgeIndex
from plinth.knowledge.service import KnowledgeBase
from plinth.settings import KnowledgeSettings

log = logging.getLogger(__name__)


def open_index(settings: KnowledgeSettings, db: sa.Engine) -> KnowledgeIndex:
    if settings.backend == "embedded":
        return EmbeddedIndex(db)
    from plinth.knowledge.milvus import MilvusIndex

    assert settings.milvus_uri is not None  # the settings validator demands it
    token = os.environ.get(settings.milvus_token_env, "") if settings.milvus_token_env else ""
    return MilvusIndex(settings.milvus_uri, token=token)


async def build_knowledge(
    settings: KnowledgeSettings, db: sa.Engine, pool: EnginePool
) -> KnowledgeBase:
    """Call after ``pool.start()``: the embedder is probed once for its dimensions."""
    index = open_index(settings, db)
    # Chunk sizes are counted in the bundled embedder's word pieces either way,
    # so `max_chunk_size_tokens` means the same with or without dense vectors.
    tokenizer: TokenSpans
    try:
        tokenizer = WordPieceSpans.bundled()
    except BundledModelMissing as exc:
        log.warning("%s; vector stores count chunk tokens as words", exc)
        tokenizer = WordSpans()
    if not pool.has(settings.embedding_model):
        log.warning(
            "embedding model %r is not loaded: vector stores search lexically only",
            settings.embedding_model,
        )
        return KnowledgeBase(index, tokenizer, None)
    if isinstance(tokenizer, WordSpans):
        # The embedder's windows are counted in its own word pieces; without
        # its tokenizer they cannot be, so it is not used.
        log.warning("no tokenizer for %r: vector stores search lexically", settings.embedding_model)
        return KnowledgeBase(index, tokenizer, None)
    engine = pool.get(settings.embedding_model)

    async def embed(texts: list[str]) -> list[list[float]]:
        return (await engine.embed(texts)).vectors

    dims = len((await embed(["dimension probe"]))[0])
    return KnowledgeBase(index, tokenizer, WindowedEmbedder(embed, tokenizer), dims)
