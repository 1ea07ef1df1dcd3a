"""``POST /v1/rerank``, ``/v1/audio/transcriptions``, ``/v1/audio/translations``,
``/v1/audio/speech``, ``/v1/images/generations`` and ``/v1/moderations``.

Thin routes: authenticate, read the JSON body or the multipart upload (the
audio file bounded by ``audio_max_bytes``), validate the fields Plinth acts
on, and hand the request to :mod:`plinth.passthrough`. Like the generation
routes they book every admitted request, refusals included, so their catches
are the one exception to "routes raise".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from plinth.api import dialect
from plinth.api.http import (
    REQUEST_ID_HEADER,
    error_response,
    json_response,
    parse_json,
    read_body,
    validation_error,
)
from plinth.engines.base import FormPart
from plinth.errors import InvalidFile, InvalidRequest, PayloadTooLarge, PlinthError
from plinth.metering.accounting import Accounting
from plinth.passthrough import Forward, Head, PassThrough
from plinth.protocol.passthrough import ENDPOINTS, Endpoint
from plinth.services import Services

_FORM_FIELDS = 20


async def _read_upload(request: Request, svc: Services, endpoint: Endpoint) -> Forward:
    """A transcription or translation upload: its text fields and its one file."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest(f"Send {endpoint.path} as multipart/form-data with 'file' and 'model'")
    limit = svc.settings.audio_max_bytes
    try:
        form = await request.form(max_files=1, max_fields=_FORM_FIELDS, max_part_size=limit)
    except MultiPartException as exc:
        raise InvalidRequest(f"Malformed multipart body: {exc.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("Missing required parameter: 'file'", param="file")
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"The audio file is over audio_max_bytes ({limit} bytes)")
        if not data:
            raise InvalidFile("The audio file is empty", param="file")
        fields: dict[str, Any] = {}
        for name, value in form.multi_items():
            if isinstance(value, str):  # a repeated field (timestamp_granularities[]) is a list
                previous = fields.get(name)
                fields[name] = value if previous is None else [*_as_list(previous), value]
        try:
            wire = endpoint.wire.model_validate(fields)
        except ValidationError as exc:
            raise validation_error(exc) from None
        part = FormPart("file", data, upload.filename or "audio", upload.content_type)
        return Forward(endpoint, wire.model, fields, part)
    finally:
        await form.close()


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


async def _read(request: Request, svc: Services, endpoint: Endpoint) -> Forward:
    if endpoint.multipart:
        return await _read_upload(request, svc, endpoint)
    wire = parse_json(await read_body(request, svc.settings.max_body_bytes), endpoint.wire)
    return Forward(endpoint, wire.model, wire.model_dump(exclude_unset=False, by_alias=True))


async def _admit(
    request: Request, endpoint: Endpoint
) -> tuple[Services, Accounting, Forward] | Response:
    caller = await dialect.authenticated(request, endpoint.name, error_response)
    if isinstance(caller, Response):
        return caller
    svc, request_id, principal = caller
    acct = svc.gateway.open(request_id, endpoint.name, "", principal)
    try:
        forward = await _read(request, svc, endpoint)
    except PlinthError as exc:
        svc.gateway.fail(acct, exc)
        return error_response(exc, request_id)
    except ClientDisconnect:
        svc.gateway.fail(acct, InvalidRequest("client disconnected"), status="client_disconnected")
        return Response(status_code=400)
    acct.model = forward.model
    return svc, acct, forward


async def _serve(request: Request, endpoint: Endpoint) -> Response:
    admitted = await _admit(request, endpoint)
    if isinstance(admitted, Response):
        return admitted
    svc, acct, forward = admitted
    parts = PassThrough(svc.gateway).forward(acct, forward)
    try:
        head = await anext(parts)
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return dialect.failed(exc, acct.request_id, error_response)
    assert isinstance(head, Head)
    if head.json is not None:
        async for _ in parts:  # the rest books the request (and waits for its ledger row)
            pass
        return json_response(head.json, acct.request_id)
    return StreamingResponse(
        _bytes(parts),
        media_type=head.content_type,
        headers={REQUEST_ID_HEADER: acct.request_id},
    )


async def _bytes(parts: AsyncIterator[Head | bytes]) -> AsyncIterator[bytes]:
    try:
        async for part in parts:
            if isinstance(part, bytes):
                yield part
    finally:
        await parts.aclose()  # type: ignore[attr-defined]


def _route(endpoint: Endpoint) -> Route:
    async def handler(request: Request) -> Response:
        return await _serve(request, endpoint)

    handler.__name__ = endpoint.name.replace(".", "_")
    handler.__doc__ = f"Forwarded to a deployment whose endpoints list '{endpoint.name}'."
    return Route(endpoint.path, handler, methods=["POST"])


routes = [_route(endpoint) for endpoint in ENDPOINTS.values()]
