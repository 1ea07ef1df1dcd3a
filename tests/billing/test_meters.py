"""Reserve-then-settle on both backends: no overspend under concurrency, expiry, rate limits."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from plinth.billing.meter import (
    BudgetCheck,
    Demand,
    LocalMeter,
    Meter,
    RateCheck,
    RedisMeter,
)
from plinth.errors import Refused

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    """The meters' time, moved by the test: a reservation expires without a wait."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["local", "redis"])
async def meter(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[Meter]:
    if request.param == "local":
        yield LocalMeter(ttl_s=0.5, clock=clock)
    else:
        redis_meter = RedisMeter(REDIS_URL, ttl_s=0.5, clock=clock)
        yield redis_meter
        await redis_meter.close()


def budget(counter: str, limit: int, amount: int, seed: int = 0) -> BudgetCheck:
    async def spent() -> int:
        return seed

    return BudgetCheck(counter, limit, amount, seed=spent)


def fresh() -> str:
    return "test:" + uuid.uuid4().hex


@pytest.mark.anyio
async def test_concurrent_reservations_never_overspend(meter: Meter) -> None:
    counter = fresh()

    async def one(i: int) -> bool:
        try:
            reservation = await meter.reserve(Demand(f"r{i}", [budget(counter, 10_000, 1_000)]))
        except Refused:
            return False
        await asyncio.sleep(0)  # the others reserve while this is held; settling moves it to spent
        await meter.settle(reservation, 1_000, 0)
        return True

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert sum(results) == 10


@pytest.mark.anyio
async def test_settling_below_the_hold_frees_the_rest(meter: Meter) -> None:
    counter = fresh()
    held = await meter.reserve(Demand("a", [budget(counter, 1_000, 800)]))
    with pytest.raises(Refused) as refused:
        await meter.reserve(Demand("b", [budget(counter, 1_000, 300)]))
    assert refused.value.kind == "budget"
    await meter.settle(held, 500, 0)  # it cost less than held
    await meter.reserve(Demand("c", [budget(counter, 1_000, 500)]))


@pytest.mark.anyio
async def test_settled_spend_is_seeded_from_the_ledger(meter: Meter) -> None:
    counter = fresh()
    with pytest.raises(Refused):
        await meter.reserve(Demand("a", [budget(counter, 1_000, 200, seed=900)]))


@pytest.mark.anyio
async def test_a_dead_processes_reservation_expires(meter: Meter, clock: Clock) -> None:
    counter = fresh()
    await meter.reserve(Demand("lost", [budget(counter, 1_000, 1_000)]))  # never settled
    with pytest.raises(Refused):
        await meter.reserve(Demand("x", [budget(counter, 1_000, 1)]))
    clock.now += 0.49  # ttl 0.5 s: still held
    with pytest.raises(Refused):
        await meter.reserve(Demand("x2", [budget(counter, 1_000, 1)]))
    clock.now += 0.02  # past it
    await meter.reserve(Demand("y", [budget(counter, 1_000, 1_000)]))


@pytest.mark.anyio
async def test_rate_limits_requests_tokens_and_concurrency(meter: Meter) -> None:
    subject = fresh()
    rpm = RateCheck(subject, 3, None, None)
    for i in range(3):
        await meter.settle(await meter.reserve(Demand(f"q{i}", rates=[rpm])), 0, 0)
    with pytest.raises(Refused) as refused:
        await meter.reserve(Demand("q3", rates=[rpm]))
    assert refused.value.kind == "requests" and 0 < (refused.value.retry_after_s or 0) <= 60

    tokens = RateCheck(fresh(), None, 100, None)
    first = await meter.reserve(Demand("t1", rates=[tokens], tokens=80))
    with pytest.raises(Refused):
        await meter.reserve(Demand("t2", rates=[tokens], tokens=30))
    await meter.settle(first, 0, 20)  # used 20 of the 80 held
    await meter.reserve(Demand("t3", rates=[tokens], tokens=30))

    conc = RateCheck(fresh(), None, None, 2)
    a = await meter.reserve(Demand("c1", rates=[conc]))
    await meter.reserve(Demand("c2", rates=[conc]))
    with pytest.raises(Refused) as busy:
        await meter.reserve(Demand("c3", rates=[conc]))
    assert busy.value.kind == "concurrency"
    await meter.settle(a, 0, 0)
    await meter.reserve(Demand("c4", rates=[conc]))


@pytest.mark.anyio
async def test_a_refusal_reserves_nothing(meter: Meter) -> None:
    counter, subject = fresh(), fresh()
    rpm = RateCheck(subject, 1, None, None)
    await meter.reserve(Demand("a", [budget(counter, 1_000, 100)], rates=[rpm]))
    with pytest.raises(Refused):
        await meter.reserve(Demand("b", [budget(counter, 1_000, 100)], rates=[rpm]))
    # b's budget hold was not kept: 900 more still fit.
    await meter.reserve(Demand("c", [budget(counter, 1_000, 900)]))
