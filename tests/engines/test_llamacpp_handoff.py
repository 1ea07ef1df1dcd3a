"""The thread-to-loop hand-off of streamed llama.cpp chunks."""

from __future__ import annotations

import asyncio
import functools
import threading

import pytest

from plinth.engines.llamacpp_stream import STREAM_END, ChunkStream, Handoff

pytestmark = pytest.mark.anyio


async def test_items_from_a_thread_arrive_complete_and_in_order() -> None:
    handoff = Handoff(asyncio.get_running_loop())
    end = object()

    def produce() -> None:
        for i in range(2000):
            handoff.put(i)
        handoff.put(end)

    thread = threading.Thread(target=produce)
    thread.start()
    received = []
    while (item := await handoff.get()) is not end:
        received.append(item)
    thread.join()
    assert received == list(range(2000))


async def test_a_waiting_consumer_is_woken_by_a_later_put() -> None:
    loop = asyncio.get_running_loop()
    handoff = Handoff(loop)
    waiting = asyncio.ensure_future(handoff.get())
    await asyncio.sleep(0)  # let it start waiting: nothing has been put yet
    assert not waiting.done()
    threading.Thread(target=handoff.put, args=("chunk",)).start()
    assert await waiting == "chunk"


async def test_a_chunk_stream_says_what_has_arrived_and_stops_llama_cpp_once() -> None:
    handoff = Handoff(asyncio.get_running_loop())
    started, closed = [], []
    stream = ChunkStream(
        handoff,
        start=lambda: started.append(True),
        check=lambda item: {"n": item},
        on_close=lambda: closed.append(True),
    )
    assert stream.buffered == 0 and not started
    for i in range(3):
        handoff.put(i)
    assert await anext(stream) == {"n": 0}
    assert started == [True]
    assert stream.buffered == 2  # arrived together: a consumer may send them together
    assert await anext(stream) == {"n": 1}
    await stream.aclose()
    assert closed == [True] and stream.buffered == 0
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    await stream.aclose()
    assert closed == [True]


async def test_a_chunk_stream_closes_at_its_end_and_on_an_error() -> None:
    loop = asyncio.get_running_loop()
    for last, raised in ((STREAM_END, StopAsyncIteration), (ValueError("bad"), ValueError)):
        handoff, closed = Handoff(loop), []

        def check(item: object) -> dict[str, object]:
            if isinstance(item, BaseException):
                raise item
            return {"item": item}

        stream = ChunkStream(
            handoff, start=lambda: None, check=check, on_close=functools.partial(closed.append, 1)
        )
        handoff.put("a")
        handoff.put(last)
        assert await anext(stream) == {"item": "a"}
        assert not closed
        with pytest.raises(raised):
            await anext(stream)
        assert closed == [1]
