"""One store's in-memory search state: rows shared by the BM25 and dense indexes.

The BM25 index is ``lexical.py``; the dense one is :class:`DenseIndex` here, a
matrix of unit vectors searched by dot product (L2-normalised on the way in,
so the dot product is the cosine). At 100k × 384 float32 one query is a
~150 MB/s-bound matrix-vector product (a few ms on one core), which is why
no approximate index is needed at this size; Milvus serves larger stores.

A row is one chunk. Rows are only appended; removing a file marks its rows
dead (they stop matching at once) and the whole state is rebuilt from the
database once dead rows outnumber live ones. Searching happens here, so the
embedded backend is only database plumbing around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from plinth.knowledge import fusion
from plinth.knowledge.filters import AttributeValue, matches
from plinth.knowledge.index import SearchRequest
from plinth.knowledge.lexical import LexicalIndex
from plinth.knowledge.segment import analyze

F32 = NDArray[np.float32]


class DenseIndex:
    def __init__(self, dims: int):
        self.dims = dims
        self._matrix = np.zeros((1024, dims), dtype=np.float32)
        self._present = np.zeros(1024, dtype=bool)
        self.rows = 0

    def add(self, first_row: int, vectors: F32, present: NDArray[np.bool_] | None = None) -> None:
        """Store ``vectors`` as rows ``first_row`` onwards; ``present`` marks rows without one."""
        needed = first_row + len(vectors)
        if needed > len(self._matrix):
            size = max(needed, 2 * len(self._matrix))
            matrix = np.zeros((size, self.dims), dtype=np.float32)
            matrix[: self.rows] = self._matrix[: self.rows]
            grown = np.zeros(size, dtype=bool)
            grown[: self.rows] = self._present[: self.rows]
            self._matrix, self._present = matrix, grown
        if len(vectors):
            if vectors.shape[1] != self.dims:
                raise ValueError(f"vectors have {vectors.shape[1]} dims, the store {self.dims}")
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            norms[norms == 0] = 1
            self._matrix[first_row:needed] = vectors / norms
            self._present[first_row:needed] = True if present is None else present
        self.rows = max(self.rows, needed)

    def remove(self, rows: list[int]) -> None:
        self._present[rows] = False
        self._matrix[rows] = 0

    def scores(self, query: F32) -> F32:
        """Cosine of every row with ``query``; rows without a vector get -inf."""
        norm = float(np.linalg.norm(query)) or 1.0
        scores = self._matrix[: self.rows] @ (query.astype(np.float32) / norm)
        scores[~self._present[: self.rows]] = -np.inf
        return scores


@dataclass(frozen=True)
class RowChunk:
    chunk_id: int
    terms: list[str]
    vector: NDArray[np.float32] | None


class StoreMemory:
    def __init__(self, version: int, dims: int | None, k1: float, b: float):
        self.version = version
        self.lexical = LexicalIndex(k1, b)
        self.dense = DenseIndex(dims) if dims else None
        self.chunk_ids = np.zeros(0, dtype=np.int64)
        self.row_file = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self.file_index: dict[str, int] = {}
        self.file_rows: dict[str, list[int]] = {}
        self.file_attributes: list[dict[str, AttributeValue] | None] = []
        self.dead = 0

    @property
    def rows(self) -> int:
        return len(self.chunk_ids)

    def add_file(
        self, file_id: str, attributes: dict[str, AttributeValue], chunks: list[RowChunk]
    ) -> None:
        if file_id in self.file_rows:
            self.remove_file(file_id)
        index = self.file_index.get(file_id)
        if index is None:
            index = self.file_index[file_id] = len(self.file_attributes)
            self.file_attributes.append(attributes)
        self.file_attributes[index] = attributes
        first = self.rows
        self.file_rows[file_id] = list(range(first, first + len(chunks)))
        ids = np.asarray([c.chunk_id for c in chunks], dtype=np.int64)
        self.chunk_ids = np.concatenate([self.chunk_ids, ids])
        self.row_file = np.concatenate([self.row_file, np.full(len(chunks), index, np.int64)])
        self.alive = np.concatenate([self.alive, np.ones(len(chunks), dtype=bool)])
        self.lexical.add(first, [c.terms for c in chunks])
        if self.dense is not None:
            present = np.asarray([c.vector is not None for c in chunks], dtype=bool)
            vectors = np.zeros((len(chunks), self.dense.dims), dtype=np.float32)
            for row, chunk in enumerate(chunks):
                if chunk.vector is not None:
                    vectors[row] = chunk.vector
            self.dense.add(first, vectors, present)

    def remove_file(self, file_id: str) -> None:
        rows = self.file_rows.pop(file_id, [])
        if not rows:
            return
        self.alive[rows] = False
        self.dead += len(rows)
        self.lexical.remove(rows)
        if self.dense is not None:
            self.dense.remove(rows)
        self.file_attributes[self.file_index[file_id]] = None

    def set_attributes(self, file_id: str, attributes: dict[str, AttributeValue]) -> None:
        if file_id in self.file_index:
            self.file_attributes[self.file_index[file_id]] = attributes

    def needs_rebuild(self) -> bool:
        return self.dead > 1000 and self.dead > self.rows - self.dead

    def _allowed(self, request: SearchRequest) -> NDArray[np.bool_]:
        if request.options.filters is None:
            return self.alive
        flt = request.options.filters
        file_ok = np.fromiter(
            (attrs is not None and matches(flt, attrs) for attrs in self.file_attributes),
            dtype=bool,
            count=len(self.file_attributes),
        )
        allowed: NDArray[np.bool_] = self.alive & file_ok[self.row_file]
        return allowed

    def search(self, request: SearchRequest) -> fusion.Ranked:
        """Ranked rows with their final 0–1 scores, threshold and ``k`` applied."""
        allowed = self._allowed(request)
        depth = max(request.candidates, request.options.max_num_results)
        lexical = dense = None
        if request.options.mode in ("lexical", "hybrid") and request.text:
            scores = self.lexical.scores(analyze(request.text))
            lexical = fusion.top_k(scores, allowed & (scores > 0), depth)
        wants_dense = request.options.mode in ("dense", "hybrid") and request.vector is not None
        if wants_dense and self.dense is not None and request.vector is not None:
            scores = self.dense.scores(request.vector)
            dense = fusion.top_k(scores, allowed & np.isfinite(scores), depth)
        return finish(lexical, dense, request)


def finish(
    lexical: fusion.Ranked | None, dense: fusion.Ranked | None, request: SearchRequest
) -> fusion.Ranked:
    """Fuse (or normalise the one list there is), apply ``score_threshold``, cut to ``k``."""
    if lexical is not None and dense is not None:
        lists, weights = (
            [lexical, dense],
            [request.options.lexical_weight, request.options.dense_weight],
        )
        if request.options.ranker == "rrf":
            ranked = fusion.rrf(lists, weights)
        elif request.options.ranker == "weighted":
            ranked = fusion.weighted(lists, weights, [0.0, None])
        else:
            readable = fusion.readable_share(request.text, request.dense_languages)
            ranked = fusion.adaptive(lexical, dense, (weights[0], weights[1]), readable)
    elif lexical is not None:
        ranked = fusion.lexical_alone(lexical)
    elif dense is not None:
        ranked = fusion.dense_alone(dense)
    else:
        return fusion.Ranked(np.zeros(0, np.int64), np.zeros(0, np.float32))
    keep = ranked.scores >= request.options.score_threshold
    return fusion.Ranked(
        ranked.keys[keep][: request.options.max_num_results],
        ranked.scores[keep][: request.options.max_num_results],
    )
