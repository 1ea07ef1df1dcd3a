"""A tenant's privacy policy applies to its keys; a key's own policy wins."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from testsupport import ADMIN_KEY, CHAT_MODEL

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
PHONE = "13812345678"


def ask() -> dict[str, object]:
    return {
        "model": CHAT_MODEL,
        "max_tokens": 1,
        "messages": [{"role": "user", "content": f"tel {PHONE}"}],
    }


def test_tenant_default_then_key_override_then_policy_change(app_client: TestClient) -> None:
    name = f"acme-{uuid.uuid4().hex[:6]}"
    tenant = app_client.post(
        "/admin/tenants", json={"name": name, "privacy_policy": "block"}, headers=ADMIN
    )
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["id"]
    assert app_client.post("/admin/tenants", json={"name": name}, headers=ADMIN).status_code == 409

    def key(**extra: str) -> dict[str, str]:
        made = app_client.post(
            "/admin/keys", json={"name": "k", "tenant": name, **extra}, headers=ADMIN
        )
        assert made.status_code == 201, made.text
        assert made.json()["tenant_id"] == tenant_id
        return {"authorization": f"Bearer {made.json()['key']}"}

    inherits, own = key(), key(privacy_policy="allow")
    blocked = app_client.post("/v1/chat/completions", json=ask(), headers=inherits)
    assert (
        blocked.status_code == 403 and blocked.json()["error"]["code"] == "sensitive_data_blocked"
    )
    assert app_client.post("/v1/chat/completions", json=ask(), headers=own).status_code == 200

    changed = app_client.patch(
        f"/admin/tenants/{tenant_id}", json={"privacy_policy": "allow"}, headers=ADMIN
    )
    assert changed.json()["privacy_policy"] == "allow"
    served = app_client.post("/v1/chat/completions", json=ask(), headers=inherits)
    assert served.status_code == 200  # the cache was cleared: no restart, no wait
    row = app_client.get(
        f"/admin/usage/requests/{served.headers['x-request-id']}", headers=ADMIN
    ).json()
    assert row["tenant_id"] == tenant_id


def test_unknown_tenant_and_policy_are_400_or_404(app_client: TestClient) -> None:
    missing = app_client.post("/admin/keys", json={"name": "k", "tenant": "nobody"}, headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "tenant"
    bad = app_client.post(
        "/admin/tenants", json={"name": "x", "privacy_policy": "paranoid"}, headers=ADMIN
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "privacy_policy"
