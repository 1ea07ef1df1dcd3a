"""An incremental BM25 index over numbered rows, scored with numpy postings.

Rows are the caller's chunk slots (shared with the dense index). New rows
arrive as small segments; segments are merged like a binary counter, so there
are O(log n) of them and a query touches O(terms × segments) numpy slices,
never every document in Python. Each segment holds its term frequencies twice
in plain arrays (the compressed-sparse layouts, without scipy, which was
~140 MB of the install for this alone): term-major postings, so one query term
is one contiguous slice, and row-major, so a removed row's terms can leave the
document frequencies. Document frequencies and lengths are kept current on
add and remove, so the next query sees the change.

Scoring is Lucene's BM25 (what BEIR's published numbers use):
idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf part = tf·(k1+1) / (tf + k1·(1 - b + b·dl/avgdl)).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]


@dataclass
class _Segment:
    first_row: int
    # row-major: local row r has terms row_terms[row_ptr[r]:row_ptr[r + 1]]
    row_ptr: I64
    row_terms: I32
    row_tf: F32
    # term-major postings: term t occurs in local rows post_rows[term_ptr[t]:term_ptr[t + 1]]
    # (ascending), with frequencies post_tf; terms newer than the segment have no entry
    term_ptr: I64
    post_rows: I32
    post_tf: F32

    @property
    def rows(self) -> int:
        return len(self.row_ptr) - 1

    @property
    def width(self) -> int:
        return len(self.term_ptr) - 1

    @classmethod
    def build(
        cls, first_row: int, row_ptr: I64, row_terms: I32, row_tf: F32, width: int
    ) -> _Segment:
        """The postings from the row-major arrays: a stable sort by term keeps rows ascending."""
        order = np.argsort(row_terms, kind="stable")
        local_rows = np.repeat(np.arange(len(row_ptr) - 1, dtype=np.int32), np.diff(row_ptr))
        term_ptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_terms, minlength=width), out=term_ptr[1:])
        return cls(
            first_row, row_ptr, row_terms, row_tf, term_ptr, local_rows[order], row_tf[order]
        )


class LexicalIndex:
    def __init__(self, k1: float = 0.9, b: float = 0.4):
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        self._df = np.zeros(1024, dtype=np.int64)
        self._lengths = np.zeros(1024, dtype=np.float32)
        self._alive = np.zeros(1024, dtype=bool)  # removed rows stay in the segments
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
        row_terms = np.asarray(indices, dtype=np.int32)
        np.add.at(self._df, row_terms, 1)
        lengths = np.asarray([len(t) for t in documents], dtype=np.float32)
        self._grow_lengths(first_row + len(documents))
        self._lengths[first_row : first_row + len(documents)] = lengths
        self._alive[first_row : first_row + len(documents)] = True
        self._total_length += float(lengths.sum())
        self.rows += len(documents)
        self.live_docs += len(documents)
        row_ptr = np.asarray(indptr, dtype=np.int64)
        row_tf = np.asarray(data, dtype=np.float32)
        self._segments.append(
            _Segment.build(first_row, row_ptr, row_terms, row_tf, len(self.vocab))
        )
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
            segments.append(_merge(left, right, len(self.vocab)))

    def remove(self, rows: list[int]) -> None:
        """Forget ``rows``: they stop matching and leave the df and length statistics."""
        for row in rows:
            segment = next(s for s in self._segments if s.first_row <= row < s.first_row + s.rows)
            local = row - segment.first_row
            if not self._alive[row]:
                continue
            start, end = segment.row_ptr[local], segment.row_ptr[local + 1]
            np.subtract.at(self._df, segment.row_terms[start:end], 1)
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
                if term_id >= segment.width:
                    continue
                start, end = segment.term_ptr[term_id], segment.term_ptr[term_id + 1]
                if start == end:
                    continue
                rows = segment.post_rows[start:end] + np.int64(segment.first_row)
                tf = segment.post_tf[start:end]
                norm = k1 * (1 - b + b * self._lengths[rows] / avgdl)
                scores[rows] += (idf * tf * (k1 + 1) / (tf + norm)).astype(np.float32)
        scores[~self._alive[: self.rows]] = 0
        return scores


def _merge(left: _Segment, right: _Segment, width: int) -> _Segment:
    """``left`` then ``right`` (the next rows) as one segment, in linear time: each term's
    postings are left's (ascending rows) followed by right's, already sorted."""
    left_counts = np.zeros(width, dtype=np.int64)
    left_counts[: left.width] = np.diff(left.term_ptr)
    right_counts = np.zeros(width, dtype=np.int64)
    right_counts[: right.width] = np.diff(right.term_ptr)
    term_ptr = np.zeros(width + 1, dtype=np.int64)
    np.cumsum(left_counts + right_counts, out=term_ptr[1:])
    post_rows = np.empty(len(left.post_rows) + len(right.post_rows), dtype=np.int32)
    post_tf = np.empty(len(post_rows), dtype=np.float32)
    for part, before in ((left, np.zeros(width, dtype=np.int64)), (right, left_counts)):
        # the term of each posting, then its place: the term's start, past the
        # left part's postings of that term (for right), plus its rank within the term
        terms = np.repeat(np.arange(part.width), np.diff(part.term_ptr))
        places = term_ptr[terms] + before[terms] + np.arange(len(terms)) - part.term_ptr[terms]
        post_rows[places] = part.post_rows + (part.first_row - left.first_row)
        post_tf[places] = part.post_tf
    row_ptr = np.concatenate([left.row_ptr, right.row_ptr[1:] + left.row_ptr[-1]])
    return _Segment(
        left.first_row,
        row_ptr,
        np.concatenate([left.row_terms, right.row_terms]),
        np.concatenate([left.row_tf, right.row_tf]),
        term_ptr,
        post_rows,
        post_tf,
    )
