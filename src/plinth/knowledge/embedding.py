"""Embedding text of any length with an embedder that reads a fixed window.

all-MiniLM-L6-v2 was trained on at most 256 word pieces ([CLS] and [SEP]
included). Plinth lets llama.cpp read 512, but past 256 the model is outside
what it learned, and cutting the text would hide its tail from search. So a
text longer than the window is split into the fewest equal sub-windows that
fit, each is embedded, and the vectors are averaged weighted by their piece
counts and L2-normalised again: the result is close to the mean-pooled
embedding of the whole text (which is how the model pools tokens anyway),
and every piece of the text contributes. Nothing is ever truncated.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from plinth.knowledge.chunking import TokenSpans

EmbedFn = Callable[[list[str]], Awaitable[list[list[float]]]]
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
    ):
        self._embed = embed
        self._tokenizer = tokenizer
        self.window = window
        self.batch_size = batch_size

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
        """One L2-normalised float32 row per text."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        pieces = self._pieces(texts)
        rows: list[list[float]] = []
        for first in range(0, len(pieces), self.batch_size):
            batch = pieces[first : first + self.batch_size]
            rows.extend(await self._embed([piece.text for piece in batch]))
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
