"""The knowledge base as a library: text in, ranked chunks out.

chunk (embedder tokens) → analyse (BM25 terms) → embed (windowed) →
``KnowledgeIndex.upsert_file``; and for a query: analyse + embed → search.
Nothing here knows about settings, billing, the database or engines: the
caller injects the index, the tokenizer, the embedder (a plain async
callable) and the two places blocking work runs — ``run_io`` for the index
(the database door in the server) and ``run_cpu`` for chunking and term
analysis. Without an embedder the store is lexical only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import ParamSpec, Protocol, TypeVar

from plinth.knowledge.chunking import AUTO, Chunk, ChunkingStrategy, TokenSpans, chunk_text
from plinth.knowledge.embedding import WindowedEmbedder
from plinth.knowledge.filters import validate_attributes
from plinth.knowledge.index import (
    ChunkRecord,
    FileInfo,
    Hit,
    KnowledgeIndex,
    SearchOptions,
    SearchRequest,
)
from plinth.knowledge.segment import analyze

P = ParamSpec("P")
T = TypeVar("T")


class Blocking(Protocol):
    """Runs a blocking ``fn(*args, **kwargs)`` off the event loop (``Database.run``, a pool)."""

    def __call__(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[T]: ...


def _chunk_and_analyze(
    text: str, strategy: ChunkingStrategy, tokenizer: TokenSpans
) -> tuple[list[Chunk], list[list[str]]]:
    chunks = chunk_text(text, strategy, tokenizer)
    return chunks, [analyze(c.text) for c in chunks]


class KnowledgeBase:
    def __init__(
        self,
        index: KnowledgeIndex,
        tokenizer: TokenSpans,
        embedder: WindowedEmbedder | None = None,
        dims: int | None = 384,
        *,
        run_io: Blocking,
        run_cpu: Blocking,
    ):
        self.index = index
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.dims = dims if embedder is not None else None
        self._io = run_io
        self._cpu = run_cpu

    async def create_store(self, store_id: str) -> None:
        await self._io(self.index.create_store, store_id, self.dims)

    async def delete_store(self, store_id: str) -> bool:
        return await self._io(self.index.delete_store, store_id)

    async def add_text(
        self,
        store_id: str,
        file_id: str,
        text: str,
        strategy: ChunkingStrategy = AUTO,
        attributes: Mapping[str, object] | None = None,
    ) -> FileInfo:
        """Chunk, embed and index one file's text (replacing the file if present)."""
        clean = validate_attributes(attributes)
        chunks, terms = await self._cpu(_chunk_and_analyze, text, strategy, self.tokenizer)
        vectors = None
        if self.embedder is not None and chunks:
            vectors = await self.embedder.embed([c.text for c in chunks])
        records = [
            ChunkRecord(c.text, t, None if vectors is None else vectors[i], c.tokens)
            for i, (c, t) in enumerate(zip(chunks, terms, strict=True))
        ]
        await self._io(self.index.upsert_file, store_id, file_id, records, clean)
        return FileInfo(file_id, len(records), sum(c.tokens for c in chunks), clean)

    async def delete_file(self, store_id: str, file_id: str) -> bool:
        return await self._io(self.index.delete_file, store_id, file_id)

    async def update_attributes(
        self, store_id: str, file_id: str, attributes: Mapping[str, object]
    ) -> bool:
        clean = validate_attributes(attributes)
        return await self._io(self.index.update_attributes, store_id, file_id, clean)

    async def search(self, store_id: str, query: str, options: SearchOptions) -> list[Hit]:
        """Ranked chunks for one query (raises ``VectorStoreNotFound`` for an unknown store)."""
        vector = None
        if self.embedder is not None and options.mode != "lexical":
            vector = (await self.embedder.embed([query]))[0]
        request = SearchRequest(text=query, vector=vector, options=options)
        return await self._io(self.index.search, store_id, request)
