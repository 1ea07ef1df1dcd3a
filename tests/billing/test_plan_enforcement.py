"""A hard-stop plan is a budget in the atomic reservation: concurrency cannot spend past it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from plinth.auth import Principal
from plinth.billing.guard import Billing
from plinth.billing.meter import LocalMeter, Meter, RedisMeter
from plinth.billing.plans import Plan
from plinth.billing.prices import PriceBook
from plinth.errors import InsufficientFunds
from plinth.store.database import open_database
from plinth.store.door import Database
from plinth.store.usage import UsageRecord, UsageStore

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["local", "redis"])
async def meter(request: pytest.FixtureRequest) -> AsyncIterator[Meter]:
    if request.param == "local":
        yield LocalMeter(ttl_s=30)
    else:
        redis_meter = RedisMeter(REDIS_URL, ttl_s=30)
        yield redis_meter
        await redis_meter.close()


def billing(tmp_path: Path, meter: Meter) -> Billing:
    engine = open_database(f"sqlite:///{tmp_path}/plinth.db")
    prices = PriceBook(engine)
    # 1 per request: the worst case held is exactly 1.000000.
    prices.add("paid", request_micros=1_000_000)
    prices.add("free")
    return Billing(Database(engine), meter, prices, assumed_max_tokens=10)


def on_plan(bill: Billing, overage: str, included: int) -> Principal:
    """A fresh tenant (Redis counters are shared between runs) on a fresh plan."""
    tenant = "ten_" + uuid.uuid4().hex[:12]
    name = f"p-{overage}-{tenant}"
    bill.plans.create(Plan(name, "month", "Asia/Shanghai", 99_000_000, included, overage))  # type: ignore[arg-type]
    bill.plans.subscribe(tenant, name)
    return Principal(key_id="key_" + tenant, name="app", is_admin=False, tenant_id=tenant)


def book(engine: Engine, principal: Principal, cost: int) -> None:
    UsageStore(engine).append(
        [
            UsageRecord(
                "req_" + uuid.uuid4().hex,
                datetime.now(UTC),
                principal.key_id,
                "chat.completions",
                "paid",
                "ok",
                200,
                1,
                1,
                1.0,
                tenant_id=principal.tenant_id,
                cost_micros=cost,
            )
        ]
    )


@pytest.mark.anyio
async def test_concurrent_requests_never_pass_a_hard_stop(tmp_path: Path, meter: Meter) -> None:
    bill = billing(tmp_path, meter)
    who = on_plan(bill, "stop", included=7_000_000)

    async def one(i: int) -> bool:
        try:
            reservation, _ = await bill.reserve(f"r{i}", who, "paid", 3, 1)
        except InsufficientFunds as refused:
            assert refused.code == "included_usage_exhausted"
            assert "used up" in refused.message and "next period" in refused.message
            return False
        await asyncio.sleep(0.01)
        await bill.settle(reservation, 1_000_000, 2)
        return True

    results = await asyncio.gather(*(one(i) for i in range(40)))
    assert sum(results) == 7


@pytest.mark.anyio
async def test_the_hard_stop_counts_what_the_ledger_already_billed(
    tmp_path: Path, meter: Meter
) -> None:
    bill = billing(tmp_path, meter)
    who = on_plan(bill, "stop", included=2_500_000)
    book(bill.engine, who, 2_000_000)  # earlier in this period
    with pytest.raises(InsufficientFunds):
        await bill.reserve("a", who, "paid", 3, 1)  # 2 + 1 > 2.5


@pytest.mark.anyio
async def test_an_overage_plan_has_no_money_cap_and_ignores_the_wallet(
    tmp_path: Path, meter: Meter
) -> None:
    bill = billing(tmp_path, meter)
    who = on_plan(bill, "bill", included=1_000_000)
    bill.wallets.add(who.tenant_id or "", "topup", 0)  # an empty wallet: not a subscriber's cap
    for i in range(5):  # 5.0 in all: far past the 1.0 included and the empty wallet
        reservation, price = await bill.reserve(f"o{i}", who, "paid", 3, 1)
        # Admitted at a price, holding nothing: there is no money cap to hold against.
        assert price is not None and not price.free and price.request_micros == 1_000_000
        assert reservation is None
        await bill.settle(reservation, 1_000_000, 2)
    book(bill.engine, who, 5_000_000)  # what those five cost, far past the included 1.0
    reservation, _ = await bill.reserve("o5", who, "paid", 3, 1)
    assert reservation is None


@pytest.mark.anyio
async def test_zero_priced_models_are_not_stopped(tmp_path: Path, meter: Meter) -> None:
    bill = billing(tmp_path, meter)
    who = on_plan(bill, "stop", included=0)
    with pytest.raises(InsufficientFunds):
        await bill.reserve("paid", who, "paid", 3, 1)
    reservation, price = await bill.reserve("free", who, "free", 3, 1)
    assert reservation is None and price is not None and price.free


@pytest.mark.anyio
async def test_the_worst_case_holds_the_per_second_price_for_the_reservation_ttl(
    tmp_path: Path, meter: Meter
) -> None:
    bill = billing(tmp_path, meter)
    bill.prices.add("local", compute_second_micros=10_000)  # 0.01 per second
    who = on_plan(bill, "stop", included=299_999)  # ttl 30 s × 0.01 = 0.3 does not fit
    with pytest.raises(InsufficientFunds):
        await bill.reserve("c1", who, "local", 3, 1)
    roomy = on_plan(bill, "stop", included=300_000)
    reservation, _ = await bill.reserve("c2", roomy, "local", 3, 1)
    assert reservation is not None
