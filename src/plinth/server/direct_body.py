"""A streamed response's body written by another thread, straight to its socket.

A local model's tokens arrive on a worker thread (xllamacpp's blocking call).
Carrying each one to the event loop (a self-pipe write that wakes the loop's
thread, then the loop's way through the stream's generators and uvicorn's
``send`` to the socket) cost Plinth about twice the CPU per token of
llama.cpp's own server, whose HTTP thread writes each token itself; on a
small machine that CPU is taken from llama.cpp's compute threads, and a
compute thread that loses its core also stalls its partners at the next
barrier (``benchmarks/results/local_inference_direct_body.md``). With a
:class:`DirectBody` the worker thread writes the frames itself.

It is only handed out (:func:`open_direct_body`) when that is safe:

- the response is under way with chunked encoding over plain TCP (a TLS
  transport would have to encrypt), and nothing is buffered in the transport
  or held back by :class:`~plinth.server.held_head.HeldHead` (what the loop
  wrote went out first, so the order holds);
- the socket is a duplicate of the connection's descriptor: when the client
  hangs up and uvloop closes its descriptor, the number cannot be reused by a
  new connection under the writing thread (a write then fails, and direct
  writing stops);
- a frame the socket does not take whole (a slow client, its buffer full)
  ends direct writing: the rest of that frame is kept (:attr:`unsent`) for the
  loop, which sends it before anything else (:meth:`send_unsent`), and the
  stream goes on through the transport, under the connection's write timeout
  and flow control as before.

The stream's code still decides everything: it asks for a ``DirectBody``
through :data:`DIRECT_BODY` (set by
:class:`~plinth.server.event_stream.EventStream` for the response it sends),
and closes it (on the loop) before the response's last bytes.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable

#: The scope extension (offered by :mod:`plinth.server.protocol`): a callable that
#: returns a :class:`DirectBody` for the response under way, or None.
DIRECT_BODY_EXTENSION = "plinth.direct_body"

#: For the code that produces the stream being sent: how to open a direct body
#: for it (None: not under ``plinth serve``, or not for this response).
DIRECT_BODY: contextvars.ContextVar[Callable[[], DirectBody | None] | None] = (
    contextvars.ContextVar("plinth_direct_body", default=None)
)


class DirectBody:
    """Chunks of a chunked response body, written from any thread to the socket."""

    def __init__(self, fd: int, transport: asyncio.WriteTransport):
        self._fd = os.dup(fd)
        self._transport = transport
        self._lock = threading.Lock()
        self._open = True
        #: The part of a frame the socket did not take; the loop sends it.
        self.unsent = b""

    def write(self, data: bytes) -> bool:
        """From any thread: ``data`` as one chunk. False if it did not all go out (then
        direct writing is over: the rest waits in :attr:`unsent` for the loop)."""
        frame = b"%x\r\n%b\r\n" % (len(data), data)
        with self._lock:
            if not self._open:
                self.unsent += frame
                return False
            try:
                sent = os.write(self._fd, frame)
            except BlockingIOError:
                sent = 0
            except OSError:  # the client is gone (EPIPE, ECONNRESET): the loop finds out
                sent = 0
            if sent == len(frame):
                return True
            self.unsent += frame[sent:]
            self._close_locked()
            return False

    def send_unsent(self) -> None:
        """On the loop: what the socket did not take, through the transport."""
        with self._lock:
            unsent, self.unsent = self.unsent, b""
        if unsent and not self._transport.is_closing():
            self._transport.write(unsent)

    def close(self) -> None:
        """On the loop, before anything else is written: no more direct writes (one
        under way finishes first), and what is unsent goes through the transport."""
        with self._lock:
            self._close_locked()
        self.send_unsent()

    def _close_locked(self) -> None:
        if self._open:
            self._open = False
            os.close(self._fd)


def open_direct_body(
    transport: asyncio.WriteTransport, *, chunked: bool, nothing_held: bool
) -> DirectBody | None:
    """A :class:`DirectBody` for the response under way on ``transport``, or None
    where writing beside the transport would not be safe (see the module's doc)."""
    if not chunked or not nothing_held or transport.is_closing():
        return None
    if transport.get_write_buffer_size() or transport.get_extra_info("sslcontext") is not None:
        return None
    sock = transport.get_extra_info("socket")
    fileno = getattr(sock, "fileno", None)
    fd = fileno() if fileno is not None else -1
    return DirectBody(fd, transport) if fd >= 0 else None
