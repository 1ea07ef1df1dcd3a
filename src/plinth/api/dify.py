"""Dify's External Knowledge API: ``POST /retrieval`` over a vector store.

Register Plinth in Dify as an external knowledge API with endpoint
``http(s)://<plinth>`` and a Plinth key; the "external knowledge ID" is a
vector store id. Errors use Dify's shape ``{error_code, error_msg}``:
1001 malformed Authorization header (403), 1002 authorization failed (403),
2001 knowledge does not exist (404); a malformed body is a 400 with 1000.

``metadata_condition`` maps onto OpenAI attribute filters where it can:
``is``/``=`` → eq, ``is not``/``≠`` → ne, ``>``/``<``/``≥``/``≤`` and
``after``/``before`` → gt/lt, ``in``/``not in`` → or/and of eq/ne. The
substring operators (contains, start with…) and empty/not empty have no
filter equivalent and are answered with a 400 rather than ignored.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.http import read_body, services
from plinth.errors import (
    AuthenticationFailed,
    DifyError,
    FilterError,
    InvalidRequest,
    NotFound,
    PlinthError,
)
from plinth.knowledge.filters import parse_filter
from plinth.knowledge.index import Hit, SearchOptions

_MAX_BODY = 1024 * 1024
_COMPARISONS = {
    "is": "eq",
    "=": "eq",
    "is not": "ne",
    "≠": "ne",
    ">": "gt",
    "<": "lt",
    "≥": "gte",
    "≤": "lte",
    "after": "gt",
    "before": "lt",
}


class RetrievalSetting(BaseModel):
    top_k: int = Field(ge=1)
    score_threshold: float = Field(0.0, ge=0.0, le=1.0)


class Condition(BaseModel):
    name: list[str] | str
    comparison_operator: str
    value: str | int | float | list[str] | None = None


class MetadataCondition(BaseModel):
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[Condition]


class Retrieval(BaseModel):
    knowledge_id: str
    query: str
    retrieval_setting: RetrievalSetting
    metadata_condition: MetadataCondition | None = None


def _error(exc: PlinthError) -> Response:
    """Dify's error shape; any other PlinthError keeps its status, its code becomes 1000+status."""
    if isinstance(exc, DifyError):
        status, code = exc.http_status, exc.dify_code
    else:
        status, code = exc.status_code, 1000 + exc.status_code
    body = {"error_code": code, "error_msg": exc.message}
    return Response(json.dumps(body, ensure_ascii=False), status, media_type="application/json")


def _condition_filter(condition: Condition) -> dict[str, Any]:
    names = [condition.name] if isinstance(condition.name, str) else condition.name
    op, value = condition.comparison_operator, condition.value
    if op in ("in", "not in"):
        values = value if isinstance(value, list) else [value]
        kind, joiner = ("eq", "or") if op == "in" else ("ne", "and")
        parts = [{"type": kind, "key": n, "value": v} for n in names for v in values]
    elif op in _COMPARISONS and value is not None and not isinstance(value, list):
        parts = [{"type": _COMPARISONS[op], "key": n, "value": value} for n in names]
        joiner = "or"
    else:
        raise FilterError(f"comparison_operator '{op}' is not supported here")
    return parts[0] if len(parts) == 1 else {"type": joiner, "filters": parts}


def to_filter(condition: MetadataCondition) -> dict[str, Any]:
    """Dify's metadata_condition as an OpenAI filter object."""
    parts = [_condition_filter(c) for c in condition.conditions]
    if not parts:
        raise FilterError("metadata_condition.conditions is empty")
    return parts[0] if len(parts) == 1 else {"type": condition.logical_operator, "filters": parts}


async def _search(request: Request) -> list[tuple[Hit, str]]:
    svc = services(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DifyError(
            403, 1001, "Invalid Authorization header format. Expected 'Bearer <api-key>'."
        )
    try:
        principal = await svc.auth.authenticate(request)
    except AuthenticationFailed:
        raise DifyError(403, 1002, "Authorization failed") from None
    try:
        body = Retrieval.model_validate_json(await read_body(request, _MAX_BODY))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DifyError(400, 1000, f"Invalid request at '{where}': {first['msg']}") from None
    vs = svc.vector_stores
    if vs is None:
        raise DifyError(404, 2001, "The knowledge does not exist")
    key_id = None if principal.is_admin else principal.key_id
    try:
        store = await vs.visible(body.knowledge_id, key_id)
    except NotFound:
        raise DifyError(404, 2001, "The knowledge does not exist") from None
    try:
        vs.live(store)  # as the search endpoint and /v1/responses refuse it
        condition = body.metadata_condition
        options = SearchOptions(
            max_num_results=min(body.retrieval_setting.top_k, 50),
            filters=None if condition is None else parse_filter(to_filter(condition)),
            score_threshold=body.retrieval_setting.score_threshold,
        )
    except FilterError as exc:
        raise DifyError(400, 1000, f"Invalid metadata_condition: {exc.message}") from None
    except InvalidRequest as exc:
        raise DifyError(400, 1400, exc.message) from None
    return await vs.search(store, [body.query], options) if body.query.strip() else []


async def retrieval(request: Request) -> Response:
    try:
        results = await _search(request)
    except PlinthError as exc:  # Dify's contract has its own error shape, not OpenAI's
        return _error(exc)
    records = [
        {
            "content": hit.text,
            "score": round(hit.score, 6),
            "title": filename,
            # Dify needs an object here (never null).
            "metadata": {**hit.attributes, "file_id": hit.file_id, "chunk": hit.seq},
        }
        for hit, filename in results
    ]
    return Response(
        json.dumps({"records": records}, ensure_ascii=False), media_type="application/json"
    )


routes = [Route("/retrieval", retrieval, methods=["POST"])]
