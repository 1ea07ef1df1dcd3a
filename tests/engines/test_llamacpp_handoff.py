"""The thread-to-loop hand-off of streamed llama.cpp chunks."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any

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


def _numbered(item: Any) -> dict[str, Any]:
    return {"n": item}


def _stream(handoff: Handoff, check: Callable[[Any], dict[str, Any]] = _numbered) -> ChunkStream:
    return ChunkStream(handoff, start=lambda: None, check=check, on_close=lambda: None)


async def test_a_diverted_stream_hands_chunks_to_the_sink_and_its_end_to_the_loop() -> None:
    handoff = Handoff(asyncio.get_running_loop())
    stream = _stream(handoff)
    handoff.offer(0)
    assert await anext(stream) == {"n": 0}  # started; the first chunk came the usual way
    taken: list[tuple[int, str]] = []

    def take(chunk: dict[str, int]) -> bool:
        taken.append((chunk["n"], threading.current_thread().name))
        return True

    assert stream.divert(take)

    def produce() -> None:
        for i in range(1, 500):
            handoff.offer(i)
        handoff.put(STREAM_END)

    thread = threading.Thread(target=produce, name="worker")
    thread.start()
    assert [x async for x in stream] == []  # nothing else came through the loop
    thread.join()
    assert taken == [(i, "worker") for i in range(1, 500)]


async def test_a_stream_is_not_diverted_while_chunks_wait_for_the_loop() -> None:
    handoff = Handoff(asyncio.get_running_loop())
    stream = _stream(handoff)
    handoff.offer(0)
    await anext(stream)
    handoff.offer(1)  # arrived, not yet taken: it must leave before any sunk chunk
    assert not stream.divert(lambda chunk: True)
    assert await anext(stream) == {"n": 1}
    assert stream.divert(lambda chunk: True)


async def test_after_a_sink_stops_later_chunks_come_through_the_loop_in_order() -> None:
    handoff = Handoff(asyncio.get_running_loop())
    stream = _stream(handoff)
    handoff.offer(0)
    await anext(stream)
    taken: list[int] = []

    def take(chunk: dict[str, int]) -> bool:
        taken.append(chunk["n"])
        return chunk["n"] < 3  # the write of chunk 3 did not go out whole: no more

    assert stream.divert(take)
    for i in range(1, 7):
        handoff.offer(i)
    handoff.put(STREAM_END)
    assert [x["n"] async for x in stream] == [4, 5, 6]
    assert taken == [1, 2, 3]


async def test_a_chunk_that_fails_its_check_is_not_sunk_and_raises_in_order() -> None:
    def check(item: object) -> dict[str, object]:
        if item == "error":
            raise RuntimeError("engine error")
        return {"n": item}

    handoff = Handoff(asyncio.get_running_loop())
    stream = _stream(handoff, check)
    handoff.offer(0)
    await anext(stream)
    taken: list[object] = []
    assert stream.divert(lambda chunk: taken.append(chunk["n"]) is None)
    for item in (1, 2, "error", 3):
        handoff.offer(item)
    with pytest.raises(RuntimeError, match="engine error"):
        await anext(stream)
    assert taken == [1, 2]


async def test_closing_a_diverted_stream_waits_for_the_chunk_being_taken() -> None:
    handoff = Handoff(asyncio.get_running_loop())
    stream = _stream(handoff)
    handoff.offer(0)
    await anext(stream)
    inside, release = threading.Event(), threading.Event()
    taken: list[int] = []

    def take(chunk: dict[str, int]) -> bool:
        inside.set()
        release.wait(5)
        taken.append(chunk["n"])
        return True

    assert stream.divert(take)
    worker = threading.Thread(target=lambda: (handoff.offer(1), handoff.offer(2)))
    worker.start()
    await asyncio.to_thread(inside.wait, 5)
    threading.Timer(0.2, release.set).start()
    await stream.aclose()  # returns only once no chunk is being taken
    at_close = list(taken)
    assert at_close[:1] == [1]  # chunk 1 was finished (chunk 2 may have won the lock first)
    worker.join()
    assert taken == at_close  # nothing taken after the close returned


async def test_a_fault_while_taking_a_chunk_hands_it_and_the_rest_to_the_loop() -> None:
    handoff = Handoff(asyncio.get_running_loop())
    stream = _stream(handoff)
    handoff.offer(0)
    await anext(stream)

    def take(chunk: dict[str, int]) -> bool:
        if chunk["n"] == 2:
            raise ValueError("a bug in shaping")
        return True

    assert stream.divert(take)
    for i in range(1, 5):
        handoff.offer(i)
    handoff.put(STREAM_END)
    assert [x["n"] async for x in stream] == [2, 3, 4]
