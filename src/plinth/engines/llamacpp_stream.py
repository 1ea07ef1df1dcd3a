"""One llama.cpp stream's chunks, from llama.cpp's thread to the event loop.

xllamacpp calls a Python callback on the thread that made the blocking
``handle_*`` call, once per chunk. :class:`Handoff` carries the chunks over
with as few loop wake-ups as possible; :class:`ChunkStream` is the async
iterator the gateway reads, and says how many chunks have already arrived
(``buffered``) so that chunks that came within one loop tick can leave in one
write, while a chunk that arrives alone still leaves at once.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable
from typing import Any

from plinth.engines.base import Json

#: What the worker thread hands over last, after the call returned or raised.
STREAM_END = object()

#: What a diverted stream's sink says of a chunk (:meth:`ChunkStream.divert`).
TAKEN = 0  # it took the chunk: keep diverting
STOPPED = 1  # it took the chunk, and takes no more: later chunks go to the loop
DECLINED = 2  # it did not take it: this chunk and later ones go to the loop


class Handoff:
    """Chunks from llama.cpp's thread to the event loop, one wake-up per batch.

    A wake-up from another thread (``call_soon_threadsafe``) writes the loop's
    self-pipe and costs a syscall on each side; with 8 streams decoding, one
    per token per stream took CPU that llama.cpp's own threads needed. Chunks
    that arrive before the loop has run the pending wake-up ride along with it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._items: collections.deque[Any] = collections.deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._waiter: asyncio.Future[None] | None = None
        # While diverted, chunks go to the sink on the thread they arrive on. The
        # sink lock orders them: a chunk is queued or sunk as one step, and the
        # loop changes the sink only between two such steps.
        self._sink: Callable[[Any], int] | None = None
        self._sink_lock = threading.RLock()  # a stream dropped (``__del__``) inside a sink

    def offer(self, chunk: Any) -> None:
        """From the worker thread: a chunk, to the sink while diverted, else queued."""
        with self._sink_lock:
            sink = self._sink
            if sink is not None:
                verdict = sink(chunk)
                if verdict == TAKEN:
                    return
                self._sink = None
                if verdict == STOPPED:
                    return
            self._items.append(chunk)
        self._wake()

    def divert(self, sink: Callable[[Any], int]) -> bool:
        """On the loop: send the chunks that arrive from now on to ``sink`` (on their
        thread). Only while nothing is queued (those come first); False if not now."""
        with self._sink_lock:
            if self._items:
                return False
            self._sink = sink
            return True

    def undivert(self) -> None:
        """On the loop: no more chunks to the sink; waits for one being sunk."""
        with self._sink_lock:
            self._sink = None

    def put(self, item: Any) -> None:
        """From any thread: queue an item, waking the loop only if no wake-up is on its way."""
        self._items.append(item)
        self._wake()

    def _wake(self) -> None:
        with self._lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._woken)

    def _woken(self) -> None:
        with self._lock:
            self._wake_pending = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def buffered(self) -> int:
        """Items that have arrived and not been taken (the end marker included)."""
        return len(self._items)

    async def get(self) -> Any:
        """On the loop: the next item, waiting only when none has arrived."""
        while not self._items:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class ChunkStream:
    """The chunks of one stream, as an async iterator over dicts.

    ``start`` runs at the first ``__anext__`` (it submits the blocking call);
    ``check`` turns an item into the chunk to yield or raises (an engine error,
    an exception from the worker thread). Closing it (``aclose``, the end of
    the stream, an error, or its being dropped) calls ``on_close`` once, which
    tells llama.cpp to stop at its next token.
    """

    def __init__(
        self,
        handoff: Handoff,
        *,
        start: Callable[[], None],
        check: Callable[[Any], Json],
        on_close: Callable[[], None],
    ):
        self._handoff = handoff
        self._start: Callable[[], None] | None = start
        self._check = check
        self._on_close: Callable[[], None] | None = on_close

    def __aiter__(self) -> ChunkStream:
        return self

    @property
    def buffered(self) -> int:
        """Chunks already here: a consumer may take them without waiting."""
        return self._handoff.buffered() if self._on_close is not None else 0

    async def __anext__(self) -> Json:
        if self._on_close is None:
            raise StopAsyncIteration
        if self._start is not None:
            start, self._start = self._start, None
            start()
        try:
            item = await self._handoff.get()
            if item is STREAM_END:
                raise StopAsyncIteration
            return self._check(item)
        except BaseException:
            self._close()
            raise

    def divert(self, take: Callable[[Json], bool]) -> bool:
        """From now on, ``take`` each chunk on the thread it arrives on, until ``take``
        returns False (it took that chunk but takes no more). A chunk that fails
        ``check`` (an engine error) is not given to ``take``: it, and everything
        after it, comes through this iterator, as does the stream's end. False if
        the stream cannot be diverted now (chunks are waiting: take those first)."""
        if self._on_close is None or self._start is not None:
            return False
        check = self._check

        def sink(item: Any) -> int:
            try:
                chunk = check(item)
            except Exception:  # noqa: BLE001 - the iterator raises it, in order
                return DECLINED
            try:
                return TAKEN if take(chunk) else STOPPED
            except Exception:  # noqa: BLE001 - a fault in ``take``: the loop meets it too
                return DECLINED

        return self._handoff.divert(sink)

    async def aclose(self) -> None:
        self._close()

    def _close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()
            # Any chunk being taken on the worker is finished before this returns:
            # whoever closes the stream then owns what ``take`` touched.
            self._handoff.undivert()

    def __del__(self) -> None:
        # Dropped unread (no aclose): llama.cpp must still stop generating.
        self._close()
