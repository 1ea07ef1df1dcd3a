"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API.

Any model Plinth serves can be called this way. One request: admit (the key
from ``x-api-key`` or a bearer header; body validated as Anthropic validates
it) → translate to a chat completion (:mod:`plinth.api.anthropic_inbound`) →
the gateway, so privacy policies, budgets, routing, failover and the one
ledger row (endpoint ``messages``) are those of ``/v1/chat/completions`` →
the answer as a ``message``, or as Anthropic's event stream
(:mod:`plinth.api.anthropic_stream`). Every error, from a missing key to an
upstream failure, is in Anthropic's shape (:func:`plinth.protocol.anthropic.error_json`).

When every deployment of the model runs the ``anthropic`` engine, the body
goes to it untranslated (:mod:`plinth.anthropic_native`), with the client's
``anthropic-version`` and ``anthropic-beta`` headers, so prompt-cache marks,
betas, ``top_k`` and thinking reach it. A model that may also be served by
another engine is translated for all of them (failover may cross engines);
there ``anthropic-version`` and ``anthropic-beta`` are accepted, not forwarded.

``count_tokens`` counts with Plinth's local estimate (the one the ledger uses
when an engine reports none), not the serving model's tokenizer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from plinth.anthropic_native import NativeMessages
from plinth.api.anthropic_inbound import chat_messages, message_id, to_chat_body, to_message
from plinth.api.anthropic_stream import message_events
from plinth.api.dialect import (
    Admitted,
    admit,
    authenticated,
    failed,
    first_chunk,
    json_answer,
    refuse,
    translated,
)
from plinth.api.http import REQUEST_ID_HEADER, parse_json, read_body
from plinth.errors import AuthenticationFailed
from plinth.protocol.anthropic import CountTokensRequest, MessagesRequest, error_json
from plinth.protocol.chat import ChatCompletionRequest
from plinth.tokens import estimate_tokens, request_text

ENDPOINT = "messages"
KEY_HEADER = "x-api-key"
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


def anthropic_error(exc: BaseException, request_id: str) -> Response:
    """Any exception as Anthropic's error response."""
    if isinstance(exc, AuthenticationFailed) and exc.code == "missing_api_key":
        exc = AuthenticationFailed(
            "Missing API key: send it as the 'x-api-key' header or as "
            "'Authorization: Bearer <key>'",
            code="missing_api_key",
        )
    status, body = error_json(exc, request_id)
    headers = {"request-id": request_id}
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        headers["retry-after"] = str(max(1, round(retry_after)))
    return json_answer(body, request_id, status, headers)


def _json(data: Any, request_id: str) -> Response:
    return json_answer(data, request_id, headers={"request-id": request_id})


async def _stream(admitted: Admitted, chat: ChatCompletionRequest) -> Response:
    svc, acct = admitted.svc, admitted.acct
    chunks = svc.gateway.generate_stream(acct, chat)
    first = await first_chunk(chunks)
    if isinstance(first, BaseException):
        return failed(first, acct.request_id, anthropic_error)
    # The prompt's count arrives with the last chunk; message_start gets an estimate.
    estimate = estimate_tokens(request_text(chat.engine_body()))
    events = message_events(acct.request_id, chat.model, first, chunks, estimate)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={
            REQUEST_ID_HEADER: acct.request_id,
            "request-id": acct.request_id,
            "cache-control": "no-cache",
        },
    )


async def create_message(request: Request) -> Response:
    admitted = await admit(
        request, ENDPOINT, MessagesRequest, anthropic_error, key_header=KEY_HEADER
    )
    if isinstance(admitted, Response):
        return admitted
    body: MessagesRequest = admitted.body
    native = NativeMessages(admitted.svc.gateway)
    if native.applies(admitted.acct, body.model):
        return await _native(request, admitted, native)
    try:
        chat = translated(ChatCompletionRequest, to_chat_body(body))
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return refuse(admitted, exc, anthropic_error)
    if body.stream:
        return await _stream(admitted, chat)
    try:
        result = await admitted.svc.gateway.generate(admitted.acct, chat)
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return failed(exc, admitted.acct.request_id, anthropic_error)
    request_id = admitted.acct.request_id
    return _json(to_message(result, message_id(request_id), body.model), request_id)


async def _native(request: Request, admitted: Admitted, native: NativeMessages) -> Response:
    """The request untranslated, to the Anthropic deployments that alone serve its model."""
    acct, body = admitted.acct, admitted.body
    raw = body.model_dump(mode="json", exclude_unset=True)
    headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
    if not body.stream:
        try:
            answer = await native.create(acct, raw, headers)
        except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
            return failed(exc, acct.request_id, anthropic_error)
        return _json(answer, acct.request_id)
    frames = native.stream(acct, raw, headers)
    try:
        first = await anext(frames)
    except Exception as exc:  # noqa: BLE001 - before any frame: a real status
        return failed(exc, acct.request_id, anthropic_error)

    async def rest() -> AsyncIterator[bytes]:
        try:
            yield first
            async for piece in frames:
                yield piece
        finally:
            await frames.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(
        rest(),
        media_type="text/event-stream",
        headers={
            REQUEST_ID_HEADER: acct.request_id,
            "request-id": acct.request_id,
            "cache-control": "no-cache",
        },
    )


def _count(body: CountTokensRequest) -> int:
    """Estimated input tokens: the conversation's text plus the tool definitions."""
    texts: list[str] = []
    for message in chat_messages(body):
        content = message.get("content")
        if isinstance(content, list):
            texts.extend(str(p.get("text") or "") for p in content)
        elif content:
            texts.append(str(content))
        for call in message.get("tool_calls") or ():
            texts.append(call["function"]["arguments"])
    for tool in body.tools or ():
        texts.append(json.dumps(tool, ensure_ascii=False))
    return estimate_tokens("\n".join(texts))


async def count_tokens(request: Request) -> Response:
    """Not a generation: nothing leaves Plinth, so no ledger row and no privacy screening."""
    caller = await authenticated(request, "messages.count_tokens", anthropic_error, KEY_HEADER)
    if isinstance(caller, Response):
        return caller
    svc, request_id, principal = caller
    try:
        raw = await read_body(request, svc.settings.max_body_bytes)
        body = parse_json(raw, CountTokensRequest)
        svc.router.kind(body.model, principal.tenant_id)  # unknown: a 404, as for messages
        tokens = _count(body)
    except ClientDisconnect:
        return Response(status_code=400)  # gone: the answer reaches nobody
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return failed(exc, request_id, anthropic_error)
    return _json({"input_tokens": tokens}, request_id)


routes = [
    Route("/v1/messages", create_message, methods=["POST"]),
    Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
]
