"""Rerank in the shape of Hugging Face text-embeddings-inference (TEI).

TEI serves ``POST /rerank`` with ``{"query", "texts"}`` and answers a bare
list of ``{"index", "score", "text"?}``; clients of ``/v1/rerank`` speak
Cohere's shape (``documents``, ``top_n``, ``return_documents`` →
``{"results": [{"index", "relevance_score", "document"}]}``), as vLLM and
Xinference do. A deployment with ``rerank_format = "tei"`` is translated
both ways here.
"""

from __future__ import annotations

import json
from typing import Any

from plinth.engines.base import Json
from plinth.errors import UpstreamBadResponse


def tei_request(body: Json) -> Json:
    """A Cohere-shaped rerank body as TEI's."""
    texts = [d if isinstance(d, str) else str(d.get("text", "")) for d in body["documents"]]
    return {
        "query": body["query"],
        "texts": texts,
        "return_text": bool(body.get("return_documents")),
        "truncate": True,  # a chunk longer than the model's window is cut, not refused
    }


def cohere_answer(raw: bytes, body: Json, model: str, where: str) -> Json:
    """TEI's ranked list as Cohere's answer: best first, cut to ``top_n``."""
    try:
        ranked: list[Any] = json.loads(raw)
        scored = sorted(
            ((int(item["index"]), float(item["score"]), item.get("text")) for item in ranked),
            key=lambda entry: -entry[1],
        )
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise UpstreamBadResponse(
            f"Upstream {where} sent a rerank answer that is not TEI's"
        ) from None
    top_n = body.get("top_n") or len(scored)
    results: list[Json] = []
    for index, score, text in scored[:top_n]:
        result: Json = {"index": index, "relevance_score": score}
        if body.get("return_documents"):
            result["document"] = {"text": text if isinstance(text, str) else ""}
        results.append(result)
    return {"model": model, "results": results}
