"""``POST /v1/chat/completions``, ``POST /v1/completions`` and ``POST /v1/embeddings``.

These routes are served by the fast path (``api/fastpath.py``), past
Starlette's exception handlers, so they turn errors into responses
themselves. Their catches are the one exception to "routes raise, the app's
handler answers": each adds context the handler cannot know, namely the
request id, the unauthenticated-request metric, and the ledger row of a
request that failed after it was admitted.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from plinth.api.http import (
    REQUEST_ID_HEADER,
    error_response,
    json_response,
    new_request_id,
    parse_json,
    peek_model,
    read_body,
    sse_frames,
)
from plinth.engines.base import Json
from plinth.errors import InvalidRequest, PlinthError
from plinth.metering.accounting import Accounting
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.completions import CompletionRequest
from plinth.protocol.embeddings import EmbeddingRequest
from plinth.services import Services, services

log = logging.getLogger(__name__)

Body = ChatCompletionRequest | CompletionRequest | EmbeddingRequest


def failure(exc: BaseException, request_id: str) -> Response:
    """The response for any error of an admitted request, naming its id."""
    if not isinstance(exc, PlinthError):
        log.exception("request %s failed unexpectedly", request_id, exc_info=exc)
    return error_response(exc, request_id)


async def first_chunk(chunks: AsyncIterator[Json], request_id: str) -> Json | Response:
    """The stream's first chunk, or the error response to send instead.

    Headers wait for it: anything that fails before output starts gets a real
    HTTP status, not an SSE error frame.
    """
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return failure(RuntimeError("the engine produced an empty stream"), request_id)
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return failure(exc, request_id)


async def admit(
    request: Request, endpoint: str, model_cls: type[Body]
) -> tuple[Services, Accounting, Any] | Response:
    """Authenticate, read and validate; a failure comes back as the response to send."""
    svc, request_id = services(request), new_request_id()
    try:
        principal = await svc.auth.authenticate(request)
    except PlinthError as exc:  # context: the metric and the request id
        svc.metrics.requests.labels(endpoint, "unknown", "unauthenticated").inc()
        return error_response(exc, request_id)
    acct = svc.gateway.open(request_id, endpoint, "", principal)
    try:
        raw = await read_body(request, svc.settings.max_body_bytes)
        acct.model = peek_model(raw) or ""
        return svc, acct, parse_json(raw, model_cls)
    except PlinthError as exc:  # context: the failed request's ledger row and its id
        svc.gateway.fail(acct, exc)
        return error_response(exc, request_id)
    except ClientDisconnect:
        # Gone while sending its body: book it; the response reaches nobody.
        svc.gateway.fail(
            acct,
            InvalidRequest("client disconnected before its body arrived"),
            status="client_disconnected",
        )
        return Response(status_code=400)


async def _generate(request: Request, endpoint: str, model_cls: type[Body]) -> Response:
    admitted = await admit(request, endpoint, model_cls)
    if isinstance(admitted, Response):
        return admitted
    svc, acct, body = admitted
    if not body.stream:
        try:
            result = await svc.gateway.generate(acct, body)
        except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
            return failure(exc, acct.request_id)
        return json_response(result, acct.request_id)
    chunks = svc.gateway.generate_stream(acct, body)
    first = await first_chunk(chunks, acct.request_id)
    if isinstance(first, Response):
        return first
    return StreamingResponse(
        sse_frames(chunks, acct.request_id, first=first),
        media_type="text/event-stream",
        headers={REQUEST_ID_HEADER: acct.request_id, "cache-control": "no-cache"},
    )


async def chat_completions(request: Request) -> Response:
    return await _generate(request, "chat.completions", ChatCompletionRequest)


async def completions(request: Request) -> Response:
    return await _generate(request, "completions", CompletionRequest)


async def embeddings(request: Request) -> Response:
    admitted = await admit(request, "embeddings", EmbeddingRequest)
    if isinstance(admitted, Response):
        return admitted
    svc, acct, body = admitted
    try:
        result = await svc.gateway.embed(acct, body)
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return failure(exc, acct.request_id)
    return json_response(result, acct.request_id)


endpoints = {
    "/v1/chat/completions": chat_completions,
    "/v1/completions": completions,
    "/v1/embeddings": embeddings,
}
# Also as Starlette routes: a GET on them is a 405 from the router, and the
# fast path (api/fastpath.py) serves the POSTs.
routes = [Route(path, endpoint, methods=["POST"]) for path, endpoint in endpoints.items()]
