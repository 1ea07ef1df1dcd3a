"""The contract every knowledge-base backend implements, and its data types.

A store holds files; a file is a list of chunks (text + optional vector) and
a set of attributes. Upserting a file replaces all its chunks; deleting it
frees them. Searches see every committed change. Backends: ``EmbeddedIndex``
(Plinth's own database + in-memory numpy indexes) and ``MilvusIndex``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from plinth.knowledge.filters import AttributeValue, Filter
from plinth.knowledge.fusion import FusionMethod

SearchMode = Literal["lexical", "dense", "hybrid"]
MAX_NUM_RESULTS = 50


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk to index. ``terms`` come from ``segment.analyze`` (computed once, stored)."""

    text: str
    terms: list[str]
    vector: NDArray[np.float32] | None
    tokens: int


@dataclass(frozen=True)
class SearchOptions:
    """Every search knob, under one name each; the API, Dify, /v1/responses and the CLI
    all build this (their wire names are mapped at their edge).

    Every knob is checked where the request is read (the wire models, Dify's
    model, the CLI's options), and ``filters`` is already parsed
    (``filters.parse_filter``), so nothing is refused midway through a search.
    """

    max_num_results: int = 10
    mode: SearchMode = "hybrid"
    # "adaptive": the weighted sum with the dense weight scaled by how far the
    # dense half can be trusted for this query (fusion.adaptive); "weighted":
    # min-max normalised weighted sum as given; "rrf": reciprocal-rank fusion.
    ranker: FusionMethod = "adaptive"
    # Weights of the lexical and the dense list in the fusion.
    lexical_weight: float = 1.0
    dense_weight: float = 1.0
    filters: Filter | None = None
    score_threshold: float = 0.0


@dataclass(frozen=True)
class SearchRequest:
    """What a backend searches for: the query's text and vector, and the options."""

    text: str = ""
    vector: NDArray[np.float32] | None = None
    options: SearchOptions = field(default_factory=SearchOptions)
    # How deep each list is read before fusing (at least max_num_results).
    candidates: int = 100
    # The languages the store's embedder declares (catalog), None if unknown:
    # adaptive fusion ignores the dense half for what it cannot read.
    dense_languages: frozenset[str] | None = None


@dataclass(frozen=True)
class Hit:
    file_id: str
    chunk_id: int
    seq: int  # the chunk's position in its file
    text: str
    score: float  # final 0–1 score
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True)
class FileInfo:
    file_id: str
    chunks: int
    tokens: int
    attributes: dict[str, AttributeValue]


class KnowledgeIndex(Protocol):
    """Synchronous (database / network I/O): async callers run it off the event loop.

    Every backend raises ``errors.VectorStoreNotFound`` for an unknown store id.
    """

    def create_store(self, store_id: str, dims: int | None) -> None: ...

    def delete_store(self, store_id: str) -> bool: ...

    def upsert_file(
        self,
        store_id: str,
        file_id: str,
        chunks: Sequence[ChunkRecord],
        attributes: dict[str, AttributeValue],
    ) -> None: ...

    def update_attributes(
        self, store_id: str, file_id: str, attributes: dict[str, AttributeValue]
    ) -> bool: ...

    def delete_file(self, store_id: str, file_id: str) -> bool: ...

    def get_file(self, store_id: str, file_id: str) -> FileInfo | None: ...

    def search(self, store_id: str, request: SearchRequest) -> list[Hit]: ...

    def close(self) -> None:
        """Release connections the backend holds of its own (not Plinth's database)."""
        ...
