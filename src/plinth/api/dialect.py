"""Admission for every generating route, OpenAI's and the foreign dialects' alike.

Request id, key, bounded body, validation, a ledger row for every refusal;
a refusal is rendered by the caller's ``render`` (OpenAI's error shape for
``api/generation.py``, Anthropic's or Ollama's for theirs) so clients get the
error shape they parse. After admission, a dialect translates its body into a
``ChatCompletionRequest`` or ``EmbeddingRequest`` and calls the gateway like
any chat route.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from plinth.api.http import (
    REQUEST_ID_HEADER,
    new_request_id,
    read_body,
    services,
    validation_error,
)
from plinth.auth import Principal
from plinth.errors import InvalidRequest, PlinthError
from plinth.metering.accounting import Accounting
from plinth.services import Services

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
C = TypeVar("C")
#: Renders any exception as the dialect's error response, naming the request id.
Render = Callable[[BaseException, str], Response]


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON; text a client sent with lone surrogates goes out \\u-escaped."""
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(data, separators=(",", ":")).encode()


def json_answer(
    data: Any, request_id: str | None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    extra = {REQUEST_ID_HEADER: request_id} if request_id else {}
    return Response(
        json_bytes(data), status, headers=extra | (headers or {}), media_type="application/json"
    )


@dataclass
class Admitted:
    svc: Services
    acct: Accounting
    body: Any


def with_api_key_header(request: Request, header: str) -> Request:
    """``request`` as the authenticator reads it: a key in ``header`` becomes the bearer.

    Anthropic's clients send ``x-api-key``; an ``Authorization`` header, when
    present, wins (the SDK sends that instead when given an auth token).
    """
    key = request.headers.get(header)
    if not key or request.headers.get("authorization", "").strip():
        return request
    dropped = {header.encode("latin-1"), b"authorization"}  # an empty one included
    raw = [(k, v) for k, v in request.scope["headers"] if k not in dropped]
    raw.append((b"authorization", b"Bearer " + key.strip().encode("latin-1")))
    return Request({**request.scope, "headers": raw}, request.receive)


async def authenticated(
    request: Request, endpoint: str, render: Render, key_header: str = ""
) -> tuple[Services, str, Principal] | Response:
    """The services, a new request id and the caller; or the refusal to send."""
    svc, request_id = services(request), new_request_id()
    request.state.request_id = request_id
    try:
        keyed = with_api_key_header(request, key_header) if key_header else request
        return svc, request_id, await svc.auth.authenticate(keyed)
    except PlinthError as exc:
        svc.metrics.requests.labels(endpoint, "unknown", "unauthenticated").inc()
        return render(exc, request_id)


async def admit(
    request: Request, endpoint: str, model_cls: type[M], render: Render, *, key_header: str = ""
) -> Admitted | Response:
    """Authenticate, read and validate; a refusal comes back as the response to send.

    From here on the request has its ledger row: refusals are booked at once,
    the rest by the gateway.
    """
    caller = await authenticated(request, endpoint, render, key_header)
    if isinstance(caller, Response):
        return caller
    svc, request_id, principal = caller
    acct = svc.gateway.open(request_id, endpoint, "", principal)
    try:
        raw = await read_body(request, svc.settings.max_body_bytes)
        model, parsed = await svc.body_parser.parse(raw, model_cls, principal.key_id)
        acct.model = model or ""
        if isinstance(parsed, PlinthError):
            raise parsed
        return Admitted(svc, acct, parsed)
    except PlinthError as exc:
        svc.gateway.fail(acct, exc)
        return render(exc, request_id)
    except ClientDisconnect:
        # Gone while sending its body: book it; the response reaches nobody.
        gone = InvalidRequest("client disconnected before its body arrived")
        svc.gateway.fail(acct, gone, status="client_disconnected")
        return Response(status_code=400)


async def first_chunk(chunks: AsyncIterator[C]) -> C | BaseException:
    """The stream's first chunk, or the error to answer instead (headers wait for it)."""
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return RuntimeError("the engine produced an empty stream")
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return exc


def translated(model_cls: type[M], fields: dict[str, Any]) -> M:
    """A translated body validated as Plinth's own request; a bad value is a 400.

    The dialect's own model checked the client's fields; this catches values
    that only Plinth's request rejects (a ``max_tokens`` beyond an engine's range).
    """
    try:
        return model_cls.model_validate(fields)
    except ValidationError as exc:
        raise validation_error(exc) from None


def refuse(admitted: Admitted, exc: BaseException, render: Render) -> Response:
    """Book a request that failed between admission and the gateway, and answer it."""
    if not isinstance(exc, PlinthError):
        log.exception("request %s failed unexpectedly", admitted.acct.request_id, exc_info=exc)
    admitted.svc.gateway.fail(admitted.acct, exc)
    return render(exc, admitted.acct.request_id)


def failed(exc: BaseException, request_id: str, render: Render) -> Response:
    """A gateway failure (the gateway booked it already) as the dialect's response."""
    if not isinstance(exc, PlinthError):
        log.exception("request %s failed unexpectedly", request_id, exc_info=exc)
    return render(exc, request_id)
