"""Splitting text into overlapping chunks measured in the embedder's tokens.

The strategy is OpenAI's ``chunking_strategy``: ``static`` with
``max_chunk_size_tokens`` (100–4096) and ``chunk_overlap_tokens`` (at most
half), or ``auto``. Tokens are the bundled embedder's WordPiece pieces, so a
chunk's size is exactly what the embedder will read (Chinese counts one piece
per character, as BERT's tokenizer splits Han characters).

``auto`` is OpenAI's 800 / 400. The bundled embedder was trained on 256
pieces; chunks longer than its window are embedded as pooled sub-windows
(see ``embedding.py``), never truncated. A store that prefers one window per
chunk asks for ``static`` 254 / 64 (:data:`EMBEDDER_SIZED`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from plinth.errors import ChunkingError


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
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()

    @classmethod
    def bundled(cls) -> WordPieceSpans:
        from plinth.catalog.bundled import _minilm_dir

        return cls(_minilm_dir() / "tokenizer.json")

    def spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        out = []
        for encoding in self._tokenizer.encode_batch(texts, add_special_tokens=False):
            out.append([(start, end) for start, end in encoding.offsets if end > start])
        return out


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
