"""HTTP plumbing shared by the routers: body parsing, responses, SSE frames."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from plinth.api.json_body import BAD_CHARS, load_json
from plinth.errors import (
    InvalidRequest,
    PayloadTooLarge,
    PlinthError,
    UnsupportedParameter,
    error_body,
)

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
#: Longest model name booked for a request (deployments' names are at most 200).
MAX_MODEL_NAME = 200


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(data: Any, request_id: str | None = None, status: int = 200) -> Response:
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return Response(_dumps(data), status, headers=headers, media_type="application/json")


def error_response(exc: BaseException, request_id: str | None = None) -> Response:
    status, body = error_body(exc, request_id)
    headers = {REQUEST_ID_HEADER: request_id} if request_id else {}
    if body["error"]["code"] == "internal_error":
        # A real fault: the server may drop this connection after answering, so say so.
        headers["connection"] = "close"
    if status == 401:
        headers["www-authenticate"] = "Bearer"
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        headers["retry-after"] = str(max(1, round(retry_after)))
    return Response(_dumps(body), status, headers=headers, media_type="application/json")


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"Request body is {declared} bytes; the limit is {max_bytes}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"Request body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_BRANCH_PREFIXES = ("function-", "union[", "list[", "dict[", "tagged-union[", "literal[")
_BRANCH_NAMES = {"str", "int", "float", "bool", "none"}


def _is_branch_label(part: str) -> bool:
    """Pydantic's union-branch labels in an error location are noise to a client."""
    return part in _BRANCH_NAMES or part.startswith(_BRANCH_PREFIXES)


def _param_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not path:
            path = str(part)
        elif not _is_branch_label(str(part)):
            path += f".{part}"
    return path


def validation_error(exc: ValidationError) -> InvalidRequest:
    first = exc.errors()[0]
    param = _param_path(tuple(first["loc"])) or None
    if first["type"] == "extra_forbidden":
        return UnsupportedParameter(f"Unrecognized request argument supplied: {param}", param=param)
    if first["type"] == "missing":
        return InvalidRequest(f"Missing required parameter: '{param}'", param=param)
    where = f" at '{param}'" if param else ""
    return InvalidRequest(f"Invalid value{where}: {first['msg']}", param=param)


def load_json_object(raw: bytes) -> dict[str, Any]:
    """A body that must be one JSON object, read within :mod:`plinth.api.json_body`'s bounds."""
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object")
    data = load_json(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object")
    return data


def parse_json(raw: bytes, model: type[M]) -> M:
    data = load_json_object(raw)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def peek_model(raw: bytes) -> str | None:
    """The ``model`` field, if readable, so even a rejected request is booked to its model."""
    try:
        value = json.loads(raw.decode("utf-8")).get("model")
    except (ValueError, AttributeError, RecursionError):
        return None
    # Only what a model name can be: the ledger stores it (PostgreSQL refuses NUL,
    # UTF-8 refuses lone surrogates) even when the body is then rejected.
    if not isinstance(value, str) or len(value) > MAX_MODEL_NAME or BAD_CHARS.search(value):
        return None
    return value


async def sse_frames(
    chunks: AsyncIterator[Any], request_id: str, *, first: Any = None
) -> AsyncIterator[bytes]:
    """Server-sent events as OpenAI sends them; a failure becomes an error frame.

    ``first`` is a chunk already taken from ``chunks`` (to learn, before the
    status line, whether the stream starts at all). The iterator is closed on
    the way out, whoever ends the stream.
    """
    try:
        if first is not None:
            yield b"data: " + _dumps(first) + b"\n\n"
        async for chunk in chunks:
            yield b"data: " + _dumps(chunk) + b"\n\n"
    except Exception as exc:  # the status line is sent: an error frame is all we can do
        if not isinstance(exc, PlinthError):
            log.exception("stream %s failed unexpectedly", request_id, exc_info=exc)
        _, body = error_body(exc, request_id)
        yield b"data: " + _dumps(body) + b"\n\n"
        return
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    yield b"data: [DONE]\n\n"
