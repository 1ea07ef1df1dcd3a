"""The knowledge base as the HTTP layer uses it: files in, ranked chunks out.

parse → chunk (embedder tokens) → analyse (BM25 terms) → embed (windowed) →
``KnowledgeIndex.upsert_file``; and for a query: analyse + embed → search.
Database and CPU-heavy steps run on worker threads; the event loop only
awaits. Without an embedder the store is lexical only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from plinth.knowledge.chunking import AUTO, ChunkingStrategy, TokenSpans, chunk_text
from plinth.knowledge.embedding import WindowedEmbedder
from plinth.knowledge.filters import parse_filter, validate_attributes
from plinth.knowledge.fusion import FusionMethod
from plinth.knowledge.index import (
    ChunkRecord,
    FileInfo,
    Hit,
    KnowledgeIndex,
    SearchMode,
    SearchRequest,
)
from plinth.knowledge.parsing import ParseError, parse
from plinth.knowledge.segment import analyze


class KnowledgeBase:
    def __init__(
        self,
        index: KnowledgeIndex,
        tokenizer: TokenSpans,
        embedder: WindowedEmbedder | None = None,
        dims: int | None = 384,
    ):
        self.index = index
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.dims = dims if embedder is not None else None

    async def create_store(self, store_id: str) -> None:
        await asyncio.to_thread(self.index.create_store, store_id, self.dims)

    async def delete_store(self, store_id: str) -> bool:
        return await asyncio.to_thread(self.index.delete_store, store_id)

    async def add_file(
        self,
        store_id: str,
        file_id: str,
        data: bytes,
        filename: str,
        strategy: ChunkingStrategy = AUTO,
        attributes: Mapping[str, object] | None = None,
    ) -> FileInfo:
        """Parse, chunk, embed and index one file (replacing it if present)."""
        text = await asyncio.to_thread(parse, data, filename)
        if not text.strip():
            raise ParseError(f"'{filename}' has no text")
        return await self.add_text(store_id, file_id, text, strategy, attributes)

    async def add_text(
        self,
        store_id: str,
        file_id: str,
        text: str,
        strategy: ChunkingStrategy = AUTO,
        attributes: Mapping[str, object] | None = None,
    ) -> FileInfo:
        clean = validate_attributes(attributes)
        chunks = await asyncio.to_thread(chunk_text, text, strategy, self.tokenizer)
        terms = await asyncio.to_thread(lambda: [analyze(c.text) for c in chunks])
        vectors = None
        if self.embedder is not None and chunks:
            vectors = await self.embedder.embed([c.text for c in chunks])
        records = [
            ChunkRecord(c.text, t, None if vectors is None else vectors[i], c.tokens)
            for i, (c, t) in enumerate(zip(chunks, terms, strict=True))
        ]
        await asyncio.to_thread(self.index.upsert_file, store_id, file_id, records, clean)
        return FileInfo(file_id, len(records), sum(c.tokens for c in chunks), clean)

    async def delete_file(self, store_id: str, file_id: str) -> bool:
        return await asyncio.to_thread(self.index.delete_file, store_id, file_id)

    async def update_attributes(
        self, store_id: str, file_id: str, attributes: Mapping[str, object]
    ) -> bool:
        clean = validate_attributes(attributes)
        return await asyncio.to_thread(self.index.update_attributes, store_id, file_id, clean)

    async def search(
        self,
        store_id: str,
        query: str,
        *,
        max_num_results: int = 10,
        mode: SearchMode = "hybrid",
        fusion: FusionMethod = "weighted",
        lexical_weight: float = 1.0,
        dense_weight: float = 1.0,
        filters: Mapping[str, object] | None = None,
        score_threshold: float = 0.0,
    ) -> list[Hit]:
        """Ranked chunks; ``filters`` is OpenAI's filter object (raises ``FilterError``)."""
        if not 1 <= max_num_results <= 50:
            raise ValueError("max_num_results must be between 1 and 50")
        vector = None
        if self.embedder is not None and mode != "lexical":
            vector = (await self.embedder.embed([query]))[0]
        request = SearchRequest(
            text=query,
            vector=vector,
            k=max_num_results,
            mode=mode,
            fusion=fusion,
            lexical_weight=lexical_weight,
            dense_weight=dense_weight,
            filters=None if filters is None else parse_filter(filters),
            score_threshold=score_threshold,
        )
        return await asyncio.to_thread(self.index.search, store_id, request)
