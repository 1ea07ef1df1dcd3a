"""A connection's writes with each response's head held for its first body bytes.

A response's status line and headers leave with its first body bytes in one
write: one system call and one TCP segment instead of two, held at most until
the end of the event loop's turn, should the body be late.
"""

from __future__ import annotations

import asyncio
from typing import Any


class HeldHead:
    """A connection's transport as its request cycles write to it: the first write of
    each response (its status line and headers, or a ``100 Continue``) is held and
    goes out with the next write, or at the end of the loop's turn if none comes.

    uvicorn writes a response's head as soon as the app sends
    ``http.response.start``, and the body in a second write; an app that sends
    both in one go (every JSON answer, and a stream whose first chunk is ready)
    now costs one ``send`` system call, and the client one wake-up, instead of
    two. A cycle always ends with a write (uvicorn writes even an empty body),
    so nothing held outlives its response.
    """

    __slots__ = ("_held", "_hold", "_loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self.transport = transport
        self._loop = loop
        self._hold = False
        self._held = b""

    def hold_next(self) -> None:
        """Hold the next write (a new response's head)."""
        self._hold = True

    def write(self, data: bytes) -> None:
        if self._held:
            data, self._held = self._held + data, b""
        elif self._hold:
            self._hold, self._held = False, data
            self._loop.call_soon(self.flush)
            return
        self.transport.write(data)

    def holding(self) -> bool:
        """Whether a write is held, or the next one will be."""
        return self._hold or bool(self._held)

    def flush(self) -> None:
        if self._held:
            data, self._held = self._held, b""
            if not self.transport.is_closing():  # as uvicorn: no writes after a hang-up
                self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # the rest of the transport's interface
        return getattr(self.transport, name)
