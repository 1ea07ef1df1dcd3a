"""OpenAI's request JSON for vector stores: the models requests are read into.

The vector-stores package's protocol module (as vLLM keeps one per endpoint
family), read by the API routes and the Responses API's ``file_search`` tool.
Each model checks OpenAI's limits itself (attributes included), so nothing
downstream validates the same thing again. The objects' shapes going out are
in ``service.py``, next to the service that owns them.

Search knobs arrive under OpenAI's names at two edges: the Vector Stores
search endpoint (``ranking_options`` plus Plinth's ``hybrid_search`` with
``mode``, ``lexical_weight``, ``dense_weight``) and the Responses API's
``file_search`` tool (``ranking_options.hybrid_search`` with OpenAI's
``text_weight`` / ``embedding_weight``). Both use :class:`RankingOptions`
and :class:`HybridSearch` here, which accept either name for a weight, and
:func:`search_options` turns them into the one
:class:`~plinth.knowledge.index.SearchOptions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, StringConstraints

from plinth.errors import FilterError
from plinth.knowledge.filters import MAX_ATTRIBUTES, parse_filter
from plinth.knowledge.fusion import FusionMethod
from plinth.knowledge.index import MAX_NUM_RESULTS, SearchOptions
from plinth.protocol.common import WireModel

MAX_BATCH = 2000  # file ids in one request (a store's creation or a file batch)
MAX_QUERIES = 20  # queries in one search: each is embedded and searched in turn

#: A file's attributes under OpenAI's rules (at most 16; keys 1–64 characters;
#: values booleans, numbers or strings of at most 512), checked as the request
#: is read, so nothing downstream validates them again.
Attributes = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64)],
        bool | int | float | Annotated[str, StringConstraints(max_length=512)],
    ],
    Field(max_length=MAX_ATTRIBUTES),
]


class HybridSearch(WireModel):
    """Which lists to read and how much each weighs in the fusion.

    ``text_weight`` / ``embedding_weight`` (the Responses API's names) are
    accepted for ``lexical_weight`` / ``dense_weight``.
    """

    mode: Literal["hybrid", "lexical", "dense"] = "hybrid"
    lexical_weight: float = Field(
        1.0, ge=0.0, validation_alias=AliasChoices("lexical_weight", "text_weight")
    )
    dense_weight: float = Field(
        1.0, ge=0.0, validation_alias=AliasChoices("dense_weight", "embedding_weight")
    )


class RankingOptions(WireModel):
    # "rrf" fuses by reciprocal rank, "weighted" by the weighted sum of min-max
    # normalised scores (better than RRF on SciFact, 0.729 vs 0.712, and in
    # Bruch et al., TOIS 2023); everything else by "adaptive", that sum with
    # the dense weight scaled by how far the dense half can be trusted for the
    # query (fusion.adaptive; benchmarks/results/retrieval_eval.md).
    ranker: Literal["none", "auto", "default-2024-11-15", "rrf", "weighted"] | None = None
    score_threshold: float | None = Field(None, ge=0.0, le=1.0)
    hybrid_search: HybridSearch | None = None


# OpenAI's own names ("auto", "default-2024-11-15") and "none" get the default.
RANKERS: dict[str, FusionMethod] = {"rrf": "rrf", "weighted": "weighted"}


def search_options(
    max_num_results: int,
    ranking: RankingOptions | None,
    hybrid: HybridSearch | None,
    filters: Mapping[str, Any] | None,
) -> SearchOptions:
    """The request's knobs as :class:`SearchOptions`; a malformed filter is a 400 on ``filters``."""
    ranking = ranking or RankingOptions()
    hybrid = hybrid or ranking.hybrid_search or HybridSearch()
    try:
        parsed = None if filters is None else parse_filter(filters)
    except FilterError as exc:
        raise FilterError(f"Invalid filters: {exc.message}", param="filters") from None
    return SearchOptions(
        max_num_results=max_num_results,
        mode=hybrid.mode,
        ranker=RANKERS.get(ranking.ranker or "auto", "adaptive"),
        lexical_weight=hybrid.lexical_weight,
        dense_weight=hybrid.dense_weight,
        filters=parsed,
        score_threshold=ranking.score_threshold or 0.0,
    )


class ExpiresAfter(WireModel):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class CreateStore(WireModel):
    name: str = Field("", max_length=256)
    description: str | None = Field(None, max_length=512)  # accepted, not kept
    file_ids: list[str] = Field(default_factory=list, max_length=MAX_BATCH)
    chunking_strategy: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    expires_after: ExpiresAfter | None = None


class UpdateStore(WireModel):
    name: str | None = Field(None, max_length=256)
    metadata: dict[str, str] | None = None
    expires_after: ExpiresAfter | None = None


class CreateFile(WireModel):
    file_id: str
    attributes: Attributes | None = None
    chunking_strategy: dict[str, Any] | None = None


class UpdateFile(WireModel):
    attributes: Attributes | None


class CreateBatch(WireModel):
    file_ids: list[str] | None = Field(None, max_length=MAX_BATCH)
    files: list[CreateFile] | None = Field(None, max_length=MAX_BATCH)
    attributes: Attributes | None = None
    chunking_strategy: dict[str, Any] | None = None


class Search(WireModel):
    query: str | Annotated[list[str], Field(max_length=MAX_QUERIES)]
    filters: dict[str, Any] | None = None
    max_num_results: int = Field(10, ge=1, le=MAX_NUM_RESULTS)
    ranking_options: RankingOptions | None = None
    rewrite_query: bool = False
    # Plinth's extension (see HybridSearch).
    hybrid_search: HybridSearch | None = None

    def options(self) -> SearchOptions:
        return search_options(
            self.max_num_results, self.ranking_options, self.hybrid_search, self.filters
        )
