"""Billing's limits/wallet/plan cache: concurrent misses share one database load.

Driven through ``Billing.reserve``, counting the loads of one key's limits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from plinth.auth import Principal
from plinth.billing.accounts import Limits
from plinth.billing.guard import Billing
from plinth.billing.meter import LocalMeter
from plinth.billing.prices import PriceBook
from plinth.store.database import open_database
from plinth.store.door import Database

pytestmark = pytest.mark.anyio

WHO = Principal(key_id="key_a", name="app", is_admin=False)


def _billing(tmp_path: Path) -> Billing:
    engine = open_database(f"sqlite:///{tmp_path}/plinth.db")
    return Billing(Database(engine), LocalMeter(ttl_s=30), PriceBook(engine), assumed_max_tokens=10)


async def test_concurrent_misses_share_one_load_and_a_failed_load_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bill = _billing(tmp_path)
    await bill.reserve("warm", None, "m", 3, 1)  # prices loaded: nothing else awaits first
    loads: list[str] = []
    failing = False

    def get(subject: str) -> Limits | None:
        loads.append(subject)
        if failing:
            raise RuntimeError("database away")
        return None

    monkeypatch.setattr(bill.limits, "get", get)

    async def reserve() -> None:
        assert await bill.reserve("r", WHO, "m", 3, 1) == (None, None)

    # The load's result is only seen once the event loop turns: every one of the
    # fifty finds it in flight, whatever the speed of the database thread.
    await asyncio.gather(*(reserve() for _ in range(50)))
    assert loads == ["key:key_a"]
    await reserve()
    assert loads == ["key:key_a"]  # still fresh

    bill.forget()
    failing = True
    with pytest.raises(RuntimeError):
        await reserve()
    failing = False
    await reserve()  # a failed load is not cached: this one loads again
    assert loads == ["key:key_a"] * 3


async def test_a_stale_entry_is_answered_at_once_and_reloaded_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plinth.billing import guard
    from plinth.errors import RateLimited

    bill = _billing(tmp_path)
    await bill.reserve("warm", None, "m", 3, 1)
    loads: list[str] = []
    limits: list[Limits | None] = [None]

    def get(subject: str) -> Limits | None:
        loads.append(subject)
        return limits[0]

    monkeypatch.setattr(bill.limits, "get", get)
    monkeypatch.setattr(guard, "_CACHE_TTL_S", 0.0)  # every entry is stale at once
    await bill.reserve("r1", WHO, "m", 3, 1)  # a miss: loaded before the answer
    assert loads == ["key:key_a"]
    limits[0] = Limits("key:key_a", requests_per_minute=0)  # from now on: refuse
    # Stale: answered from what was loaded (no limits), the reload runs behind it.
    assert await bill.reserve("r2", WHO, "m", 3, 1) == (None, None)
    for _ in range(200):
        if len(loads) == 2 and bill._cache["limits:key:key_a"][0].done():
            break
        await asyncio.sleep(0.01)
    assert loads == ["key:key_a"] * 2
    await asyncio.sleep(0)  # the reload's callback has put it in the cache
    with pytest.raises(RateLimited):
        await bill.reserve("r3", WHO, "m", 3, 1)


async def test_stale_prices_are_read_again_behind_the_request(tmp_path: Path) -> None:
    bill = _billing(tmp_path)
    assert (await bill.reserve("first", None, "m", 3, 1))[1] is None  # read before answering
    bill.prices._ttl_s = 0.0  # stale at once
    # Another process (here: another book on the same database) adds a price.
    PriceBook(bill.engine).add("m", input_micros_per_mtok=7)
    # Stale: answered from the rows read before; the re-read runs behind.
    assert (await bill.reserve("second", None, "m", 3, 1))[1] is None
    reread = bill._prices_reread
    assert reread is not None
    await reread
    price = (await bill.reserve("third", None, "m", 3, 1))[1]
    assert price is not None and price.input_micros_per_mtok == 7
