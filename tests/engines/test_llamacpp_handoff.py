"""The thread-to-loop hand-off of streamed llama.cpp chunks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from plinth.engines.llamacpp import _Handoff

pytestmark = pytest.mark.anyio


async def test_items_from_a_thread_arrive_complete_and_in_order() -> None:
    handoff = _Handoff(asyncio.get_running_loop())
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
    handoff = _Handoff(loop)
    waiting = asyncio.ensure_future(handoff.get())
    await asyncio.sleep(0)  # let it start waiting: nothing has been put yet
    assert not waiting.done()
    threading.Thread(target=handoff.put, args=("chunk",)).start()
    assert await waiting == "chunk"
