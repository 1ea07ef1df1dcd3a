"""Prices, budgets, wallets and rate limits on the app, against a fake upstream."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from gatewaysupport import AppFactory, deployment
from upstreamfake import FakeUpstream


def ask() -> dict[str, Any]:
    return {
        "model": "gpt-fake",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "one two three"}],
    }


def setup(client: TestClient, **limits: Any) -> dict[str, str]:
    tenant = client.post("/admin/tenants", json={"name": "acme"}).json()
    key = client.post("/admin/keys", json={"name": "app", "tenant": "acme"}).json()
    assert (
        client.post(
            "/admin/prices",
            json={"model": "gpt-fake", "input_per_mtok": "1000", "output_per_mtok": "2000"},
        ).status_code
        == 201
    )
    if limits:
        put = client.put(f"/admin/limits/key:{key['id']}", json=limits)
        assert put.status_code == 200, put.text
    return {"authorization": f"Bearer {key['key']}", "tenant": tenant["id"], "key_id": key["id"]}


def test_every_ledger_row_carries_its_cost_and_price(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up)])
        who = setup(client)
        response = client.post(
            "/v1/chat/completions", json=ask(), headers={"authorization": who["authorization"]}
        )
        assert response.status_code == 200, response.text
        row = client.get(f"/admin/usage/requests/{response.headers['x-request-id']}").json()
        # 3 prompt tokens at 1000 per 1M + 3 completion tokens at 2000 per 1M = 0.009
        assert row["cost_micros"] == 9_000 and row["price_id"] is not None
        assert row["tenant_id"] == who["tenant"]


def test_a_spend_budget_refuses_with_402_before_overspending(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up)])
        # Worst case held per request: 4 estimated prompt tokens × 1.25 + 16 = 21 at
        # 1000/1M, plus max_tokens 10 at 2000/1M = 0.041; it then costs 0.009. A
        # budget of 0.045 admits the first (0.041 ≤ 0.045) but not a second
        # (0.009 spent + 0.041 > 0.045).
        who = setup(client, spend="0.045", spend_period="day")
        headers = {"authorization": who["authorization"]}
        assert client.post("/v1/chat/completions", json=ask(), headers=headers).status_code == 200
        refused = client.post("/v1/chat/completions", json=ask(), headers=headers)
        assert refused.status_code == 402, refused.text
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
        assert len(up.generation_requests()) == 1  # the refused one never left


def test_a_wallet_runs_out_and_a_topup_refills_it(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up)])
        who = setup(client)
        headers = {"authorization": who["authorization"]}
        topped = client.post("/admin/tenants/acme/wallet/topups", json={"amount": "0.03"})
        assert topped.status_code == 201 and topped.json()["funds"] == "0.03"  # < 0.041 held
        assert client.post("/v1/chat/completions", json=ask(), headers=headers).status_code == 402
        client.post("/admin/tenants/acme/wallet/topups", json={"amount": "1"})
        assert client.post("/v1/chat/completions", json=ask(), headers=headers).status_code == 200
        wallet = client.get("/admin/tenants/acme/wallet").json()
        assert (wallet["spent"], wallet["balance"]) == ("0.009", "1.021")


def test_requests_per_minute_give_429_with_retry_after(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up)])
        who = setup(client, requests_per_minute=2)
        headers = {"authorization": who["authorization"]}
        codes = [
            client.post("/v1/chat/completions", json=ask(), headers=headers).status_code
            for _ in range(3)
        ]
        assert codes[:2] == [200, 200] or codes.count(200) >= 2  # a minute boundary resets
        limited = [c for c in codes if c == 429]
        if limited:
            response = client.post("/v1/chat/completions", json=ask(), headers=headers)
            assert response.status_code == 429 and 1 <= int(response.headers["retry-after"]) <= 60


def test_zero_priced_models_ignore_money_limits_not_rate_limits(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up), deployment(up, model="free", id="free")])
        who = setup(client, spend="0", max_concurrent=5)
        headers = {"authorization": who["authorization"]}
        free = {**ask(), "model": "free"}
        assert client.post("/v1/chat/completions", json=free, headers=headers).status_code == 200
        assert client.post("/v1/chat/completions", json=ask(), headers=headers).status_code == 402


def test_invoice_reconciles_with_the_ledger_to_the_micro_unit(gateway_app: AppFactory) -> None:
    from datetime import UTC, datetime

    with FakeUpstream() as up:
        client = gateway_app([deployment(up), deployment(up, model="other", id="other")])
        who = setup(client)
        headers = {"authorization": who["authorization"]}
        client.post("/admin/prices", json={"model": "other", "per_request": "0.0033"})
        client.post("/admin/tenants/acme/wallet/topups", json={"amount": "5", "note": "PO-7"})
        for model in ("gpt-fake", "gpt-fake", "other"):
            assert (
                client.post(
                    "/v1/chat/completions", json={**ask(), "model": model}, headers=headers
                ).status_code
                == 200
            )
        period = datetime.now(UTC).strftime("%Y-%m")
        invoice = client.get(f"/admin/tenants/acme/invoices/{period}").json()
        rows = client.get("/admin/usage/requests?limit=10000").json()["data"]
        ledger = sum(r["cost_micros"] for r in rows if r["tenant_id"] == who["tenant"])
        assert invoice["usage_micros"] == ledger == 2 * 9_000 + 3_300
        assert {(line["model"], line["requests"]) for line in invoice["lines"]} == {
            ("gpt-fake", 2),
            ("other", 1),
        }
        assert [(w["kind"], w["amount_micros"], w["note"]) for w in invoice["wallet"]] == [
            ("topup", 5_000_000, "PO-7")
        ]
        csv_text = client.get(f"/admin/tenants/acme/invoices/{period}?format=csv").text
        assert csv_text.splitlines()[-1] == "total due,,,,,,0.0213"
        page = client.get(f"/admin/tenants/acme/invoices/{period}?format=html").text
        assert "0.0213" in page and "<script" not in page and "http" not in page.split("<body>")[1]
        bad = client.get("/admin/tenants/acme/invoices/2026-13")
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "period"
