"""Test helpers: a tiny deterministic embedder and a whitespace tokenizer."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from plinth.knowledge.segment import analyze

DIMS = 64


def hashed_vector(text: str) -> np.ndarray:
    """Bag of stemmed terms hashed into 64 dims: similar texts get similar vectors."""
    vector = np.zeros(DIMS, dtype=np.float32)
    for term in analyze(text):
        vector[int(hashlib.md5(term.encode()).hexdigest(), 16) % DIMS] += 1.0
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


async def fake_embed(texts: list[str]) -> list[list[float]]:
    return [hashed_vector(t).tolist() for t in texts]


class WhitespaceSpans:
    """One token per whitespace-separated word (and per Han character)."""

    def spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        pattern = re.compile(r"[\u4e00-\u9fff]|[^\s\u4e00-\u9fff]+")
        return [[m.span() for m in pattern.finditer(t)] for t in texts]
