"""Invoices of subscribed tenants: fee, included usage, overage and storage, to the micro-unit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from plinth.billing.invoice_render import to_csv, to_html
from plinth.billing.invoices import build_invoice
from plinth.billing.plans import Plan, PlanStore
from plinth.billing.prices import PriceBook
from plinth.billing.storage import GB_MONTH_BYTE_SECONDS, StorageMeter
from plinth.errors import InvalidRequest, NotFound
from plinth.store.database import open_database
from plinth.store.schema import subscriptions, usage
from plinth.store.usage import UsageRecord, UsageStore

SHANGHAI = timedelta(hours=8)
NOV = datetime(2026, 11, 1, tzinfo=UTC) - SHANGHAI  # 2026-11-01 00:00 in Asia/Shanghai
DEC = datetime(2026, 12, 1, tzinfo=UTC) - SHANGHAI


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(f"sqlite:///{tmp_path}/plinth.db")


def subscribed(engine: Engine, tenant: str, plan: str | None, since: datetime) -> None:
    """A subscription row in the past (the store refuses those: history is not rewritten)."""
    with engine.begin() as conn:
        conn.execute(
            subscriptions.insert().values(
                tenant_id=tenant, plan=plan, effective_from=since, created_at=since
            )
        )


def charge(engine: Engine, tenant: str, at: datetime, cost: int, model: str = "m") -> None:
    UsageStore(engine).append(
        [
            UsageRecord(
                "req_" + uuid.uuid4().hex,
                at,
                "key_1",
                "chat.completions",
                model,
                "ok",
                200,
                10,
                5,
                1.0,
                tenant_id=tenant,
                cost_micros=cost,
            )
        ]
    )


def ledger_sum(engine: Engine, tenant: str, start: datetime, end: datetime) -> int:
    query = select(func.coalesce(func.sum(usage.c.cost_micros), 0)).where(
        usage.c.tenant_id == tenant, usage.c.created_at >= start, usage.c.created_at < end
    )
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def pro(overage: str = "bill", percent: int = 100, period: str = "month") -> Plan:
    return Plan("pro", period, "Asia/Shanghai", 99_000_000, 50_000_000, overage, percent)  # type: ignore[arg-type]


def test_fee_included_usage_and_overage_reconcile_with_the_ledger(engine: Engine) -> None:
    PlanStore(engine).create(pro(percent=150))
    subscribed(engine, "t1", "pro", NOV - timedelta(days=40))
    charge(engine, "t1", NOV - timedelta(seconds=1), 7_000_000)  # October: not this invoice
    charge(engine, "t1", NOV, 30_000_000, model="a")
    charge(engine, "t1", NOV + timedelta(days=3), 25_000_003, model="b")
    charge(engine, "t1", DEC - timedelta(seconds=1), 1_000_000, model="a")
    charge(engine, "t1", DEC, 9_000_000)  # December

    invoice = build_invoice(engine, "t1", "acme", "2026-11")
    assert invoice.timezone == "Asia/Shanghai"  # the plan's: its periods align
    assert invoice.usage_micros == ledger_sum(engine, "t1", NOV, DEC) == 56_000_003
    (term,) = invoice.plan
    assert (term.period, term.fee_micros, term.included_used_micros) == (
        "2026-11",
        99_000_000,
        50_000_000,
    )
    assert term.overage_usage_micros == 6_000_003
    assert term.overage_micros == 9_000_005  # 6.000003 × 1.5 = 9.0000045, rounded up
    assert invoice.payg_usage_micros == 0
    assert invoice.total_due_micros == 99_000_000 + 9_000_005
    data = invoice.as_json()
    assert data["total_due"] == "108.000005" and data["subscription_fee_micros"] == 99_000_000
    assert {(line.model, line.cost_micros) for line in invoice.lines} == {
        ("a", 31_000_000),
        ("b", 25_000_003),
    }
    assert to_csv(invoice).splitlines()[-1] == "total due,,,,,,108.000005"
    assert "9.000005" in to_html(invoice)


def test_a_period_split_across_invoices_counts_its_earlier_usage(engine: Engine) -> None:
    """In UTC the Shanghai month starts 8 hours before the invoice: its usage there
    is on October's invoice, and November's included usage is already partly used."""
    PlanStore(engine).create(pro())
    subscribed(engine, "t1", "pro", NOV - timedelta(days=40))
    charge(engine, "t1", NOV + timedelta(hours=1), 45_000_000)  # Oct 31 17:00 UTC
    charge(engine, "t1", NOV + timedelta(hours=9), 10_000_000)  # Nov 1 01:00 UTC
    october = build_invoice(engine, "t1", "acme", "2026-10", "UTC")
    november = build_invoice(engine, "t1", "acme", "2026-11", "UTC")
    # A fee is on the invoice where its period starts: the Shanghai October began on
    # Sep 30 16:00 UTC (September's invoice), November on Oct 31 16:00 UTC (October's).
    assert [(t.period, t.fee_micros) for t in october.plan] == [
        ("2026-10", 0),
        ("2026-11", 99_000_000),
    ]
    assert [t.fee_micros for t in november.plan] == [0, 99_000_000]
    first = november.plan[0]
    assert (first.period, first.usage_micros, first.included_used_micros) == (
        "2026-11",
        10_000_000,
        5_000_000,  # 45 of the 50 included were used on October's invoice
    )
    assert first.overage_micros == 5_000_000
    both = october.usage_micros + november.usage_micros
    assert both == ledger_sum(engine, "t1", NOV - timedelta(days=40), DEC) == 55_000_000


def test_pay_as_you_go_then_a_plan_mid_month(engine: Engine) -> None:
    PlanStore(engine).create(pro(period="day"))
    subscribed(engine, "t1", "pro", NOV + timedelta(days=10, hours=12))  # mid-day
    charge(engine, "t1", NOV + timedelta(days=2), 3_000_000)  # before: pay-as-you-go
    charge(engine, "t1", NOV + timedelta(days=10, hours=13), 60_000_000)
    invoice = build_invoice(engine, "t1", "acme", "2026-11")
    # Day periods from Nov 11 12:00 to the end of the month: 20 of them, the first short.
    assert len(invoice.plan) == 20 and invoice.plan[0].starts.endswith("04:00:00+00:00")
    assert invoice.subscription_fee_micros == 20 * 99_000_000
    assert invoice.payg_usage_micros == 3_000_000
    assert invoice.overage_micros == 10_000_000
    assert invoice.total_due_micros == 20 * 99_000_000 + 10_000_000 + 3_000_000
    assert invoice.usage_micros == ledger_sum(engine, "t1", NOV, DEC)


def test_storage_is_priced_per_gb_month_rounded_once_per_line(engine: Engine) -> None:
    prices, meter = PriceBook(engine), StorageMeter(engine)
    prices.add("storage:vector_store", storage_gb_month_micros=100_000, effective_from=NOV)
    prices.add(
        "storage:vector_store",
        storage_gb_month_micros=300_000,
        effective_from=NOV + timedelta(days=15),
    )
    meter.set_size("vs_a", 2 * 10**9, tenant_id="t1", at=NOV + timedelta(days=10))
    meter.set_size("vs_b", 1, tenant_id="t1", at=NOV + timedelta(days=10))
    meter.set_size("vs_a", 0, tenant_id="t1", at=NOV + timedelta(days=20))
    meter.set_size("vs_b", 0, tenant_id="t1", at=NOV + timedelta(days=20))
    meter.set_size("vs_c", 10**9, tenant_id="other", at=NOV)
    invoice = build_invoice(engine, "t1", "acme", "2026-11", "Asia/Shanghai")
    first, second = invoice.storage
    five_days = 5 * 86_400
    assert first.byte_seconds == second.byte_seconds == (2 * 10**9 + 1) * five_days
    assert (first.gb_month_micros, second.gb_month_micros) == (100_000, 300_000)
    exact = (2 * 10**9 + 1) * five_days * 100_000
    assert first.cost_micros == -(-exact // GB_MONTH_BYTE_SECONDS) == 33_334  # 33333.35 up
    assert second.cost_micros == 100_001  # 100000.005 rounded up
    assert invoice.total_due_micros == invoice.storage_micros == 133_335
    assert "storage,vector_store" in to_csv(invoice)


def test_subscribing_changes_plan_when_the_current_period_ends(engine: Engine) -> None:
    store = PlanStore(engine)
    store.create(pro())
    store.create(Plan("lite", "month", "UTC", 9_000_000, 5_000_000, "stop"))
    now = datetime.now(UTC)
    first = store.subscribe("t1", "pro")  # from pay-as-you-go: at once
    assert abs((first.effective_from - now).total_seconds()) < 5
    term = store.term_at("t1", now + timedelta(seconds=5))
    assert term is not None and term.plan.name == "pro"
    second = store.subscribe("t1", "lite")
    assert second.effective_from == term.ends  # the end of pro's Shanghai month
    later = store.term_at("t1", term.ends)
    assert later is not None and later.plan.name == "lite" and later.starts == term.ends
    assert store.subscribe("t1", None, term.ends + timedelta(days=40)).plan is None
    assert store.term_at("t1", term.ends + timedelta(days=41)) is None
    with pytest.raises(InvalidRequest):
        store.subscribe("t1", "pro", now - timedelta(days=1))
    with pytest.raises(NotFound):
        store.subscribe("t1", "nope")


def test_plans_are_validated_and_never_edited(engine: Engine) -> None:
    store = PlanStore(engine)
    store.create(pro())
    with pytest.raises(Exception) as exists:
        store.create(pro())
    assert getattr(exists.value, "status_code", None) == 409
    with pytest.raises(InvalidRequest):
        store.create(Plan("x", "month", "Mars/Olympus", 0, 0, "bill"))
    with pytest.raises(InvalidRequest):
        store.create(Plan("payg", "month", "UTC", 0, 0, "bill"))
