"""The numpy BM25 postings against a direct computation of the formula, through
adds (with segment merges), removals and re-adds."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from plinth.knowledge.lexical import LexicalIndex


def reference(
    docs: dict[int, list[str]], query: list[str], rows: int, k1: float, b: float
) -> list[float]:
    """Lucene's BM25, term by term, over the live documents only."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs.values()) / n
    df = Counter(t for d in docs.values() for t in set(d))
    out = [0.0] * rows
    for term, repeat in Counter(query).items():
        if not df[term]:
            continue
        idf = repeat * math.log1p((n - df[term] + 0.5) / (df[term] + 0.5))
        for row, terms in docs.items():
            tf = terms.count(term)
            if tf:
                norm = k1 * (1 - b + b * len(terms) / avgdl)
                out[row] += idf * tf * (k1 + 1) / (tf + norm)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scores_match_the_formula_through_adds_merges_and_removals(seed: int) -> None:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(60)]
    index, live = LexicalIndex(k1=0.9, b=0.4), dict[int, list[str]]()
    files: list[list[int]] = []
    for step in range(40):
        size = rng.randint(1, 9)
        chunks = [rng.choices(words[: 10 + step], k=rng.randint(0, 25)) for _ in range(size)]
        first = index.rows
        index.add(first, chunks)
        files.append(list(range(first, first + size)))
        live.update({first + i: c for i, c in enumerate(chunks)})
        if rng.random() < 0.3:
            gone = files.pop(rng.randrange(len(files)))
            index.remove(gone + gone[:1])  # a row named twice is removed once
            for row in gone:
                live.pop(row)
        assert index.live_docs == len(live)
        for _ in range(3):
            query = [*rng.choices(words, k=rng.randint(1, 4)), "never-seen"]
            got = index.scores(query)
            assert len(got) == index.rows
            if live and any(live.values()):
                expected = reference(live, query, index.rows, 0.9, 0.4)
                np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert len(index._segments) <= 2 * math.log2(index.rows) + 1  # merged like a binary counter


def test_rows_must_be_added_in_order() -> None:
    index = LexicalIndex()
    index.add(0, [["a"]])
    with pytest.raises(ValueError, match="expected 1"):
        index.add(5, [["b"]])


def test_empty_and_fully_removed_index_scores_zero() -> None:
    index = LexicalIndex()
    assert index.scores(["a"]).tolist() == []
    index.add(0, [["a", "b"], ["a"]])
    assert (index.scores(["a"]) > 0).all()
    index.remove([0, 1])
    assert index.scores(["a"]).tolist() == [0.0, 0.0]
