"""HTTP plumbing shared by engines that call a remote API: one pooled client,
timeouts, server-sent events, and upstream failures mapped to Plinth's errors.

Timeouts, per deployment:

- ``connect_timeout_s``: opening the TCP (and TLS) connection;
- ``first_token_timeout_s``: from sending the request to the response headers
  and, for a stream, to its first event;
- ``idle_timeout_s``: the longest silence between two stream events, which is
  what catches a stalled stream;
- ``total_timeout_s``: the whole exchange, body included.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import aiohttp

from plinth.deployment import Deployment
from plinth.engines.base import Inbound, Json
from plinth.engines.lean_http import BadHttp, ConnectFailed, Disconnected, LeanPool, writable
from plinth.errors import (
    InvalidRequest,
    PlinthError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnreachable,
    bounded_retry_after,
)

log = logging.getLogger(__name__)

_MAX_ERROR_TEXT = 300


class _NoUserAgentRequest(aiohttp.ClientRequest):
    """aiohttp's request without its ``User-Agent`` (which names the client library).

    ``skip_auto_headers=("user-agent",)`` did the same, but it takes aiohttp's slow
    path on every request (a sorted copy of the skip list and of all headers):
    about 3 % of the gateway's CPU per proxied request. Only the defaults that
    the request does not set itself are added here.
    """

    def update_auto_headers(self, skip_auto_headers: object) -> None:
        headers = self.headers
        for name, value in self.DEFAULT_HEADERS.items():
            if name not in headers:
                headers[name] = value


class _Answer(Protocol):
    """What the error mapping reads of an answer: aiohttp's or the lean client's."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class UpstreamClient:
    """One deployment's connection pools and the calls engines make through them.

    JSON requests (``post_json``) go through the lean client
    (:mod:`plinth.engines.lean_http`); the rest through aiohttp.
    """

    def __init__(self, deployment: Deployment, auth_headers: dict[str, str]):
        self.deployment = deployment
        self.base_url = deployment.base_url or ""
        self._headers = {"content-type": "application/json", **deployment.headers, **auth_headers}
        self._session: aiohttp.ClientSession | None = None
        self._lean: LeanPool | None = None
        try:
            self._lean = LeanPool(self.base_url, deployment.connect_timeout_s, self._headers)
        except ValueError as exc:  # a URL or header it does not take: aiohttp's then
            log.info("deployment %s: JSON calls through aiohttp (%s)", deployment.id, exc)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            d = self.deployment
            connector = aiohttp.TCPConnector(limit=512, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Reads are timed by the callers (per event, not per socket read).
                timeout=aiohttp.ClientTimeout(total=None, connect=d.connect_timeout_s),
                headers=self._headers,
                request_class=_NoUserAgentRequest,
                # Upstreams set no cookies Plinth should send back (and the jar
                # filters every request's cookies: CPU on each call).
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._lean is not None:
            self._lean.close()
        if self._session is not None:
            await self._session.close()

    def _where(self) -> str:
        return f"deployment '{self.deployment.id}'"

    async def _send(
        self, path: str, body: Json, headers: dict[str, str] | None = None
    ) -> tuple[aiohttp.ClientResponse, float]:
        """POST; the response (headers read) within the first-token timeout, and the
        loop time by which the whole exchange must be over."""
        d = self.deployment
        loop = asyncio.get_running_loop()
        total_at = loop.time() + d.total_timeout_s
        async with asyncio.timeout_at(min(total_at, loop.time() + d.first_token_timeout_s)):
            response = await self.session().post(
                self.base_url + path, data=_dumps(body), headers=headers
            )
        return response, total_at

    async def post_json(self, path: str, body: Json, headers: dict[str, str] | None = None) -> Json:
        """POST and read one JSON object, within the deployment's timeouts; ``headers``
        add to (or replace) the deployment's own for this request."""
        d = self.deployment
        loop = asyncio.get_running_loop()
        total_at = loop.time() + d.total_timeout_s
        lean = self._lean
        if lean is not None and (headers is None or writable(headers)):
            try:
                first_at = min(total_at, loop.time() + d.first_token_timeout_s)
                conn = await lean.post(path, _dumps(body), headers, first_at)
                # The body within the idle timeout of the head, all within the total.
                raw = await lean.read_all(conn, min(total_at, loop.time() + d.idle_timeout_s))
                if conn.status >= 400:
                    raise upstream_status_error(conn, raw, self._where())
                return parse_json_object(conn, raw, self._where())
            except PlinthError:
                raise
            except Exception as exc:
                raise transport_error(exc, self._where()) from exc
        try:
            # One timer for the exchange (each is a loop timer and a context, per
            # request): the headers within the first-token timeout, then the body
            # within the idle one, all within the total.
            first_at = min(total_at, loop.time() + d.first_token_timeout_s)
            async with asyncio.timeout_at(first_at) as deadline:
                response = await self.session().post(
                    self.base_url + path, data=_dumps(body), headers=headers
                )
                deadline.reschedule(min(total_at, loop.time() + d.idle_timeout_s))
                async with response:
                    raw = await response.read()
                    if response.status >= 400:
                        raise upstream_status_error(response, raw, self._where())
                    return parse_json_object(response, raw, self._where())
        except PlinthError:
            raise
        except Exception as exc:
            raise transport_error(exc, self._where()) from exc

    async def post_sse(
        self, path: str, body: Json, headers: dict[str, str] | None = None
    ) -> AsyncIterator[tuple[str, str]]:
        """POST and yield ``(event, data)`` of each server-sent event as it arrives,
        decoded (see :meth:`post_sse_bytes` for the timeouts)."""
        async for event, data, _more in self.post_sse_bytes(path, body, headers):
            yield event.decode("utf-8", "replace"), data.decode("utf-8", "replace")

    async def post_sse_bytes(
        self, path: str, body: Json, headers: dict[str, str] | None = None
    ) -> AsyncIterator[tuple[bytes, bytes, bool]]:
        """POST and yield ``(event, data, more)`` of each server-sent event as it
        arrives, as the bytes the upstream sent (a streaming proxy forwards most of
        them as they are, so nothing is decoded here); ``more``: the next event is
        already read, so asking for it will not wait (a proxy then sends both in
        one write).

        Nothing is buffered: each event is handed on when its blank line is read.
        One timeout per event (not per line, not per read): the first must come
        within ``first_token_timeout_s``, each next one within ``idle_timeout_s``,
        all within ``total_timeout_s``.
        """
        d = self.deployment
        lean = self._lean if headers is None or writable(headers) else None
        if lean is None:
            async for item in self._aiohttp_sse(path, body, headers):
                yield item
            return
        loop = asyncio.get_running_loop()
        total_at = loop.time() + d.total_timeout_s
        conn = None
        try:
            first_at = min(total_at, loop.time() + d.first_token_timeout_s)
            conn = await lean.post(path, _dumps(body), headers, first_at, stream=True)
            if conn.status >= 400:
                raw = await lean.read_all(conn, min(total_at, loop.time() + d.idle_timeout_s))
                raise upstream_status_error(conn, raw, self._where())
            self._check_event_stream(conn)
            if conn.headers.get("content-encoding", "identity") != "identity":
                raise UpstreamBadResponse(
                    f"Upstream {self._where()} compressed its event stream, unasked"
                )
            reader = EventReader(self._where())
            limit = d.first_token_timeout_s
            while True:
                event = reader.take()
                if event is None:
                    deadline = min(total_at, loop.time() + limit)
                    while event is None and not reader.ended:
                        reader.feed(await lean.read_some(conn, deadline))
                        event = reader.take()
                if event is None:
                    return
                limit = d.idle_timeout_s
                yield event[0], event[1], reader.has_event()
        except PlinthError:
            raise
        except Exception as exc:
            raise transport_error(exc, self._where()) from exc
        finally:
            if conn is not None:  # kept if read to its end; closed if left early
                lean.release(conn)

    def _check_event_stream(self, answer: _Answer) -> None:
        content_type = answer.headers.get("content-type", "")
        if not content_type.startswith("text/event-stream"):
            raise UpstreamBadResponse(
                f"Upstream {self._where()} answered a stream request with "
                f"content type '{content_type or 'none'}', not text/event-stream"
            )

    async def _aiohttp_sse(
        self, path: str, body: Json, headers: dict[str, str] | None
    ) -> AsyncIterator[tuple[bytes, bytes, bool]]:
        """:meth:`post_sse_bytes` through aiohttp (headers the lean client refuses)."""
        d = self.deployment
        loop = asyncio.get_running_loop()
        try:
            response, total_at = await self._send(path, body, headers)
            async with response:
                if response.status >= 400:
                    async with asyncio.timeout(d.idle_timeout_s):
                        raw = await response.read()
                    raise upstream_status_error(response, raw, self._where())
                self._check_event_stream(response)
                reader = EventReader(self._where())
                limit = d.first_token_timeout_s
                while True:
                    event = reader.take()
                    if event is None:
                        deadline = min(total_at, loop.time() + limit)
                        while event is None and not reader.ended:
                            async with asyncio.timeout_at(deadline):
                                reader.feed(await response.content.readany())
                            event = reader.take()
                    if event is None:
                        return
                    limit = d.idle_timeout_s
                    yield event[0], event[1], reader.has_event()
        except PlinthError:
            raise
        except Exception as exc:
            raise transport_error(exc, self._where()) from exc

    async def post_raw(self, path: str, data: bytes | aiohttp.MultipartWriter) -> Inbound:
        """POST a body as it is (JSON bytes or a multipart writer, whose type it
        sends) and hand back the answer unread, within the deployment's timeouts:
        headers within the first-token timeout, then each read within the idle one."""
        d = self.deployment
        loop = asyncio.get_running_loop()
        total_at = loop.time() + d.total_timeout_s
        headers = {"content-type": data.content_type} if not isinstance(data, bytes) else {}
        try:
            async with asyncio.timeout_at(min(total_at, loop.time() + d.first_token_timeout_s)):
                response = await self.session().post(
                    self.base_url + path, data=data, headers=headers
                )
            if response.status >= 400:
                async with response, asyncio.timeout(d.idle_timeout_s):
                    raw = await response.read()
                raise upstream_status_error(response, raw, self._where())
        except PlinthError:
            raise
        except Exception as exc:
            raise transport_error(exc, self._where()) from exc

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    async with asyncio.timeout_at(min(total_at, loop.time() + d.idle_timeout_s)):
                        chunk = await response.content.readany()
                    if not chunk:
                        return
                    yield chunk
            except Exception as exc:
                raise transport_error(exc, self._where()) from exc
            finally:
                response.release()

        content_type = response.headers.get("content-type", "application/octet-stream")
        return Inbound(content_type, chunks(), response.release)

    async def get_ok(self, path: str, timeout_s: float) -> None:
        """A health probe: any 2xx within the time counts as alive."""
        try:
            async with asyncio.timeout(timeout_s):
                async with self.session().get(self.base_url + path) as response:
                    await response.read()
                    if response.status >= 400:
                        raise upstream_status_error(response, b"", self._where())
        except PlinthError:
            raise
        except Exception as exc:
            raise transport_error(exc, self._where()) from exc


# An upstream that sends this much without ending an event is not streaming events.
MAX_EVENT_BYTES = 16 * 1024 * 1024


class EventReader:
    """Server-sent events cut out of the bytes as they arrive, without decoding them.

    Lines may end in CRLF, LF or CR (normalised to LF; a CR at the end of one
    read waits for the next, which may start with its LF). Comments and the
    ``id``/``retry`` fields carry nothing for Plinth and are dropped.
    """

    def __init__(self, where: str):
        self.where = where
        self.ended = False
        self._buf = b""  # read data; the events before _pos are taken
        self._pos = 0
        # Reads after _buf that hold no event's end, not yet joined to it: an
        # event in many reads is joined once, at its end, not once per read
        # (which made one large event cost quadratic time on the event loop).
        self._parts: list[bytes] = []
        self._parts_size = 0
        self._last_lf = False  # the data so far ends in LF (an end may straddle reads)
        self._cr = False  # the last read ended in CR

    def feed(self, data: bytes) -> None:
        """The next read; an empty one is the end of the stream."""
        if not data:
            self.ended = True
            # Whatever is left is the last event.
            self._join(b"\n\n\n" if self._cr else b"\n\n")
            return
        if self._cr:
            data, self._cr = b"\r" + data, False
        if b"\r" in data:
            if data.endswith(b"\r"):
                data, self._cr = data[:-1], True
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if not data:
                return
        pending = len(self._buf) - self._pos + self._parts_size
        if not pending:  # the common case: no event half read
            self._buf, self._pos = data, 0
        else:
            if pending + len(data) > MAX_EVENT_BYTES:
                raise UpstreamBadResponse(
                    f"Upstream {self.where} sent over {MAX_EVENT_BYTES} bytes without"
                    " ending an event"
                )
            if b"\n\n" in data or (self._last_lf and data.startswith(b"\n")):
                self._join(data)
            else:
                self._parts.append(data)
                self._parts_size += len(data)
        self._last_lf = data.endswith(b"\n")

    def _join(self, data: bytes) -> None:
        self._buf = b"".join((self._buf[self._pos :], *self._parts, data))
        self._pos, self._parts, self._parts_size = 0, [], 0

    def has_event(self) -> bool:
        """Whether a whole event is already buffered (it may prove to be empty)."""
        return self._buf.find(b"\n\n", self._pos) >= 0

    def take(self) -> tuple[bytes, bytes] | None:
        """The next whole event's name and data, or None until more is read."""
        buf = self._buf
        while True:
            end = buf.find(b"\n\n", self._pos)
            if end < 0:
                return None
            block, self._pos = buf[self._pos : end], end + 2
            # The common case, one data line, without splitting.
            if block.startswith(b"data:") and b"\n" not in block:
                return b"message", block[5:].lstrip(b" ")
            event = _parse_block(block)
            if event is not None:
                return event


def _parse_block(block: bytes) -> tuple[bytes, bytes] | None:
    event, data_lines = b"message", list[bytes]()
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data_lines.append(line[5:].lstrip(b" "))
        elif line.startswith(b"event:"):
            event = line[6:].strip()
    return (event, b"\n".join(data_lines)) if data_lines else None


class RawChunk:
    """One stream event's JSON as the upstream sent it, decoded only when read.

    A streaming proxy rewrites most chunks' bytes (``plinth.streaming``); only
    those it must look into are decoded, once.
    """

    __slots__ = ("data", "decoded", "more", "where")

    def __init__(self, data: bytes, where: str, *, more: bool = False):
        self.data = data
        self.where = where
        self.more = more  # the next chunk is already read: no wait for it
        self.decoded: Json | None = None

    @property
    def json(self) -> Json:
        if self.decoded is None:
            self.decoded = parse_json_text(self.data, self.where)
        return self.decoded


# One encoder for every body: json.dumps with arguments builds a new one per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(body: Json) -> bytes:
    return _ENCODE(body).encode()


def parse_json_object(response: _Answer, raw: bytes, where: str) -> Json:
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        raise UpstreamBadResponse(
            f"Upstream {where} answered with content type '{content_type or 'none'}', not JSON"
        )
    return parse_json_text(raw, where)


def parse_json_text(raw: bytes | str, where: str) -> Json:
    try:
        # Decoded first: json.loads(bytes) sniffs the encoding in Python on every call.
        data = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError):
        raise UpstreamBadResponse(
            f"Upstream {where} sent malformed JSON: {_snippet(raw)!r}"
        ) from None
    if not isinstance(data, dict):
        raise UpstreamBadResponse(f"Upstream {where} sent JSON that is not an object")
    return data


