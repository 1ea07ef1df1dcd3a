"""Plans, subscriptions, per-second and storage prices through the admin API and requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from gatewaysupport import AppFactory, deployment
from upstreamfake import FakeUpstream


def ask(model: str = "gpt-fake") -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "one two three"}],
    }


def tenant_key(client: TestClient) -> dict[str, str]:
    tenant = client.post("/admin/tenants", json={"name": "acme"}).json()
    key = client.post("/admin/keys", json={"name": "app", "tenant": "acme"}).json()
    priced = client.post(
        "/admin/prices",
        json={"model": "gpt-fake", "input_per_mtok": "1000", "output_per_mtok": "2000"},
    )
    assert priced.status_code == 201, priced.text
    return {"authorization": f"Bearer {key['key']}", "tenant": tenant["id"]}


def test_plans_api_creates_lists_shows_and_refuses_bad_input(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up)])
        body = {
            "name": "pro",
            "period": "month",
            "timezone": "Asia/Shanghai",
            "fee": "99",
            "included": "50",
            "overage": "bill",
            "overage_percent": 120,
        }
        created = client.post("/admin/plans", json=body)
        assert created.status_code == 201, created.text
        assert (created.json()["fee"], created.json()["included"]) == ("99", "50")
        assert client.get("/admin/plans/pro").json()["overage_percent"] == 120
        assert [p["name"] for p in client.get("/admin/plans").json()["data"]] == ["pro"]
        again = client.post("/admin/plans", json=body)
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_exists"
        bad_zone = client.post("/admin/plans", json={**body, "name": "x", "timezone": "Nowhere"})
        assert bad_zone.status_code == 400 and bad_zone.json()["error"]["param"] == "timezone"
        bad_period = client.post("/admin/plans", json={**body, "name": "y", "period": "year"})
        assert bad_period.status_code == 400
        assert client.get("/admin/plans/nope").status_code == 404
        client.post("/admin/tenants", json={"name": "acme"})
        unknown = client.put("/admin/tenants/acme/plan", json={"plan": "nope"})
        assert unknown.status_code == 404 and "error" in unknown.json()
        anonymous = client.get("/admin/plans", headers={"authorization": "Bearer sk-nope"})
        assert anonymous.status_code == 401


def test_a_hard_stop_plan_refuses_with_402_until_the_next_period(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up)])
        who = tenant_key(client)
        headers = {"authorization": who["authorization"]}
        # Each request holds 0.041 and costs 0.009 (see test_budgets_in_requests).
        # With 0.05 included: 0 + 0.041 fits, 0.009 + 0.041 fits, 0.018 + 0.041 does not.
        plan = {"name": "tiny", "fee": "1", "included": "0.05", "overage": "stop"}
        assert client.post("/admin/plans", json=plan).status_code == 201
        client.post("/admin/tenants/acme/wallet/topups", json={"amount": "0"})  # not applied
        put = client.put("/admin/tenants/acme/plan", json={"plan": "tiny"})
        assert put.status_code == 200 and put.json()["plan"] == "tiny"
        codes = [
            client.post("/v1/chat/completions", json=ask(), headers=headers).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 402]
        refused = client.post("/v1/chat/completions", json=ask(), headers=headers).json()
        error = refused["error"]
        assert (error["type"], error["code"]) == ("insufficient_quota", "included_usage_exhausted")
        assert "tiny" in error["message"] and "next period" in error["message"]
        assert len(up.generation_requests()) == 2


def test_subscription_invoice_reconciles_with_the_ledger(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up), deployment(up, model="local", id="local")])
        who = tenant_key(client)
        headers = {"authorization": who["authorization"]}
        per_second = client.post("/admin/prices", json={"model": "local", "per_second": "0.5"})
        assert per_second.status_code == 201 and per_second.json()["per_second"] == "0.5"
        plan = {"name": "std", "timezone": "UTC", "fee": "10", "included": "0.01"}
        assert client.post("/admin/plans", json=plan).status_code == 201
        assert client.put("/admin/tenants/acme/plan", json={"plan": "std"}).status_code == 200
        ids = []
        for model in ("gpt-fake", "gpt-fake", "local"):
            response = client.post("/v1/chat/completions", json=ask(model), headers=headers)
            assert response.status_code == 200, response.text
            ids.append(response.headers["x-request-id"])
        rows = [client.get(f"/admin/usage/requests/{i}").json() for i in ids]
        # The per-second charge, re-derived from the ledger row: latency_ms rounded up
        # to the millisecond (no failed attempts) at 0.5 per second, rounded up.
        local = rows[2]
        billed_ms = -(-round(local["latency_ms"] * 1000) // 1000)
        assert local["cost_micros"] == -(-billed_ms * 500_000 // 1000) > 0
        assert local["price_id"] is not None
        ledger = sum(r["cost_micros"] for r in rows)
        period = datetime.now(UTC).strftime("%Y-%m")
        invoice = client.get(f"/admin/tenants/acme/invoices/{period}").json()
        assert invoice["timezone"] == "UTC"
        assert invoice["usage_micros"] == ledger
        assert invoice["included_used_micros"] == min(ledger, 10_000)
        assert invoice["overage_micros"] == ledger - min(ledger, 10_000)
        assert invoice["subscription_fee_micros"] == 10_000_000
        assert invoice["total_due_micros"] == 10_000_000 + invoice["overage_micros"]
        assert invoice["payg_usage_micros"] == 0 and invoice["storage_micros"] == 0
        csv_text = client.get(f"/admin/tenants/acme/invoices/{period}?format=csv").text
        assert "plan fee,std " in csv_text and "overage,std " in csv_text
        page = client.get(f"/admin/tenants/acme/invoices/{period}?format=html").text
        assert "<h2>Plan</h2>" in page and "<script" not in page


def test_storage_prices_live_on_the_storage_pseudo_model(gateway_app: AppFactory) -> None:
    with FakeUpstream() as up:
        client = gateway_app([deployment(up)])
        ok = client.post(
            "/admin/prices",
            json={"model": "storage:vector_store", "storage_per_gb_month": "0.1"},
        )
        assert ok.status_code == 201 and ok.json()["storage_per_gb_month"] == "0.1"
        mixed = client.post(
            "/admin/prices", json={"model": "storage:vector_store", "input_per_mtok": "1"}
        )
        assert mixed.status_code == 400 and mixed.json()["error"]["param"] == "model"
        misplaced = client.post(
            "/admin/prices", json={"model": "gpt-fake", "storage_per_gb_month": "1"}
        )
        assert misplaced.status_code == 400
