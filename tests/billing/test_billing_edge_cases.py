"""Regression tests for billing bugs found in review."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gatewaysupport import AppFactory, deployment
from plinth.billing.invoice_render import to_csv
from plinth.billing.invoices import build_invoice
from plinth.billing.plans import Plan, PlanStore
from plinth.store.database import open_database
from plinth.store.schema import subscriptions
from plinth.store.usage import UsageRecord, UsageStore
from upstreamfake import FakeUpstream


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(f"sqlite:///{tmp_path}/plinth.db")


def _subscribed(engine: Engine, tenant: str, plan: str, since: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            subscriptions.insert().values(
                tenant_id=tenant, plan=plan, effective_from=since, created_at=since
            )
        )


def _charge(engine: Engine, tenant: str, at: datetime, cost: int) -> None:
    UsageStore(engine).append(
        [
            UsageRecord(
                "req_" + uuid.uuid4().hex,
                at,
                "key_1",
                "chat.completions",
                "m",
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


# --- overage is rounded up once per plan period, not once per invoice part ----------------


def test_overage_of_a_period_split_over_two_invoices_is_rounded_once(engine: Engine) -> None:
    # A Shanghai month plan invoiced in UTC: November (Shanghai) straddles the UTC
    # invoices of October and November. Overage at 150 %: 1 micro of overage usage
    # on each side. Rounded once per period: ceil(2 × 1.5) = 3, not 2 + 2 = 4.
    PlanStore(engine).create(Plan("pro", "month", "Asia/Shanghai", 0, 0, "bill", 150))
    nov_shanghai = datetime(2026, 10, 31, 16, tzinfo=UTC)
    _subscribed(engine, "t1", "pro", nov_shanghai)
    _charge(engine, "t1", nov_shanghai + timedelta(hours=1), 1)  # Oct 31 UTC
    _charge(engine, "t1", nov_shanghai + timedelta(hours=10), 1)  # Nov 1 UTC
    october = build_invoice(engine, "t1", "acme", "2026-10", "UTC")
    november = build_invoice(engine, "t1", "acme", "2026-11", "UTC")
    assert october.usage_micros + november.usage_micros == 2
    assert october.overage_micros + november.overage_micros == 3


# --- the CSV invoice lists the wallet's top-ups and credit limits -------------------------


def test_csv_invoice_has_the_wallet_lines(engine: Engine) -> None:
    from plinth.billing.accounts import WalletStore

    WalletStore(engine).add("t1", "topup", 5_000_000, "first")
    WalletStore(engine).add("t1", "credit_limit", 2_000_000, None)
    period = datetime.now(UTC).strftime("%Y-%m")
    text = to_csv(build_invoice(engine, "t1", "acme", period, "UTC"))
    assert "topup" in text and "5" in text.split("topup", 1)[1].splitlines()[0]
    assert "credit_limit" in text


# --- admin API: clear 4xx, never a 500 --------------------------------------------------


def test_admin_api_refuses_amounts_too_large_and_directory_zones(
    gateway_app: AppFactory,
) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up)])
        client.post("/admin/tenants", json={"name": "acme"})
        for body in (
            {"name": "big", "fee": "1e30"},
            {"name": "big2", "included": "1e20"},
            {"name": "zone", "timezone": "America"},
        ):
            answer = client.post("/admin/plans", json=body)
            assert answer.status_code == 400, (body, answer.status_code, answer.text)
            assert answer.json()["error"]["type"] == "invalid_request_error"
        price = client.post("/admin/prices", json={"model": "m", "input_per_mtok": "1e30"})
        assert price.status_code == 400, price.text
        topup = client.post("/admin/tenants/acme/wallet/topups", json={"amount": "1e20"})
        assert topup.status_code == 400, topup.text
        limit = client.put("/admin/limits/tenant:acme", json={"spend": "1e30"})
        assert limit.status_code == 400, limit.text
        for path in (
            "/admin/tenants/acme/invoices/2026-11?timezone=America",
            "/admin/tenants/acme/invoices/9999-12",
        ):
            invoice = client.get(path)
            assert invoice.status_code == 400, (path, invoice.status_code, invoice.text)


# --- CLI: click errors, never a stack trace ---------------------------------------------


@pytest.mark.parametrize("amount", ["nan", "Infinity", "1e30", "1e20"])
def test_cli_refuses_non_finite_or_huge_amounts(run, amount: str) -> None:  # type: ignore[no-untyped-def]
    made = run("plans", "create", "pro", "--fee", amount)
    assert made.exit_code == 2, (made.output, made.exception)
    assert "--fee" in made.output


def test_cli_limits_refuse_an_unknown_time_zone(run) -> None:  # type: ignore[no-untyped-def]
    assert run("tenants", "create", "acme").exit_code == 0
    made = run("limits", "set", "tenant:acme", "--spend", "10", "--timezone", "Nowhere")
    assert made.exit_code == 2, (made.output, made.exception)
    assert "Nowhere" in made.output
    assert "Nowhere" not in run("limits", "list").output


def test_cli_invoice_of_a_bad_period_is_a_click_error(run) -> None:  # type: ignore[no-untyped-def]
    assert run("tenants", "create", "acme").exit_code == 0
    made = run("invoices", "acme", "--period", "9999-12")
    assert made.exit_code == 2, (made.output, made.exception)


# --- a day that starts after a skipped midnight (DST at 00:00) ends at the next midnight --


def test_day_after_a_skipped_midnight_ends_at_the_next_midnight(engine: Engine) -> None:
    # America/Santiago skips 2026-09-06 00:00-01:00. That day still ends at
    # 2026-09-07 00:00 local (03:00 UTC), where the next day starts: periods
    # must not overlap, or the hour is counted in both.
    from plinth.billing.accounts import period_bounds, period_end

    zone = "America/Santiago"
    day_6 = datetime(2026, 9, 6, 12, tzinfo=UTC)
    _, next_start = period_bounds("day", zone, datetime(2026, 9, 7, 12, tzinfo=UTC))
    assert period_end("day", zone, day_6) == next_start == datetime(2026, 9, 7, 3, tzinfo=UTC)

    PlanStore(engine).create(Plan("daily", "day", zone, 0, 5, "bill"))
    _subscribed(engine, "t1", "daily", datetime(2026, 9, 1, 4, tzinfo=UTC))
    _charge(engine, "t1", datetime(2026, 9, 7, 3, 30, tzinfo=UTC), 7)  # Sep 7 00:30 local
    invoice = build_invoice(engine, "t1", "acme", "2026-09", zone)
    assert sum(line.usage_micros for line in invoice.plan) == invoice.usage_micros == 7
    assert invoice.payg_usage_micros == 0
    assert invoice.overage_micros == 2


# --- numbers past a signed 64-bit INTEGER column: a 400 naming the field, never a 500 ------

TOO_BIG = 2**63


def test_admin_api_refuses_limits_a_64_bit_column_cannot_hold(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up)])
        client.post("/admin/tenants", json={"name": "acme"})
        for field in ("requests_per_minute", "tokens_per_minute", "max_concurrent"):
            answer = client.put("/admin/limits/tenant:acme", json={field: TOO_BIG})
            assert answer.status_code == 400, (field, answer.text)
            error = answer.json()["error"]
            assert error["param"] == field and str(TOO_BIG - 1) in error["message"]
        fine = client.put("/admin/limits/tenant:acme", json={"requests_per_minute": TOO_BIG - 1})
        assert fine.status_code == 200, fine.text
        assert client.get("/admin/limits").json()["data"][0]["requests_per_minute"] == TOO_BIG - 1
        # Ten top-ups of the largest amount would overflow the wallet's sum.
        for _ in range(9):
            topup = client.post("/admin/tenants/acme/wallet/topups", json={"amount": "1e12"})
            assert topup.status_code == 201, topup.text
        topup = client.post("/admin/tenants/acme/wallet/topups", json={"amount": "1e12"})
        assert topup.status_code == 400 and topup.json()["error"]["param"] == "amount"
        assert client.get("/admin/tenants/acme/wallet").json()["funds"] == "9000000000000"


def test_the_limit_store_refuses_them_too(engine: Engine) -> None:
    from plinth.billing.accounts import Limits, LimitStore
    from plinth.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="tokens_per_minute"):
        LimitStore(engine).set(Limits("key:k", tokens_per_minute=TOO_BIG))
    with pytest.raises(InvalidRequest, match="spend"):
        LimitStore(engine).set(Limits("key:k", spend_micros=TOO_BIG))


@pytest.mark.parametrize("option", ["--rpm", "--tpm", "--concurrent"])
def test_cli_refuses_limits_a_64_bit_column_cannot_hold(run, option: str) -> None:  # type: ignore[no-untyped-def]
    assert run("tenants", "create", "acme").exit_code == 0
    made = run("limits", "set", "tenant:acme", option, str(TOO_BIG))
    assert made.exit_code == 2, (made.output, made.exception)
    assert option in made.output and str(TOO_BIG - 1) in made.output
