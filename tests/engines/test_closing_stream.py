"""closing_stream: a relaying generator closed early closes the stream it relays."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from plinth.engines.base import Json, closing_stream


class Recorded:
    def __init__(self) -> None:
        self.closed = False
        self.sent = 0

    async def stream(self) -> AsyncIterator[Json]:
        try:
            for i in range(100):
                self.sent += 1
                yield {"i": i}
        finally:
            self.closed = True


async def relay(inner: AsyncIterator[Json]) -> AsyncIterator[Json]:
    async with closing_stream(inner):
        async for chunk in inner:
            yield chunk


@pytest.mark.anyio
async def test_an_early_close_reaches_the_inner_stream_at_once() -> None:
    source = Recorded()
    outer = relay(source.stream())
    assert await outer.__anext__() == {"i": 0}
    await outer.aclose()  # type: ignore[attr-defined]
    assert source.closed  # not left to the garbage collector
    assert source.sent == 1


@pytest.mark.anyio
async def test_a_failure_in_the_relay_closes_the_inner_stream() -> None:
    source = Recorded()

    async def failing() -> AsyncIterator[Json]:
        async with closing_stream(source.stream()) as inner:
            async for chunk in inner:
                if chunk["i"] == 2:
                    raise RuntimeError("client gone")
                yield chunk

    with pytest.raises(RuntimeError):
        async for _ in failing():
            pass
    assert source.closed


@pytest.mark.anyio
async def test_a_stream_without_aclose_is_relayed_as_it_is() -> None:
    class Plain:
        def __init__(self) -> None:
            self.items = iter([{"a": 1}, {"a": 2}])

        def __aiter__(self) -> Plain:
            return self

        async def __anext__(self) -> Json:
            try:
                return next(self.items)
            except StopIteration:
                raise StopAsyncIteration from None

    got = [chunk async for chunk in relay(Plain())]
    assert got == [{"a": 1}, {"a": 2}]
