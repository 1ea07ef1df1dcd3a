"""Token windows over text: chunks for the index, and sub-windows for the embedder.

Both are measured in the embedder's tokens (:class:`TokenSpans`).

**Chunks.**
The strategy is OpenAI's ``chunking_strategy``: ``static`` with
``max_chunk_size_tokens`` (100–4096) and ``chunk_overlap_tokens`` (at most
half), or ``auto``. Tokens are the bundled embedder's WordPiece pieces, so a
chunk's size is exactly what the embedder will read (Chinese counts one piece
per character, as BERT's tokenizer splits Han characters).

``auto`` is OpenAI's 800 / 400. The bundled embedder was trained on 256
pieces; chunks longer than its window are embedded as pooled sub-windows
(see below), never truncated. A store that prefers one window per
chunk asks for ``static`` 254 / 64 (:data:`EMBEDDER_SIZED`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from plinth.errors import ChunkingError
from plinth.knowledge.segment import analyze


@dataclass(frozen=True)
class ChunkingStrategy:
    max_chunk_size_tokens: int = 800
    chunk_overlap_tokens: int = 400

    def __post_init__(self) -> None:
        if not 100 <= self.max_chunk_size_tokens <= 4096:
            raise ChunkingError("max_chunk_size_tokens must be between 100 and 4096")
        if not 0 <= self.chunk_overlap_tokens <= self.max_chunk_size_tokens // 2:
            raise ChunkingError(
                "chunk_overlap_tokens must be non-negative and at most half of "
                "max_chunk_size_tokens"
            )

    @classmethod
    def from_openai(cls, strategy: dict[str, object] | None) -> ChunkingStrategy:
        """Parse OpenAI's ``chunking_strategy`` object (``None`` means auto)."""
        if strategy is None or strategy.get("type") == "auto":
            return AUTO
        if strategy.get("type") != "static" or not isinstance(strategy.get("static"), dict):
            raise ChunkingError("chunking_strategy must be {'type': 'auto'} or a static one")
        static: dict[str, object] = strategy["static"]  # type: ignore[assignment]
        size, overlap = static.get("max_chunk_size_tokens"), static.get("chunk_overlap_tokens")
        if not isinstance(size, int) or not isinstance(overlap, int):
            raise ChunkingError("static chunking needs integer sizes")
        return cls(size, overlap)

    def to_openai(self) -> dict[str, object]:
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_chunk_size_tokens,
                "chunk_overlap_tokens": self.chunk_overlap_tokens,
            },
        }


AUTO = ChunkingStrategy(800, 400)
EMBEDDER_SIZED = ChunkingStrategy(254, 64)


class TokenSpans(Protocol):
    """Where each token of a text starts and ends (character offsets), specials excluded."""

    def spans(self, texts: list[str]) -> list[list[tuple[int, int]]]: ...


class WordSpans:
    """One token per word, number or Han character: the stand-in tokenizer when
    the bundled embedder's package is not installed (chunk sizes then count these)."""

    _PATTERN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")

    def spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        return [[m.span() for m in self._PATTERN.finditer(text)] for text in texts]


class WordPieceSpans:
    """Token offsets from a model's ``tokenizer.json`` (the embedder's own pieces)."""

    def __init__(self, tokenizer_json: Path):
        from plinth.catalog.bert_wordpiece import BertWordPiece

        self._tokenizer = BertWordPiece(tokenizer_json)

    @classmethod
    def bundled(cls) -> WordPieceSpans:
        from plinth.catalog.bundled import _minilm_dir

        return cls(_minilm_dir() / "tokenizer.json")

    def spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        return [
            [(start, end) for _, start, end in tokens if end > start]
            for tokens in self._tokenizer.encode_batch(texts)
        ]


@dataclass(frozen=True)
class Chunk:
    text: str
    tokens: int
    start: int  # character offsets into the parsed text
    end: int


def chunk_text(text: str, strategy: ChunkingStrategy, tokenizer: TokenSpans) -> list[Chunk]:
    """Windows of ``max`` tokens stepping by ``max - overlap``; the last one ends the text.

    Each chunk is the original text between its first token's start and its
    last token's end, so nothing between tokens (spaces, punctuation the
    tokenizer drops) is lost or rewritten.
    """
    spans = tokenizer.spans([text])[0]
    if not spans:
        return []
    size, step = (
        strategy.max_chunk_size_tokens,
        (strategy.max_chunk_size_tokens - strategy.chunk_overlap_tokens),
    )
    chunks: list[Chunk] = []
    first = 0
    while True:
        last = min(first + size, len(spans)) - 1
        start, end = spans[first][0], spans[last][1]
        chunks.append(Chunk(text[start:end], last - first + 1, start, end))
        if last == len(spans) - 1:
            return chunks
        first += step


