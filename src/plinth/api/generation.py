"""``POST /v1/chat/completions``, ``POST /v1/completions`` and ``POST /v1/embeddings``.

These routes are served by the fast path (``api/fastpath.py``), past
Starlette's exception handlers, so they turn errors into responses
themselves. Their catches, and admission's (``api/dialect.py``, shared with
the Anthropic and Ollama routes), are the one exception to "routes raise, the
app's handler answers": each adds context the handler cannot know, namely the
request id, the unauthenticated-request metric, and the ledger row of a
request that failed after it was admitted.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api import dialect
from plinth.api.http import REQUEST_ID_HEADER, error_response, json_response, sse_frames
from plinth.metering.accounting import Accounting
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.completions import CompletionRequest
from plinth.protocol.embeddings import EmbeddingRequest
from plinth.server.event_stream import EventStream
from plinth.services import Services

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
C = TypeVar("C")
# Request: "on" / "off" opts into or out of the response cache; response: "hit" or "miss".
CACHE_HEADER = "x-plinth-cache"


def failure(exc: BaseException, request_id: str) -> Response:
    """The response for any error of an admitted request, naming its id."""
    return dialect.failed(exc, request_id, error_response)


async def first_chunk(chunks: AsyncIterator[C], request_id: str) -> C | Response:
    """The stream's first chunk, or the error response to send instead.

    Headers wait for it: anything that fails before output starts gets a real
    HTTP status, not an SSE error frame.
    """
    first = await dialect.first_chunk(chunks)
    return failure(first, request_id) if isinstance(first, BaseException) else first


async def admit(
    request: Request, endpoint: str, model_cls: type[M]
) -> tuple[Services, Accounting, M] | Response:
    """Authenticate, read and validate; a failure comes back as the response to send.

    The same admission as the foreign dialects' (``api/dialect.py``), with
    refusals in OpenAI's error shape.
    """
    admitted = await dialect.admit(request, endpoint, model_cls, error_response)
    if isinstance(admitted, Response):
        return admitted
    return admitted.svc, admitted.acct, admitted.body


async def _generate(
    request: Request, endpoint: str, model_cls: type[ChatCompletionRequest | CompletionRequest]
) -> Response:
    admitted = await admit(request, endpoint, model_cls)
    if isinstance(admitted, Response):
        return admitted
    svc, acct, body = admitted
    acct.cache_opt_in = request.headers.get(CACHE_HEADER)
    if not body.stream:
        try:
            result = await svc.gateway.generate(acct, body)
        except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
            return failure(exc, acct.request_id)
        response = json_response(result, acct.request_id)
        if acct.cache is not None:
            response.headers[CACHE_HEADER] = acct.cache  # hit or miss
        return response
    chunks = svc.gateway.generate_sse(acct, body)
    first = await first_chunk(chunks, acct.request_id)
    if isinstance(first, Response):
        return first
    headers = {REQUEST_ID_HEADER: acct.request_id, "cache-control": "no-cache"}
    if acct.cache is not None:
        headers[CACHE_HEADER] = acct.cache
    return EventStream(sse_frames(chunks, acct.request_id, first=first), headers)


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
