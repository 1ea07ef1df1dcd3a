"""OpenAI's JSON for vector stores, both ways: request models in, object shapes out.

The vector-stores package's protocol module (as vLLM keeps one per endpoint
family): the API routes, ``plinth kb`` and the Responses API's ``file_search``
tool read and write these.

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

from pydantic import AliasChoices, Field

from plinth.errors import FilterError
from plinth.knowledge.filters import AttributeValue, parse_filter
from plinth.knowledge.index import MAX_NUM_RESULTS, Hit, SearchOptions
from plinth.protocol.common import WireModel
from plinth.vectorstores.catalog import BatchRow, FileRow, StoreRow

MAX_BATCH = 2000  # file ids in one request (a store's creation or a file batch)
MAX_QUERIES = 20  # queries in one search: each is embedded and searched in turn


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
    # "rrf" fuses by reciprocal rank; everything else by the weighted sum of
    # min-max normalised scores, the better of the two on SciFact (nDCG@10
    # 0.729 vs 0.712, benchmarks/results/retrieval_eval.md) and in Bruch et
    # al.'s analysis of fusion functions for hybrid retrieval (TOIS 2023).
    ranker: Literal["none", "auto", "default-2024-11-15", "rrf", "weighted"] | None = None
    score_threshold: float | None = Field(None, ge=0.0, le=1.0)
    hybrid_search: HybridSearch | None = None


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
        ranker="rrf" if ranking.ranker == "rrf" else "weighted",
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
    attributes: dict[str, AttributeValue] | None = None
    chunking_strategy: dict[str, Any] | None = None


class UpdateFile(WireModel):
    attributes: dict[str, AttributeValue] | None


class CreateBatch(WireModel):
    file_ids: list[str] | None = Field(None, max_length=MAX_BATCH)
    files: list[CreateFile] | None = Field(None, max_length=MAX_BATCH)
    attributes: dict[str, AttributeValue] | None = None
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


# -- out: the objects' shapes ------------------------------------------------------

# How soon the SDK's poll helpers should ask again about an in-progress file.
POLL_AFTER_MS = 200


def store_json(store: StoreRow, counts: dict[str, int], now: int) -> dict[str, Any]:
    if store.expired(now):
        status = "expired"
    elif counts["in_progress"]:
        status = "in_progress"
    else:
        status = "completed"
    expires_after = (
        None
        if store.expires_after_days is None
        else {"anchor": "last_active_at", "days": store.expires_after_days}
    )
    return {
        "id": store.id,
        "object": "vector_store",
        "created_at": store.created_at,
        "name": store.name,
        "usage_bytes": store.usage_bytes,
        "file_counts": counts,
        "status": status,
        "expires_after": expires_after,
        "expires_at": store.expires_at,
        "last_active_at": store.last_active_at,
        "metadata": store.metadata,
    }


def batch_json(batch: BatchRow, counts: dict[str, int]) -> dict[str, Any]:
    if batch.cancelled:
        status = "cancelled"
    elif counts["in_progress"]:
        status = "in_progress"
    elif counts["total"] and counts["failed"] == counts["total"]:
        status = "failed"
    else:
        status = "completed"
    return {
        "id": batch.id,
        "object": "vector_store.files_batch",
        "created_at": batch.created_at,
        "vector_store_id": batch.vector_store_id,
        "status": status,
        "file_counts": counts,
    }


def file_json(row: FileRow) -> dict[str, Any]:
    last_error = (
        None
        if row.error_code is None
        else {"code": row.error_code, "message": row.error_message or ""}
    )
    return {
        "id": row.file_id,
        "object": "vector_store.file",
        "usage_bytes": row.usage_bytes,
        "created_at": row.created_at,
        "vector_store_id": row.vector_store_id,
        "status": row.status,
        "last_error": last_error,
        "chunking_strategy": row.chunking,
        "attributes": row.attributes,
    }


def result_json(hit: Hit, filename: str) -> dict[str, Any]:
    """One item of ``vector_store.search_results.page``."""
    return {
        "file_id": hit.file_id,
        "filename": filename,
        "score": round(hit.score, 6),
        "attributes": hit.attributes,
        "content": [{"type": "text", "text": hit.text}],
    }


def list_page(data: list[dict[str, Any]], has_more: bool, id_key: str = "id") -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0][id_key] if data else None,
        "last_id": data[-1][id_key] if data else None,
        "has_more": has_more,
    }
