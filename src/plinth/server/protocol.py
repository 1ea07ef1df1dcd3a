"""uvicorn's httptools protocol with read timeouts, connection caps and request limits.

uvicorn bounds how long an idle keep-alive connection stays open, but not how
long a client may take to send its headers or body, nor how many connections
one address may hold: a few thousand sockets that never finish a request
would hold every file descriptor. This subclass adds, per connection:

- admission through the :class:`~plinth.server.guard.ConnectionGuard`
  (global and per-address caps; a refused peer gets a 503);
- a header timeout (408) and a header size cap (431), from the first byte of
  each request (from the connection's start for the first); a chunked body's
  trailers count against the cap too, and are dropped (ASGI has none);
- two body deadlines (408): the longest pause between two pieces of a body,
  and a floor on its average rate after a grace period (a body sent a byte
  every few seconds would otherwise hold its connection, and what the app
  buffered of it, for ever); each byte moves the rate's deadline on by
  ``1 / body_min_rate_bytes_s`` seconds, so a big upload on a slow link passes;
- a write timeout: a client that reads nothing of its answer for
  ``write_timeout_s`` (the send buffer full all along) has its connection
  aborted, which frees the buffered response and tells the route (as a
  hang-up); closing it would wait for the buffer to drain, which a client that
  never reads never lets happen (a non-reading client held its answer, a file
  or an upstream stream, for ever);
- a request count, after which the response says ``Connection: close``;
- a bound on pipelined requests: reading waits until the queue is empty, and a
  connection that still queues over :data:`MAX_PIPELINED` is closed after the
  request under way.

Refusals and timeouts answer in OpenAI's error shape, like every other error.

Two savings per response, on every route: a response's status line and
headers are held until its first body bytes and leave with them in one write
(:class:`~plinth.server.held_head.HeldHead`). And a route that streams its
own response can ask, through the ``plinth.on_disconnect`` scope extension,
to be told when the client hangs up (:mod:`plinth.server.event_stream`): no
watcher task per stream; and, through ``plinth.direct_body``, for a way to
write the rest of its body from another thread (:mod:`plinth.server.direct_body`).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from plinth.errors import (
    HeadersTooLarge,
    InvalidRequest,
    PlinthError,
    RequestTimeout,
    ServiceBusy,
    error_body,
)
from plinth.server.direct_body import DIRECT_BODY_EXTENSION, DirectBody, open_direct_body
from plinth.server.guard import ConnectionGuard, client_key
from plinth.server.held_head import HeldHead

_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}
#: How long a refused peer may keep sending (discarded) before its socket closes:
#: closing at once, with its request unread, would reset the connection before
#: it reads the 503.
_REFUSED_LINGER_S = 1.0
#: A timer may fire this early (uvloop counts whole milliseconds).
_TIMER_SLACK_S = 0.002
#: Requests one connection may have parsed and waiting behind the one under way.
#: Browsers and HTTP clients pipeline a handful at most; a client that sends
#: thousands without reading an answer would otherwise have every one of them
#: parsed and queued (a 6.6 MB burst of GETs held ~500 MB).
MAX_PIPELINED = 32


def _nothing() -> None:
    pass


def raw_error(exc: PlinthError) -> bytes:
    """A complete HTTP/1.1 error response, written outside any request cycle."""
    status, body = error_body(exc)
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(payload)}\r\n"
        "connection: close\r\n"
    )
    if status == 503:
        head += "retry-after: 1\r\n"
    return (head + "\r\n").encode() + payload


#: The scope extension a streaming route registers its hang-up callback with:
#: ``scope["extensions"][ON_DISCONNECT](callback)`` returns the function that
#: unregisters it. The callback runs (once) if the connection is lost before the
#: response is complete.
ON_DISCONNECT = "plinth.on_disconnect"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_host = ""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # when the pending timer fires
        self._deadline = 0.0  # when the armed phase runs out; 0: none armed
        self._expired: Callable[[], None] = _nothing
        self._rate_deadline = math.inf  # the body's average rate falls under the floor then
        self._body_parts: list[bytes] = []  # this read's pieces of a body (see on_body)
        self._reading_headers = False
        self._header_bytes = 0
        self._requests = 0
        self._refused = False
        self._overrun = False  # pipelined past MAX_PIPELINED: closes after the answer under way
        self._writes: HeldHead | None = None
        self._write_stall: asyncio.TimerHandle | None = None  # while writing is paused
        self._on_disconnect: Callable[[], None] | None = None
        self._watch = self.watch_disconnect  # bound once, handed to every request's scope
        self._direct_body = self.direct_body

    # --- connection lifetime ----------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._writes = HeldHead(transport, self.loop)
        self.client_host = client_key(self.client[0]) if self.client else ""
        reason = self.guard.admit(self)
        if reason is None:
            self._start_headers()
            return
        self._refused = True
        self.connections.discard(self)
        transport.write(raw_error(ServiceBusy(reason)))
        if transport.can_write_eof():
            transport.write_eof()
        self.loop.call_later(_REFUSED_LINGER_S, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._drop_timer()
        self._writing_again()
        self.guard.release(self)
        callback, self._on_disconnect = self._on_disconnect, None
        if callback is not None and self.cycle is not None and not self.cycle.response_complete:
            callback()
        super().connection_lost(exc)

    def watch_disconnect(self, callback: Callable[[], None]) -> Callable[[], None]:
        """The ``plinth.on_disconnect`` extension: ``callback`` runs if the client hangs
        up before the response under way is complete; call the result to stop watching."""
        self._on_disconnect = callback
        return self._unwatch

    def _unwatch(self) -> None:
        self._on_disconnect = None

    def direct_body(self) -> DirectBody | None:
        """The ``plinth.direct_body`` extension: the response under way's body, for
        another thread to write straight to the socket, where that is safe."""
        cycle, writes = self.cycle, self._writes
        if cycle is None or writes is None or not cycle.response_started:
            return None
        if cycle.response_complete or self.transport is None:
            return None
        return open_direct_body(
            self.transport, chunked=bool(cycle.chunked_encoding), nothing_held=not writes.holding()
        )

    def evict(self) -> None:
        """Closed by the guard to make room: it had no request under way."""
        self._drop_timer()
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused or self._overrun:
            return  # discarded; the 503 is already on its way, or the connection closes
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        self._flush_body()
        if len(self.pipeline) > MAX_PIPELINED:
            # The requests queued are dropped unanswered: the client never read,
            # and a pipelining client must be ready to send them again.
            self._overrun = True
            self.pipeline.clear()
            self.flow.pause_reading()
            return
        limit = self.guard.limits.max_header_bytes
        if self._reading_headers and self._header_bytes > limit and not self._closing():
            self._answer_and_close(HeadersTooLarge(f"Request headers exceed {limit} bytes"))

    # --- what uvicorn answers itself ----------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        """An unparsable request: 400 in OpenAI's shape (uvicorn's is plain text)."""
        if self._closing():
            return
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # an answer is under way: a 400 would corrupt it
        else:
            self._answer_and_close(InvalidRequest("The request is not valid HTTP/1.1"))

    def _unsupported_upgrade_warning(self) -> None:
        # No upgraded protocol is spoken (run.py: ws "none"); the request is answered
        # as plain HTTP. uvicorn logged two warnings for it, and two more for every
        # later read on the connection: a log line per packet a client sends.
        pass

    # --- a client that does not read --------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_stall is None:  # its own timer: pauses are rare, and any phase's
            seconds = self.guard.limits.write_timeout_s
            self._write_stall = self.loop.call_later(seconds, self._write_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._writing_again()

    def _writing_again(self) -> None:
        if self._write_stall is not None:
            self._write_stall.cancel()
            self._write_stall = None

    def _write_stalled(self) -> None:
        self._write_stall = None
        if self.transport is not None:
            self.transport.abort()  # not close(): that waits for the client to read

    # --- request phases (httptools parser callbacks) ------------------------------------

    def on_message_begin(self) -> None:
        self._flush_body()  # the previous request's, before its cycle is replaced
        super().on_message_begin()
        if not self._reading_headers:  # a later request on a keep-alive connection
            self._start_headers()

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._reading_headers:
            super().on_header(name, value)
            return
        # A chunked body's trailer. uvicorn appended each to the request's headers
        # with no bound (200 MB of trailers: 6 million entries, +1.1 GB RSS in 2 s);
        # ASGI has no request trailers, so they are dropped, and counted with the
        # head against max_header_bytes.
        self._header_bytes += len(name) + len(value) + 4
        limit = self.guard.limits.max_header_bytes
        if self._header_bytes > limit and not self._closing():
            if self.cycle is not None and self.cycle.response_started:
                self.transport.close()
            else:
                message = f"Request headers and trailers exceed {limit} bytes"
                self._answer_and_close(HeadersTooLarge(message))

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._requests += 1
        self.guard.busy(self)
        extensions: Any = {ON_DISCONNECT: self._watch, DIRECT_BODY_EXTENSION: self._direct_body}
        self.scope["extensions"] = extensions
        super().on_headers_complete()
        limits = self.guard.limits
        if self._requests >= limits.max_requests_per_connection and self.cycle:
            self.cycle.keep_alive = False
        grace = limits.body_rate_grace_s
        self._rate_deadline = self.loop.time() + grace if limits.body_min_rate_bytes_s else math.inf
        self._arm_body()

    def on_body(self, body: bytes) -> None:
        # Held until the parser is done with this read: a chunked body of 1-byte
        # chunks calls this once per byte, and uvicorn appends each piece to the
        # request's buffered body (bytes +=, a copy of all of it), which made 1 MB
        # sent that way cost ~1 s of the event loop; now one append per read.
        self._body_parts.append(body)

    def _flush_body(self) -> None:
        parts = self._body_parts
        if not parts:
            return
        self._body_parts = []
        if self._closing():
            return  # answered already (a 400, a 408): nobody reads the body
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        super().on_body(body)
        rate = self.guard.limits.body_min_rate_bytes_s
        if rate:
            self._rate_deadline += len(body) / rate
        self._arm_body()

    def on_message_complete(self) -> None:
        self._flush_body()
        super().on_message_complete()
        self._disarm()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # Each response's head is held for its first body bytes (see HeldHead).
        if self._writes is not None:
            cycle.transport = self._writes  # type: ignore[assignment]
            self._writes.hold_next()
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        # uvicorn's, but the keep-alive wait is this connection's deadline (see _arm)
        # instead of a timer set, and cancelled, for every request.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        if self._overrun:
            self.transport.close()
            return
        self._unset_keepalive_if_required()
        if self.pipeline:  # pipelined requests: the next one starts
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            if not self.pipeline:  # not before: each read may queue more requests
                self.flow.resume_reading()
        else:
            self.flow.resume_reading()
            self._arm(self.timeout_keep_alive, self.timeout_keep_alive_handler)
            self.guard.idle_again(self)

    # --- timers -------------------------------------------------------------------------

    def _start_headers(self) -> None:
        self._reading_headers = True
        self._header_bytes = 0
        self._arm(self.guard.limits.header_timeout_s, self._headers_timed_out)

    def _arm_body(self) -> None:
        """The body's deadline: its pause bound or its rate's, whichever comes first."""
        pause = self.loop.time() + self.guard.limits.body_timeout_s
        self._arm_at(min(pause, self._rate_deadline), self._body_timed_out)

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._arm_at(self.loop.time() + seconds, callback)

    def _arm_at(self, deadline: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` at loop time ``deadline`` unless re-armed or disarmed before.

        One deadline per connection, and a loop timer only when the deadline
        comes sooner than the pending one: moving it later (the usual case: a
        request's headers, then its body, then the keep-alive wait, then the
        next request) costs no timer, the pending one goes back to sleep when
        it finds the deadline moved. Three timers set and cancelled per request
        were 2 to 3 % of the CPU of a proxied request.
        """
        self._deadline, self._expired = deadline, callback
        if self._timer is None or self._timer_at > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._wake)

    def _disarm(self) -> None:
        self._deadline = 0.0  # a pending timer finds nothing to do

    def _drop_timer(self) -> None:
        self._deadline = 0.0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _wake(self) -> None:
        self._timer = None
        deadline = self._deadline
        if not deadline:
            return
        if self.loop.time() + _TIMER_SLACK_S < deadline:  # moved later: sleep again
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._wake)
            return
        self._deadline = 0.0
        self._expired()

    def _headers_timed_out(self) -> None:
        if self._reading_headers and not self._closing():
            seconds = self.guard.limits.header_timeout_s
            self._answer_and_close(RequestTimeout(f"Request headers took over {seconds:g} s"))

    def _body_timed_out(self) -> None:
        if self._closing():
            return
        limits = self.guard.limits
        now = self.loop.time()
        if self.flow.read_paused:
            # The app is slow to read, not the client to send: the client gets a
            # fresh grace for its rate (the time paused is not its own).
            self._rate_deadline = max(self._rate_deadline, now + limits.body_rate_grace_s)
            self._arm_body()
            return
        if self.cycle is not None and not self.cycle.response_started:
            if now + _TIMER_SLACK_S >= self._rate_deadline:
                rate = limits.body_min_rate_bytes_s
                message = f"The request body arrived slower than {rate} bytes/s"
            else:
                message = f"The request body paused over {limits.body_timeout_s:g} s"
            self._answer_and_close(RequestTimeout(message))
        else:
            self.transport.close()

    def _answer_and_close(self, exc: PlinthError) -> None:
        self._disarm()
        self._reading_headers = False
        if self.cycle is not None and not self.cycle.response_complete:
            # As after a hang-up: the app's receive() says so and its sends go nowhere.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(raw_error(exc))
        self.transport.close()

    def _closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedHttpToolsProtocol]:
    """A protocol class bound to ``guard`` (uvicorn instantiates it per connection)."""
    return type("PlinthHttpProtocol", (GuardedHttpToolsProtocol,), {"guard": guard})
