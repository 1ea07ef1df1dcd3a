"""Load profiles: concurrency is bounded, Poisson arrivals overlap and keep their seed."""

from __future__ import annotations

import asyncio
import random

import pytest

from plinth.bench import profiles


@pytest.mark.anyio
async def test_concurrency_is_never_exceeded() -> None:
    in_flight = peak = 0

    async def job() -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return 1

    results = await profiles.at_concurrency([job] * 10, 3)
    assert results == [1] * 10 and peak == 3


@pytest.mark.anyio
async def test_poisson_does_not_wait_for_replies() -> None:
    # A job that never finishes on its own: a closed loop would deadlock, arrivals must not.
    gate = asyncio.Event()
    started = 0

    async def job() -> int:
        nonlocal started
        started += 1
        if started == 4:
            gate.set()
        await gate.wait()
        return started

    results = await asyncio.wait_for(profiles.poisson([job] * 4, rate=1000.0), 5)
    assert len(results) == 4


def test_poisson_gaps_come_from_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def job() -> None:
        return None

    monkeypatch.setattr(profiles.asyncio, "sleep", fake_sleep)
    asyncio.run(profiles.poisson([job] * 4, rate=2.0, seed=7))
    rng = random.Random(7)
    assert slept == [rng.expovariate(2.0) for _ in range(3)]
