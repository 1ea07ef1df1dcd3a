"""Combining the lexical and dense rankings into one 0–1 score.

- ``rrf`` (reciprocal-rank fusion): Σ wᵢ / (k + rankᵢ), divided by its best
  possible value Σ wᵢ / (k + 1), so a chunk ranked first by every list scores
  1.0. Only ranks matter, so it needs no calibration between BM25 and cosine.
- ``weighted``: each list's scores min-max normalised over its candidates
  (best → 1, absent → 0), then the weighted mean. This is "relative score
  fusion": it keeps how far apart candidates are, which ranks cannot. The
  minimum is the list's natural floor where it has one: 0 for BM25 (what a
  chunk without any query term scores; otherwise the weakest of two matches
  would count as no match at all), the weakest candidate for cosine.

A single list gets a 0–1 score too: cosine clipped to [0, 1] (absolute), and
BM25 divided by the best BM25 among the candidates (relative: BM25 has no
upper bound).

**How much of the query the embedder can read** (:func:`readable_share`, one
of ``adaptive``'s signals). An embedding model trained on English alone still
turns Chinese into a vector, but a meaningless one: all-MiniLM-L6-v2 scores
nDCG@10 0.18 on a Chinese question-answering set where BM25 scores 0.99.
Hybrid search must then stop listening to it. The model's catalog entry
declares the languages it was trained on; a query's script is read off its
characters. Scripts, not languages: Latin text is taken to be readable by any
model that reads English (a French query to an English model is not caught
here; the agreement signal is what catches that case).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FusionMethod = Literal["adaptive", "rrf", "weighted"]
RRF_K = 60
# Adaptive fusion's knobs, chosen a priori (see ``adaptive``), not per data set.
AGREEMENT_DEPTH = 10  # how many of each list's best are compared
FULL_TRUST_AGREEMENT = 0.2  # 2 of the 10 best shared: both halves count fully


@dataclass(frozen=True)
class Ranked:
    """Candidates best first: keys (row numbers or chunk ids) and their raw scores."""

    keys: NDArray[np.int64]
    scores: NDArray[np.float32]


def _accumulate(parts: list[tuple[NDArray[np.int64], NDArray[np.float64]]]) -> Ranked:
    keys = np.concatenate([k for k, _ in parts]) if parts else np.zeros(0, np.int64)
    values = np.concatenate([v for _, v in parts]) if parts else np.zeros(0)
    unique, inverse = np.unique(keys, return_inverse=True)
    totals = np.zeros(len(unique))
    np.add.at(totals, inverse, values)
    order = np.argsort(-totals, kind="stable")
    return Ranked(unique[order].astype(np.int64), totals[order].astype(np.float32))


def rrf(lists: list[Ranked], weights: list[float], k: int = RRF_K) -> Ranked:
    best = sum(w / (k + 1) for w in weights) or 1.0
    parts = [
        (ranked.keys, w / (k + 1 + np.arange(len(ranked.keys), dtype=np.float64)) / best)
        for ranked, w in zip(lists, weights, strict=True)
    ]
    return _accumulate(parts)


def min_max(scores: NDArray[np.float32], floor: float | None = None) -> NDArray[np.float64]:
    if len(scores) == 0:
        return np.zeros(0)
    low = float(scores.min()) if floor is None else floor
    high = float(scores.max())
    if high - low < 1e-12:
        return np.ones(len(scores))
    return (scores.astype(np.float64) - low) / (high - low)


def weighted(
    lists: list[Ranked], weights: list[float], floors: list[float | None] | None = None
) -> Ranked:
    total = sum(weights) or 1.0
    floors = floors or [None] * len(lists)
    parts = [
        (ranked.keys, w / total * min_max(ranked.scores, floor))
        for ranked, w, floor in zip(lists, weights, floors, strict=True)
    ]
    return _accumulate(parts)


def agreement(first: Ranked, second: Ranked, depth: int = AGREEMENT_DEPTH) -> float:
    """The share of the ``depth`` best of ``first`` that are also among those of ``second``."""
    top = min(depth, len(first.keys), len(second.keys))
    if top == 0:
        return 0.0
    shared = np.intersect1d(first.keys[:depth], second.keys[:depth])
    return len(shared) / top


def adaptive(
    lexical: Ranked, dense: Ranked, weights: tuple[float, float], readable: float
) -> Ranked:
    """Weighted fusion whose dense weight follows how much the dense half can be trusted.

    - ``readable``: the share of the query the embedder can read (its declared
      languages against the query's scripts, :func:`readable_share`).
      An English model asked in Chinese returns vectors, not meaning.
    - agreement: the two halves see the same corpus; two informed rankers of
      one query share some of their best candidates. A dense top 10 that
      shares none of the lexical top 10 (while the lexical half found
      matches) is the signature of an embedder out of its depth, so the dense
      weight falls linearly from full at ``FULL_TRUST_AGREEMENT`` to zero.
      The lexical half is the one kept: its matches are literal and checkable.

    With no dense weight left this is ``lexical_alone``; otherwise ``weighted``.
    """
    lexical_weight, dense_weight = weights
    dense_weight *= readable
    if lexical_weight <= 0 or not len(lexical.keys):  # nothing matched literally
        return dense_alone(dense) if dense_weight > 0 else lexical_alone(lexical)
    if len(dense.keys):
        dense_weight *= min(1.0, agreement(lexical, dense) / FULL_TRUST_AGREEMENT)
    if dense_weight <= 0:
        return lexical_alone(lexical)
    return weighted([lexical, dense], [lexical_weight, dense_weight], [0.0, None])


def lexical_alone(ranked: Ranked) -> Ranked:
    top = float(ranked.scores[0]) if len(ranked.scores) else 1.0
    return Ranked(ranked.keys, (ranked.scores / (top or 1.0)).astype(np.float32))


def dense_alone(ranked: Ranked) -> Ranked:
    return Ranked(ranked.keys, np.clip(ranked.scores, 0.0, 1.0).astype(np.float32))


def top_k(scores: NDArray[np.float32], allowed: NDArray[np.bool_], k: int) -> Ranked:
    """The ``k`` best allowed rows (argpartition, then a sort of only those)."""
    candidates = np.flatnonzero(allowed)
    if len(candidates) == 0 or k <= 0:
        return Ranked(np.zeros(0, np.int64), np.zeros(0, np.float32))
    values = scores[candidates]
    if len(candidates) > k:
        part = np.argpartition(-values, k - 1)[:k]
        candidates, values = candidates[part], values[part]
    order = np.argsort(-values, kind="stable")
    return Ranked(candidates[order].astype(np.int64), values[order].astype(np.float32))


# --- the query's scripts against the embedder's languages ------------------------------

# The script each declared language is written in. "multilingual" covers all.
LANGUAGE_SCRIPTS: dict[str, str] = {
    "en": "latin",
    "fr": "latin",
    "de": "latin",
    "es": "latin",
    "pt": "latin",
    "it": "latin",
    "nl": "latin",
    "zh": "han",
    "ja": "kana",
    "ko": "hangul",
    "ru": "cyrillic",
    "uk": "cyrillic",
    "ar": "arabic",
}
MULTILINGUAL = "multilingual"


def script_of(char: str) -> str | None:
    """The writing system of one letter, or None for digits, punctuation, spaces."""
    code = ord(char)
    if char.isascii():
        return "latin" if char.isalpha() else None
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2FA1F:
        return "han"
    if 0x3040 <= code <= 0x30FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
        return "hangul"
    if 0x0400 <= code <= 0x04FF:
        return "cyrillic"
    if 0x0600 <= code <= 0x06FF:
        return "arabic"
    if char.isalpha():
        return "latin" if code < 0x0250 else "other"
    return None


def scripts(text: str) -> Counter[str]:
    """Letters per script (a Han character counts as much as a Latin letter)."""
    return Counter(s for s in map(script_of, text) if s is not None)


def readable_share(text: str, languages: Iterable[str] | None) -> float:
    """The share of ``text``'s letters in scripts an embedder of ``languages`` reads.

    ``None`` (an embedder whose languages nobody declared) reads everything:
    the fusion then relies on the score signals alone. Japanese reads Han too.
    A text without letters (numbers, symbols) is readable.
    """
    if languages is None:
        return 1.0
    declared = set(languages)
    if MULTILINGUAL in declared:
        return 1.0
    readable = {LANGUAGE_SCRIPTS[lang] for lang in declared if lang in LANGUAGE_SCRIPTS}
    if "kana" in readable:
        readable.add("han")
    counts = scripts(text)
    total = sum(counts.values())
    if total == 0:
        return 1.0
    return sum(n for script, n in counts.items() if script in readable) / total
