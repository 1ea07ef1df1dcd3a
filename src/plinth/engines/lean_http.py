"""A lean HTTP/1.1 client for the proxy's hot path: one upstream, keep-alive
connections, JSON in and out.

Why not aiohttp here: per proxied request aiohttp's client spent about as much
CPU on the event loop as all of Plinth's own request handling (its request
object, header multidicts, URL objects, stream readers and timer contexts;
``benchmarks/upstream_client_cost.py`` measures it against this client and
httpx). This client writes one pre-built request head and parses the answer
with httptools (llhttp, the parser uvicorn uses), so a request costs a few
Python calls. aiohttp stays the client for everything this one does not do
(multipart bodies, the pass-through routes, health probes, proxies).

What it handles: ``http://`` and ``https://`` (TLS through asyncio's ``ssl``,
the system's trust store, the host's name checked), Content-Length, chunked
and read-to-close bodies, gzip/deflate if an upstream compresses without being
asked (inflated in bounded steps, all past the first MiB on a thread), 1xx
interim answers, keep-alive reuse (a connection goes back to the pool only
after a whole answer that allows it). Bounds: the head
(``MAX_HEAD_BYTES``), a whole body (``MAX_BODY_BYTES``), the unread part of a
streamed body (reading pauses above ``STREAM_HIGH_WATER``), idle connections
kept (``MAX_IDLE``, each for ``KEEP_IDLE_S``: an expired one is closed when the
pool is next used, or by the pool's one sweep timer, which runs only while
connections are idle).

Timeouts are deadlines on the loop's clock, one timer per wait (not per read),
set by the caller: a deadline that passes closes the connection and raises
``TimeoutError``. A POST is never sent twice: a kept connection the upstream
closed before answering is a :class:`Disconnected` error, as with aiohttp,
and the router decides about another attempt.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from urllib.parse import urlsplit

import httptools

MAX_HEAD_BYTES = 64 * 1024
# An embeddings answer for a large batch can reach ~130 MB of JSON.
MAX_BODY_BYTES = 256 * 1024 * 1024
STREAM_HIGH_WATER = 1024 * 1024
MAX_IDLE = 256
# aiohttp's connector keeps idle connections as long; servers often close
# sooner (uvicorn 5 s), which the pool sees as the connection's close.
KEEP_IDLE_S = 15.0


class LeanError(Exception):
    """A transport failure of the lean client (the caller maps it to Plinth's errors)."""


class ConnectFailed(LeanError):
    def __init__(self, os_error: OSError):
        super().__init__(str(os_error))
        self.os_error = os_error


class Disconnected(LeanError):
    """The upstream closed the connection before its answer was whole."""


class BadHttp(LeanError):
    """The answer is not HTTP/1.1 that this client reads (or exceeds its bounds)."""


class _Connection(asyncio.Protocol):
    """One connection; it reads one answer at a time, fed by the loop. Its ``status``
    and ``headers`` (names lower-cased; of a repeated name the first, as aiohttp's
    ``headers.get`` returns) are the current answer's."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        # One parser for the connection's life: llhttp starts the next answer
        # after a whole one (a connection that failed is never reused).
        self.parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.head_bytes = 0
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.body: list[bytes] = []
        self.unread = 0
        self.received = 0
        self.streaming = False
        self.paused = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.in_exchange = False

    # --- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.in_exchange or self.complete:
            self._fail(BadHttp("the upstream sent bytes nobody asked for"))
            return
        if not self.head_done:  # a head that never ends (its exact size: on_headers_complete)
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
            if not self.head_done and self.head_bytes > MAX_HEAD_BYTES:
                raise BadHttp(f"the answer's head is over {MAX_HEAD_BYTES} bytes")
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._fail(cause if isinstance(cause, LeanError) else BadHttp(str(exc)))
        except httptools.HttpParserError as exc:
            self._fail(BadHttp(f"unreadable HTTP answer: {exc}"))
        except BadHttp as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost ends the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.in_exchange or self.complete or self.error is not None:
            return
        length = self.headers.get("content-length")
        chunked = "chunked" in self.headers.get("transfer-encoding", "")
        if self.head_done and exc is None and length is None and not chunked:
            self.complete = True  # a body without a length ends where the connection does
            self._wake()
            return
        self._fail(Disconnected("the upstream closed the connection mid-answer"), exc)

    # --- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        # llhttp reads on after a whole answer: a second, unasked one in the same read
        # would replace this one's status and headers and add to its body. Stop here:
        # the answer stays as delivered and the connection is never pooled (the error
        # closes it). Empty lines between answers llhttp skips without a new message.
        if self.complete:
            raise BadHttp("the upstream sent bytes after its answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))  # decoded once, at the head's end

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            return  # interim (100 Continue): its on_message_complete resets for the real one
        raw = self.raw_headers
        if sum(len(name) + len(value) + 4 for name, value in raw) > MAX_HEAD_BYTES:
            raise BadHttp(f"the answer's head is over {MAX_HEAD_BYTES} bytes")
        self.status = status
        # Of a repeated name the first (set last here), as aiohttp's headers.get gives.
        self.headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in reversed(raw)
        }
        self.head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.received += len(body)
        if self.received > MAX_BODY_BYTES:
            raise BadHttp(f"the answer's body is over {MAX_BODY_BYTES} bytes")
        self.body.append(body)
        self.unread += len(body)
        if self.streaming:
            if self.unread > STREAM_HIGH_WATER and not self.paused and self.transport:
                self.paused = True
                self.transport.pause_reading()
            self._wake()

    def on_message_complete(self) -> None:
        if not self.head_done:  # the end of an interim answer
            self.raw_headers, self.head_bytes = [], 0
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        self._wake()

    # --- the exchange ------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException, cause: BaseException | None = None) -> None:
        if self.error is None:
            error.__cause__ = cause
            self.error = error
        self._wake()  # the waiter sees the error (unless what it waits for holds already)
        self.close()

    def _timed_out(self) -> None:
        self.timer = None
        self._fail(TimeoutError())

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def wait(self, deadline: float, ready: str) -> None:
        """Until ``ready`` (``head``, ``complete`` or ``data``) holds or the answer
        fails; past ``deadline`` (loop time) the connection closes, TimeoutError."""
        while not self._holds(ready):
            if self.error is not None:
                raise self.error
            self.waiter = self.loop.create_future()
            self.timer = self.loop.call_at(deadline, self._timed_out)
            try:
                await self.waiter
            finally:
                self.waiter = None
                if self.timer is not None:
                    self.timer.cancel()
                    self.timer = None

    def _holds(self, ready: str) -> bool:
        if ready == "complete":
            return self.complete
        if ready == "head":
            return self.head_done or self.complete
        return self.unread > 0 or self.complete

    def take(self) -> bytes:
        """The body read so far and not yet taken."""
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        self.body, self.unread = [], 0
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()
        return data


class LeanPool:
    """Keep-alive connections to one upstream and the requests sent on them."""

    def __init__(self, base_url: str, connect_timeout_s: float, headers: dict[str, str]):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("a base URL with a query, fragment or credentials")
        self.host = parts.hostname
        default_port = 443 if parts.scheme == "https" else 80
        self.port = parts.port or default_port
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None
        )
        self.prefix = parts.path.rstrip("/")
        self.connect_timeout_s = connect_timeout_s
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        authority = f"{host}:{self.port}" if self.port != default_port else host
        fields = {"host": authority, "accept": "*/*", **headers}
        fields = {name.lower(): value for name, value in fields.items()}
        self._head_fields = _header_block(fields)
        # Oldest first (released in turn): the expired ones are a prefix.
        self._idle: deque[_Connection] = deque()
        # One timer per pool, set while connections are idle, at the oldest's expiry.
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_loop: asyncio.AbstractEventLoop | None = None
        self._starts: dict[str, bytes] = {}  # the request line and fixed headers, by path
        self._closed = False  # closed pool: connections in use are closed when released

    async def post(
        self,
        path: str,
        body: bytes,
        headers: dict[str, str] | None,
        first_at: float,
        *,
        stream: bool = False,
    ) -> _Connection:
        """Send a POST; the connection once the answer's head is read (by ``first_at``,
        loop time). The caller reads the body, then calls :meth:`release`."""
        start = self._starts.get(path)
        if start is None:
            if len(self._starts) >= 64:  # paths come from code, but bound it anyway
                self._starts.clear()
            line = f"POST {self.prefix}{path} HTTP/1.1\r\n"
            if any(c in line[5:-11] for c in " \r\n"):
                raise ValueError(f"a path with a space or line break: {path!r}")
            start = self._starts[path] = line.encode("latin-1") + self._head_fields
        head = (
            start
            + (_header_block(headers) if headers else b"")
            + b"content-length: %d\r\n\r\n" % len(body)
        )
        self._closed = False  # used again after close (an engine restarted): open again
        conn = self._idle_connection() or await self._connect(first_at)
        conn.streaming = stream
        conn.in_exchange = True
        assert conn.transport is not None
        conn.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            conn.transport.write(body)  # no copy of a large body
        try:
            await conn.wait(first_at, "head")
        except BaseException:
            conn.close()
            raise
        return conn

    async def read_all(self, conn: _Connection, deadline: float) -> bytes:
        """The whole body (decoded if compressed), by ``deadline``; the connection
        goes back to the pool."""
        if conn.streaming:  # read whole after all (an error's body): no pause in between
            conn.streaming = False
            if conn.paused and conn.transport is not None:
                conn.paused = False
                conn.transport.resume_reading()
        try:
            await conn.wait(deadline, "complete")
            raw = conn.take()
        except BaseException:
            conn.close()
            raise
        self.release(conn)
        encoding = conn.headers.get("content-encoding")
        return await _decoded(raw, encoding) if encoding else raw

    async def read_some(self, conn: _Connection, deadline: float) -> bytes:
        """The body bytes read so far, waiting (by ``deadline``) if none; b"" at its end."""
        try:
            await conn.wait(deadline, "data")
        except BaseException:
            conn.close()
            raise
        if conn.unread:
            return conn.take()
        return b""

    def release(self, conn: _Connection) -> None:
        """Back to the pool if its answer was read whole and the upstream keeps it
        open; closed otherwise."""
        if not (conn.complete and conn.keep_alive and not conn.closed and not conn.unread):
            conn.close()
            return
        if self._closed:
            conn.close()
            return
        idle = self._idle
        if len(idle) >= MAX_IDLE:
            idle.popleft().close()  # the oldest: the nearest its expiry
        conn.in_exchange = False  # its answer's status and headers stay readable
        conn.idle_since = conn.loop.time()
        idle.append(conn)
        if self._sweep is None or self._sweep_loop is not conn.loop:
            self._schedule_sweep(conn.loop)

    def _idle_connection(self) -> _Connection | None:
        self._drop_expired()
        idle = self._idle
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to be closed
            if not conn.closed:
                conn._reset()
                return conn
        return None

    def _drop_expired(self) -> None:
        """Close the idle connections kept ``KEEP_IDLE_S`` or more (or closed meanwhile)."""
        idle = self._idle
        while idle:
            conn = idle[0]
            if not conn.closed and conn.loop.time() - conn.idle_since < KEEP_IDLE_S:
                return
            idle.popleft().close()

    def _schedule_sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
        self._sweep_loop = loop
        oldest = self._idle[0].idle_since
        self._sweep = loop.call_at(oldest + KEEP_IDLE_S, self._swept)

    def _swept(self) -> None:
        """The sweep timer: expired connections closed even when no request comes;
        set again for the next expiry while any connection stays idle."""
        self._sweep = None
        self._drop_expired()
        if self._idle and self._sweep_loop is not None:
            self._schedule_sweep(self._sweep_loop)

    async def _connect(self, first_at: float) -> _Connection:
        loop = asyncio.get_running_loop()
        deadline = min(first_at, loop.time() + self.connect_timeout_s)
        try:
            async with asyncio.timeout_at(deadline):
                _transport, conn = await loop.create_connection(
                    lambda: _Connection(loop),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except OSError as exc:  # refused, unresolvable, TLS failure (ssl.SSLError is one)
            # The deadline's TimeoutError is an OSError too (no errno): a timeout, as
            # aiohttp's connect timeout is (UpstreamTimeout, 504), not a refusal.
            if isinstance(exc, TimeoutError) and exc.errno is None:
                raise
            raise ConnectFailed(exc) from exc
        return conn

    def close(self) -> None:
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def writable(headers: dict[str, str]) -> bool:
    """Whether these headers can be written as they are: a CR or LF would split the
    request, a colon in a name would change it, and the head is Latin-1."""
    try:
        for name, value in headers.items():
            if any(c in name for c in "\r\n: ") or "\r" in value or "\n" in value:
                return False
            name.encode("latin-1"), value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _header_block(headers: dict[str, str]) -> bytes:
    """``name: value`` lines (ValueError for headers not :func:`writable`)."""
    if not writable(headers):
        raise ValueError(f"headers that cannot be written as they are: {sorted(headers)}")
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")


# Decompressed output per zlib call, and how much of it the event loop itself
# produces before the rest moves to a thread: a small answer costs no thread
# hop, a large one (up to MAX_BODY_BYTES: seconds of inflating) never holds
# the loop for more than about a millisecond.
INFLATE_STEP = 256 * 1024
INFLATE_ON_LOOP = 1024 * 1024


async def _decoded(raw: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("identity", ""):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BadHttp(f"the answer is in content encoding '{encoding}', which is not read here")
    inflater = _Inflater(raw, encoding)
    if not inflater.run(INFLATE_ON_LOOP):
        await asyncio.to_thread(inflater.run, None)
    return b"".join(inflater.parts)


class _Inflater:
    """A gzip or deflate body decompressed in steps of ``INFLATE_STEP`` bytes out,
    ``MAX_BODY_BYTES`` in all (a small body can inflate a thousandfold)."""

    def __init__(self, raw: bytes, encoding: str):
        self.raw = raw
        self.encoding = encoding
        self.gzip = "gzip" in encoding
        # gzip: a gzip header; deflate: zlib's (or, from some servers, none: see run).
        self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS)
        self.pending = raw
        self.parts: list[bytes] = []
        self.size = 0
        self.done = False
        self.bare_tried = False

    def run(self, budget: int | None) -> bool:
        """Decompress up to ``budget`` bytes more (None: to the end); whether done."""
        produced = 0
        while not self.done and (budget is None or produced < budget):
            try:
                out = self.decoder.decompress(self.pending, INFLATE_STEP)
            except zlib.error as exc:
                if self.gzip or self.size or self.bare_tried:
                    raise BadHttp(f"the {self.encoding} body does not decompress: {exc}") from None
                # A deflate body without zlib's header: raw deflate, from the start.
                self.decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                self.pending, self.bare_tried = self.raw, True
                continue
            self.pending = self.decoder.unconsumed_tail
            produced += len(out)
            self.size += len(out)
            if self.size > MAX_BODY_BYTES:
                raise BadHttp(f"the answer's body is over {MAX_BODY_BYTES} bytes, decompressed")
            self.parts.append(out)
            # Less than a step out with no input left: zlib holds nothing more.
            self.done = self.decoder.eof or (not self.pending and len(out) < INFLATE_STEP)
        return self.done
