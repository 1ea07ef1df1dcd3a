"""Reordering vector-store search hits with a rerank deployment, when asked.

A search asks with Plinth's extension ``"rerank": {"model": "bge-reranker"}``
in its body, or a store asks for all its searches with the metadata key
``plinth_rerank_model``. The store's own hybrid search then fetches up to
``candidates`` hits (at least the number asked for), a rerank deployment
scores them against the query, and the best ``max_num_results`` come back
with the reranker's relevance as their score.

The rerank call is an ordinary pass-through request under the caller's key
(:mod:`plinth.passthrough`): privacy screens the query and the chunks,
budgets hold its search units, and it has its own ledger row (endpoint
``rerank``). A model with no deployment that serves rerank is the same 404
as on ``/v1/rerank``.
"""

from __future__ import annotations

import dataclasses

from pydantic import Field

from plinth.api.http import new_request_id
from plinth.auth import Principal
from plinth.errors import UpstreamBadResponse
from plinth.gateway import Gateway
from plinth.knowledge.index import MAX_NUM_RESULTS, Hit
from plinth.passthrough import Forward, Head, PassThrough
from plinth.protocol.common import WireModel
from plinth.protocol.passthrough import ENDPOINTS
from plinth.vectorstores.wire import Search

STORE_METADATA_KEY = "plinth_rerank_model"


class RerankOption(WireModel):
    model: str = Field(min_length=1, max_length=200)
    candidates: int = Field(
        MAX_NUM_RESULTS, ge=1, le=MAX_NUM_RESULTS, description="Fused hits the reranker sees."
    )


class RerankedSearch(Search):
    """``POST /v1/vector_stores/{id}/search``: OpenAI's body plus Plinth's ``rerank``."""

    rerank: RerankOption | None = None


async def rerank_hits(
    gateway: Gateway,
    principal: Principal,
    option: RerankOption,
    query: str,
    hits: list[tuple[Hit, str]],
    keep: int,
) -> list[tuple[Hit, str]]:
    """The best ``keep`` of ``hits`` by the reranker's relevance to ``query``."""
    if not hits:
        return hits
    acct = gateway.open(new_request_id(), "rerank", option.model, principal)
    body = {
        "model": option.model,
        "query": query,
        "documents": [hit.text for hit, _ in hits],
        "top_n": min(keep, len(hits)),
    }
    parts = PassThrough(gateway).forward(acct, Forward(ENDPOINTS["rerank"], option.model, body))
    answer = None
    async for part in parts:  # the head, then the end of the request (its ledger row)
        if isinstance(part, Head):
            answer = part.json
    try:
        ranked = [(int(r["index"]), float(r["relevance_score"])) for r in answer["results"]]  # type: ignore[index]
        reordered = [(dataclasses.replace(hits[i][0], score=s), hits[i][1]) for i, s in ranked]
    except (KeyError, TypeError, ValueError, IndexError):
        raise UpstreamBadResponse(
            f"The rerank deployment of '{option.model}' sent results Plinth cannot read"
        ) from None
    return reordered[:keep]
