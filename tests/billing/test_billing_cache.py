"""Billing's limits/wallet/plan cache: concurrent misses share one database load."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from plinth.billing.guard import Billing
from plinth.billing.meter import LocalMeter
from plinth.billing.prices import PriceBook
from plinth.store.database import open_database
from plinth.store.door import Database

pytestmark = pytest.mark.anyio


def _billing(tmp_path: Path) -> Billing:
    engine = open_database(f"sqlite:///{tmp_path}/plinth.db")
    return Billing(Database(engine), LocalMeter(ttl_s=30), PriceBook(engine), assumed_max_tokens=10)


async def test_concurrent_misses_share_one_load_and_a_failed_load_is_retried(
    tmp_path: Path,
) -> None:
    bill = _billing(tmp_path)
    calls = 0
    lock = threading.Lock()

    def load() -> str:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(0.05)  # a slow query: every caller arrives while it runs
        return "limits"

    results = await asyncio.gather(*(bill._cached("limits:key:a", load) for _ in range(50)))
    assert results == ["limits"] * 50 and calls == 1
    assert await bill._cached("limits:key:a", load) == "limits" and calls == 1  # still fresh

    def broken() -> str:
        raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        await bill._cached("wallet:tenant:t", broken)
    assert await bill._cached("wallet:tenant:t", lambda: 7) == 7  # not cached as failed

    bill.forget()
    assert await bill._cached("limits:key:a", load) == "limits" and calls == 2
