"""Per-second prices: the serving time billed is the ledger latency less failed attempts."""

from __future__ import annotations

from datetime import UTC, datetime

from plinth.billing.prices import Price
from plinth.metering.accounting import Accounting
from plinth.store.usage import AttemptRecord


def price(compute_second_micros: int, request_micros: int = 0) -> Price:
    return Price(
        1,
        "local",
        0,
        0,
        0,
        request_micros,
        datetime(2026, 1, 1, tzinfo=UTC),
        compute_second_micros=compute_second_micros,
    )


def failed(latency_ms: float) -> AttemptRecord:
    return AttemptRecord(
        "req_1", 1, datetime.now(UTC), "d1", "upstream_error", 502, "x", latency_ms
    )


def test_serving_time_is_rounded_up_to_the_millisecond_after_failed_attempts() -> None:
    acct = Accounting("req_1", "chat.completions", "local", None, started=100.0)
    acct.ended = 101.2345  # 1234.5 ms in all
    acct.failed_attempts.append(failed(200.0004))
    acct.price = price(compute_second_micros=1_000_000, request_micros=7)
    acct.ttft_s = 0.5
    assert acct.compute_ms() == 1035  # 1234.500 - 200.000 = 1034.5, rounded up
    assert acct.charge(None) == 7 + 1_035_000


def test_no_output_no_charge_and_a_per_second_price_is_not_free() -> None:
    acct = Accounting("req_1", "chat.completions", "local", None, started=100.0)
    acct.ended = 103.0
    acct.price = price(compute_second_micros=333)
    assert not acct.price.free
    assert acct.charge(RuntimeError("refused")) == 0  # failed before any output
    acct.ttft_s = 0.1
    assert acct.charge(None) == 999  # 3000 ms × 333 per second