def chunk_and_analyze(
    text: str, strategy: ChunkingStrategy, tokenizer: TokenSpans
) -> tuple[list[Chunk], list[list[str]]]:
    """Blocking: the text's chunks and each chunk's BM25 terms, what an index takes."""
    chunks = chunk_text(text, strategy, tokenizer)
    return chunks, [analyze(c.text) for c in chunks]


# -- embedding text of any length through a fixed window -----------------------
#
# all-MiniLM-L6-v2 was trained on at most 256 word pieces ([CLS] and [SEP]
# included). Plinth lets llama.cpp read 512, but past 256 the model is outside
# what it learned, and cutting the text would hide its tail from search. So a
# text longer than the window is split into the fewest equal sub-windows that
# fit, each is embedded, and the vectors are averaged weighted by their piece
# counts and L2-normalised again: the result is close to the mean-pooled
# embedding of the whole text (which is how the model pools tokens anyway),
# and every piece of the text contributes. Nothing is ever truncated.


class HasVectors(Protocol):
    """What an engine's ``embed`` returns (``EmbeddingResult``): one row per input."""

    @property
    def vectors(self) -> list[list[float]]: ...


#: An embedder: texts in, one vector each out (plain rows, or an engine's result).
EmbedFn = Callable[[list[str]], Awaitable[list[list[float]] | HasVectors]]
Vectors = NDArray[np.float32]

# 256 positions less [CLS] and [SEP]; a few spare because a sub-window's text,
# tokenized again on its own, may come out a piece longer at a cut.
DEFAULT_WINDOW = 250


@dataclass(frozen=True)
class _Piece:
    owner: int  # index of the input text
    text: str
    tokens: int


class WindowedEmbedder:
    """Embeds texts of any length through ``embed``, window by window, in batches."""

    def __init__(
        self,
        embed: EmbedFn,
        tokenizer: TokenSpans,
        *,
        window: int = DEFAULT_WINDOW,
        batch_size: int = 32,
        query_prefix: str = "",
        passage_prefix: str = "",
    ):
        self._embed = embed
        self._tokenizer = tokenizer
        self.window = window
        self.batch_size = batch_size
        # e5-style embedders read "query: …" and "passage: …" (on every window).
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    def _pieces(self, texts: list[str]) -> list[_Piece]:
        pieces: list[_Piece] = []
        for owner, (text, spans) in enumerate(
            zip(texts, self._tokenizer.spans(texts), strict=True)
        ):
            if len(spans) <= self.window:
                pieces.append(_Piece(owner, text, max(len(spans), 1)))
                continue
            count = math.ceil(len(spans) / self.window)
            size = math.ceil(len(spans) / count)
            for first in range(0, len(spans), size):
                part = spans[first : first + size]
                pieces.append(_Piece(owner, text[part[0][0] : part[-1][1]], len(part)))
        return pieces

    async def embed(self, texts: list[str]) -> Vectors:
        """One L2-normalised float32 row per text (passages: what a store indexes)."""
        return await self._embed_prefixed(texts, self.passage_prefix)

    async def embed_queries(self, texts: list[str]) -> Vectors:
        """As ``embed``, for search queries."""
        return await self._embed_prefixed(texts, self.query_prefix)

    async def _embed_prefixed(self, texts: list[str], prefix: str) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        pieces = self._pieces(texts)
        rows: list[list[float]] = []
        for first in range(0, len(pieces), self.batch_size):
            batch = pieces[first : first + self.batch_size]
            result = await self._embed([prefix + piece.text for piece in batch])
            rows.extend(result if isinstance(result, list) else result.vectors)
        vectors = np.asarray(rows, dtype=np.float32)
        pooled = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        for piece, vector in zip(pieces, vectors, strict=True):
            pooled[piece.owner] += piece.tokens * vector
        return normalize(pooled)


def normalize(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = (vectors / norms).astype(np.float32)
    return unit
