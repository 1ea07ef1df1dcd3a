"""HTTP plumbing shared by the routers: a request's body in, JSON and SSE out.

**The body** (:func:`read_body`, :func:`parse_json`, :class:`BodyParser`) is
read within fixed bounds, without recursion of our own. ``json.loads`` alone
lets a client send what later code trips over: nesting thousands deep
(``RecursionError`` in every recursive consumer), ``NaN`` and ``Infinity``
(not JSON, but Python accepts them), ``1e999`` (read as infinity),
100,000-digit integers (``ValueError`` from Python's digit limit), NUL
characters and lone surrogates (rejected by PostgreSQL and by UTF-8
encoders). :func:`load_json` turns each of those into a 400. The depth check
is a linear scan of the brackets outside strings; bodies whose bracket count
is below the limit (nearly all) skip it entirely.

**Large bodies are parsed off the event loop**, at most two per key at once.
Decoding, bounding and validating an 8 MiB JSON body is linear but takes tens
of milliseconds (more under load); on the event loop that would stall every
other client for as long, and a key sending many at once would stall them for
longer. Bodies of :data:`OFF_LOOP_BYTES` and more go to a small thread pool
instead (the loop keeps running between the interpreter's thread switches),
and a key with :data:`PER_KEY` such bodies in progress gets a 429 for the next
one. Small bodies, nearly all, are parsed inline: a thread hop would cost more.

**Out**: JSON responses with the request id, errors in OpenAI's shape, SSE frames.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from itertools import accumulate
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from plinth.errors import (
    InvalidRequest,
    PayloadTooLarge,
    PlinthError,
    RateLimited,
    UnsupportedParameter,
    error_body,
)
from plinth.json_encode import compact_encoder
from plinth.server.event_stream import DONE

if TYPE_CHECKING:  # services.py imports BodyParser from here
    from plinth.services import Services

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
#: Longest model name booked for a request (deployments' names are at most 200).
MAX_MODEL_NAME = 200


def services(request: Request) -> Services:
    """The app's long-lived objects (``plinth.services``), as a handler reaches them."""
    svc: Services = request.app.state.services
    return svc


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


# One encoder for every body: json.dumps with arguments builds a new one per call.
_ENCODE = compact_encoder(ensure_ascii=False)


def _dumps(data: Any) -> bytes:
    return _ENCODE(data).encode()


class JSONBody(Response):
    """A JSON answer: Starlette's ``Response`` with its headers built directly.

    ``Response.__init__`` lower-cases, encodes and scans a header dict to add
    two headers whose values are known here; this builds the same list, in the
    same order (x-request-id, content-length, content-type), in a third of the time.
    """

    media_type = "application/json"

    def __init__(self, body: bytes, status: int = 200, request_id: str | None = None):
        self.status_code, self.background, self.body = status, None, body
        raw = [(_REQUEST_ID_BYTES, request_id.encode("latin-1"))] if request_id else []
        raw.append((b"content-length", b"%d" % len(body)))
        raw.append(_JSON_TYPE)
        self.raw_headers = raw


_REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode("latin-1")
_JSON_TYPE = (b"content-type", b"application/json")


def json_response(data: Any, request_id: str | None = None, status: int = 200) -> Response:
    if status < 200 or status in (204, 304):  # no body and no length for these
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        return Response(_dumps(data), status, headers=headers, media_type="application/json")
    return JSONBody(_dumps(data), status, request_id)


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


# --- the request body --------------------------------------------------------


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"Request body is {declared} bytes; the limit is {max_bytes}")
    # ASGI messages read directly, as Request.stream() does, without an async
    # generator per request; the body is then the request's, as after body().
    chunks, size = [], 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"Request body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._body = body  # what Request.body() and stream() hand out from now on
    return body


#: Deepest nesting of objects and arrays a request body may have.
MAX_JSON_DEPTH = 64

# A NUL or a surrogate can only reach a decoded string through a \u escape.
_SUSPICIOUS_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise InvalidRequest(f"{name} is not a JSON number; send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InvalidRequest(f"The number {text[:32]} is out of range")
    return value


# One decoder for every body: json.loads with arguments builds a new one (and its
# scanner) per call, half the cost of decoding a small chat body.
_DECODE = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float).decode


