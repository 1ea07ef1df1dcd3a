"""``plinth plans`` and the new ``plinth prices`` options, on a temporary data dir."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo


def test_plans_create_list_show_subscribe(run) -> None:  # type: ignore[no-untyped-def]
    made = run(
        "plans", "create", "pro", "--period", "month", "--timezone", "Asia/Shanghai",
        "--fee", "99", "--included", "50", "--overage", "stop",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    shown = json.loads(run("plans", "show", "pro").output)
    assert (shown["fee"], shown["included"], shown["overage"]) == ("99", "50", "stop")
    assert "pro" in run("plans", "list").output
    taken = run("plans", "create", "pro")  # never edited; a refusal, not a usage error
    assert taken.exit_code == 1 and "exists" in taken.output
    assert run("plans", "create", "x", "--timezone", "Nowhere").exit_code == 2
    odd = run("plans", "create", "pro plan/2")  # the API refuses such names too
    assert odd.exit_code == 2 and "plan name" in odd.output
    assert run("plans", "create", "y", "--fee", "-1").exit_code == 2
    assert run("plans", "show", "nope").exit_code == 2

    assert run("tenants", "create", "acme").exit_code == 0
    joined = run("plans", "subscribe", "acme", "pro")
    assert joined.exit_code == 0 and "plan 'pro'" in joined.output, joined.output
    changed = run("plans", "subscribe", "acme", "payg")
    # From a plan, a change waits for the end of the current (Shanghai) month.
    assert changed.exit_code == 0 and "pay-as-you-go" in changed.output
    assert "T16:00:00+00:00" in changed.output
    assert run("plans", "subscribe", "acme", "pro", "--effective", "2001-01-01").exit_code == 2
    assert run("plans", "subscribe", "nobody", "pro").exit_code == 2

    period = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    invoice = json.loads(run("invoices", "acme", "--period", period).output)
    assert invoice["timezone"] == "Asia/Shanghai"  # the plan's, by default
    assert invoice["subscription_fee_micros"] == 99_000_000  # its first period began now


def test_prices_per_second_and_storage(run) -> None:  # type: ignore[no-untyped-def]
    assert run("prices", "set", "local", "--per-second", "0.002").exit_code == 0
    assert run("prices", "set-storage", "0.25").exit_code == 0
    refused = run("prices", "set", "storage:vector_store", "--input", "1")
    assert refused.exit_code == 2
    rows = {r["model"]: r for r in json.loads(run("prices", "list", "--format", "json").output)}
    assert rows["local"]["per_second"] == "0.002"
    assert rows["storage:vector_store"]["storage_per_gb_month"] == "0.25"
