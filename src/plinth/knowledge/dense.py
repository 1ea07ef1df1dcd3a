"""An in-memory matrix of unit vectors over numbered rows, searched by dot product.

Rows match the lexical index's rows. Vectors are L2-normalised on the way
in, so the dot product is the cosine. At 100k × 384 float32 one query is a
~150 MB/s-bound matrix-vector product (a few ms on one core), which is why
no approximate index is needed at this size; Milvus serves larger stores.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

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