def load_json(raw: bytes) -> Any:
    """Decode a request body, or raise :class:`InvalidRequest` saying what is wrong."""
    try:
        # Decoded here, strictly: json.loads(bytes) lets UTF-8-encoded surrogates through.
        text = raw.decode("utf-8")
        data = _DECODE(text)
    except RecursionError:
        raise _too_deep() from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise InvalidRequest(f"The request body has a value out of range: {exc}") from None
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
        check_depth(text)
    if _SUSPICIOUS_ESCAPE.search(text):
        check_strings(data)
    return data


def _too_deep() -> InvalidRequest:
    return InvalidRequest(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep")


# Applied to text json.loads accepted, so every string is well formed: one linear pass.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def check_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise if objects/arrays in valid JSON ``text`` nest deeper than ``limit``.

    The brackets outside strings, as +1/-1 steps, summed in C (no recursion, no
    Python-level loop over the items).
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit:
        raise _too_deep()


def check_strings(data: Any) -> None:
    """Raise if any string or key holds NUL or a lone surrogate (not storable as UTF-8)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            strings: list[str] = [value]
        elif isinstance(value, dict):
            strings = list(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            strings = []
            stack.extend(value)
        else:
            continue
        if any(BAD_CHARS.search(text) for text in strings):
            raise InvalidRequest(
                "Strings in the request must not contain NUL (\\u0000) or unpaired surrogates"
            )


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
    """A body that must be one JSON object, read within :func:`load_json`'s bounds."""
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
    return _bookable(value)


def _bookable(value: Any) -> str | None:
    # Only what a model name can be: the ledger stores it (PostgreSQL refuses NUL,
    # UTF-8 refuses lone surrogates) even when the body is then rejected.
    if not isinstance(value, str) or len(value) > MAX_MODEL_NAME or BAD_CHARS.search(value):
        return None
    return value


# --- large bodies off the loop ------------------------------------------------

OFF_LOOP_BYTES = 256 * 1024
PER_KEY = 2
WORKERS = 2


def _peek_and_parse(raw: bytes, model: type[M]) -> tuple[str | None, M | PlinthError]:
    try:
        parsed = parse_json(raw, model)
    except PlinthError as exc:  # a second, lenient read finds the model name to book
        return peek_model(raw), exc
    return _bookable(getattr(parsed, "model", None)), parsed  # one decode when it is valid


class BodyParser:
    """One per app: its threads start on the first large body."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="plinth-body")
        self._in_progress: Counter[str] = Counter()

    async def parse(
        self, raw: bytes, model: type[M], owner: str
    ) -> tuple[str | None, M | PlinthError]:
        """The body's ``model`` name (for the ledger, even if refused) and the request
        or the client error it is; the 429 for a busy key is raised."""
        if len(raw) < OFF_LOOP_BYTES:
            return _peek_and_parse(raw, model)
        if self._in_progress[owner] >= PER_KEY:
            raise RateLimited(
                f"At most {PER_KEY} large request bodies per key are read at once; retry shortly",
                retry_after_s=1,
            )
        self._in_progress[owner] += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, _peek_and_parse, raw, model)
        finally:
            self._in_progress[owner] -= 1
            if not self._in_progress[owner]:
                del self._in_progress[owner]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# --- server-sent events ------------------------------------------------------


async def sse_frames(
    chunks: AsyncIterator[Any], request_id: str, *, first: Any = None
) -> AsyncIterator[bytes]:
    """Server-sent events as OpenAI sends them; a failure becomes an error frame.

    ``first`` is a chunk already taken from ``chunks`` (to learn, before the
    status line, whether the stream starts at all). The iterator is closed on
    the way out, whoever ends the stream.
    """
    try:
        # Bytes are frames already (the streaming proxy's byte path, plinth.streaming).
        if first is not None:
            yield first if isinstance(first, bytes) else b"data: " + _dumps(first) + b"\n\n"
        async for chunk in chunks:
            yield chunk if isinstance(chunk, bytes) else b"data: " + _dumps(chunk) + b"\n\n"
    except Exception as exc:  # the status line is sent: an error frame is all we can do
        if not isinstance(exc, PlinthError):
            log.exception("stream %s failed unexpectedly", request_id, exc_info=exc)
        _, body = error_body(exc, request_id)
        yield b"data: " + _dumps(body) + b"\n\n"
        return
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    yield DONE  # this very object: EventStream sends it with the stream's end