def _snippet(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text[:_MAX_ERROR_TEXT]


def _error_message(raw: bytes) -> tuple[str, str | None, str | None]:
    """The upstream's own error message, param and code, from OpenAI or Anthropic shapes."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _snippet(raw) or "no details", None, None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), str) else error.get("type")
        param = error.get("param") if isinstance(error.get("param"), str) else None
        return str(error.get("message") or "no details")[:_MAX_ERROR_TEXT], param, code
    if isinstance(error, str):
        return error[:_MAX_ERROR_TEXT], None, None
    return _snippet(raw) or "no details", None, None


def _retry_after(response: _Answer) -> float | None:
    """The answer's Retry-After in seconds, within 0..3600 (``inf`` is the longest;
    NaN, as ``max(0.0, nan)`` made it, was 0: retry at once); None if absent."""
    value = response.headers.get("retry-after")
    try:
        return bounded_retry_after(float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from APIs; the router's own backoff applies


def upstream_status_error(response: _Answer, raw: bytes, where: str) -> PlinthError:
    """Map an upstream HTTP error status to the error the client (or the router) sees."""
    status = response.status
    message, param, code = _error_message(raw)
    if status == 429:
        return UpstreamRateLimited(
            f"Upstream {where} is rate limiting: {message}", retry_after_s=_retry_after(response)
        )
    if status in (408, 504):
        return UpstreamTimeout(f"Upstream {where} timed out ({status}): {message}")
    if status in (401, 403):
        # Plinth's credentials for that upstream are wrong: the client did nothing
        # wrong and another deployment may serve it; this one will not.
        return UpstreamError(
            f"Upstream {where} rejected Plinth's credentials ({status}): {message}",
            code="upstream_auth_failed",
            same_deployment_ok=False,
        )
    if status == 404:
        return UpstreamError(
            f"Upstream {where} does not know the model or route ({status}): {message}",
            code="upstream_not_found",
            same_deployment_ok=False,
        )
    if 400 <= status < 500:
        # The request itself is at fault (too long, bad value): pass the verdict on.
        return InvalidRequest(f"Upstream rejected the request: {message}", param=param, code=code)
    return UpstreamError(f"Upstream {where} failed ({status}): {message}")


def transport_error(exc: BaseException, where: str) -> UpstreamError:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"Upstream {where} did not answer in time")
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectFailed):
        return UpstreamUnreachable(f"Cannot connect to upstream {where}: {exc.os_error}")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError | Disconnected):
        return UpstreamUnreachable(f"Upstream {where} closed the connection mid-response")
    if isinstance(exc, BadHttp):
        return UpstreamBadResponse(f"Upstream {where} sent an unreadable HTTP answer: {exc}")
    if isinstance(exc, aiohttp.ClientError | ConnectionError | OSError):
        return UpstreamUnreachable(f"Connection to upstream {where} failed: {exc}")
    log.exception("unexpected error talking to upstream %s", where, exc_info=exc)
    return UpstreamError(f"Talking to upstream {where} failed unexpectedly")
