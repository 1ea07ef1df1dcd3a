"""An incremental BM25 index over numbered rows, scored with sparse matrices.

Rows are the caller's chunk slots (shared with the dense index). New rows
arrive as small segments (a term-frequency CSC matrix each, so one query term
is one contiguous column slice); segments are merged like a binary counter,
so there are O(log n) of them and a query touches O(terms × segments) numpy
slices, never every document in Python. Document frequencies and lengths are
kept current on add and remove, so the next query sees the change.

Scoring is Lucene's BM25 (what BEIR's published numbers use):
idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf part = tf·(k1+1) / (tf + k1·(1 - b + b·dl/avgdl)).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray

F32 = NDArray[np.float32]


@dataclass
class _Segment:
    first_row: int
    csc: sp.csc_matrix  # rows × terms, term frequencies
    csr: sp.csr_matrix  # the same, row-major: a removed row's terms, for df

    @property
    def rows(self) -> int:
        return int(self.csc.shape[0])


class LexicalIndex:
    def __init__(self, k1: float = 0.9, b: float = 0.4):
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        self._df = np.zeros(1024, dtype=np.int64)
        self._lengths = np.zeros(1024, dtype=np.float32)
        self._alive = np.zeros(1024, dtype=bool)  # removed rows stay in the matrices
        self._segments: list[_Segment] = []
        self.rows = 0  # rows ever added (removed ones stay as empty slots)
        self.live_docs = 0
        self._total_length = 0.0

    def _term_id(self, term: str) -> int:
        term_id = self.vocab.get(term)
        if term_id is None:
            term_id = self.vocab[term] = len(self.vocab)
            if term_id >= len(self._df):
                self._df = np.concatenate([self._df, np.zeros_like(self._df)])
        return term_id

    def add(self, first_row: int, documents: list[list[str]]) -> None:
        """Index ``documents`` (term lists) as rows ``first_row`` on (the next free rows)."""
        if first_row != self.rows:
            raise ValueError(f"rows must be added in order: expected {self.rows}, got {first_row}")
        indptr, indices, data = [0], list[int](), list[int]()
        for terms in documents:
            counts = Counter(self._term_id(t) for t in terms)
            indices.extend(counts)
            data.extend(counts.values())
            indptr.append(len(indices))
        shape = (len(documents), len(self.vocab))
        csr = sp.csr_matrix(
            (np.asarray(data, np.float32), np.asarray(indices, np.int64), indptr), shape=shape
        )
        ids = np.asarray(indices, dtype=np.int64)
        np.add.at(self._df, ids, 1)
        lengths = np.asarray([len(t) for t in documents], dtype=np.float32)
        self._grow_lengths(first_row + len(documents))
        self._lengths[first_row : first_row + len(documents)] = lengths
        self._alive[first_row : first_row + len(documents)] = True
        self._total_length += float(lengths.sum())
        self.rows += len(documents)
        self.live_docs += len(documents)
        self._segments.append(_Segment(first_row, csr.tocsc(), csr))
        self._merge_tail()

    def _grow_lengths(self, needed: int) -> None:
        if needed > len(self._lengths):
            size = max(needed, 2 * len(self._lengths))
            lengths = np.zeros(size, dtype=np.float32)
            lengths[: len(self._lengths)] = self._lengths
            alive = np.zeros(size, dtype=bool)
            alive[: len(self._alive)] = self._alive
            self._lengths, self._alive = lengths, alive

    def _merge_tail(self) -> None:
        segments = self._segments
        while len(segments) > 1 and segments[-2].rows <= 2 * segments[-1].rows:
            right, left = segments.pop(), segments.pop()
            width = len(self.vocab)
            parts = [left.csr, right.csr]
            for part in parts:
                part.resize((part.shape[0], width))
            csr = sp.vstack(parts, format="csr")
            segments.append(_Segment(left.first_row, csr.tocsc(), csr))

    def remove(self, rows: list[int]) -> None:
        """Forget ``rows``: they stop matching and leave the df and length statistics."""
        for row in rows:
            segment = next(s for s in self._segments if s.first_row <= row < s.first_row + s.rows)
            local = row - segment.first_row
            if not self._alive[row]:
                continue
            start, end = segment.csr.indptr[local], segment.csr.indptr[local + 1]
            np.subtract.at(self._df, segment.csr.indices[start:end], 1)
            self._total_length -= float(self._lengths[row])
            self._alive[row] = False
            self.live_docs -= 1

    def scores(self, query_terms: list[str]) -> F32:
        """BM25 of every row for the query (0 where no term matches)."""
        scores = np.zeros(self.rows, dtype=np.float32)
        if self.live_docs == 0:
            return scores
        n, k1, b = self.live_docs, self.k1, self.b
        avgdl = max(self._total_length / n, 1e-9)
        for term, repeat in Counter(query_terms).items():
            term_id = self.vocab.get(term)
            if term_id is None or self._df[term_id] <= 0:
                continue
            df = float(self._df[term_id])
            idf = repeat * np.log1p((n - df + 0.5) / (df + 0.5))
            for segment in self._segments:
                csc = segment.csc
                if term_id >= csc.shape[1]:
                    continue
                start, end = csc.indptr[term_id], csc.indptr[term_id + 1]
                if start == end:
                    continue
                rows = csc.indices[start:end] + segment.first_row
                tf = csc.data[start:end]
                norm = k1 * (1 - b + b * self._lengths[rows] / avgdl)
                scores[rows] += (idf * tf * (k1 + 1) / (tf + norm)).astype(np.float32)
        scores[~self._alive[: self.rows]] = 0
        return scores
