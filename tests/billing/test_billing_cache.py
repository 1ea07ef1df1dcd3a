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
