"""Model aliases: a hard-coded client name routed to a served model, per tenant or global."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from gatewaysupport import AppFactory, deployment
from plinth.routing.aliases import Aliases, owner_of
from upstreamfake import FakeUpstream


def ask(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello there"}]}


def test_tenant_alias_overrides_global_and_falls_back_to_itself() -> None:
    aliases = Aliases({"gpt-4o-mini": "local"}, {"t1": {"gpt-4o-mini": "cloud"}})
    assert aliases.resolve("gpt-4o-mini", None) == "local"
    assert aliases.resolve("gpt-4o-mini", "t2") == "local"
    assert aliases.resolve("gpt-4o-mini", "t1") == "cloud"
    assert aliases.resolve("other", "t1") == "other"
    assert aliases.visible("t1") == {"gpt-4o-mini": "cloud"}
    assert owner_of("gpt-4o-mini") == "openai" and owner_of("claude-3-5-haiku") == "anthropic"
    assert owner_of("my-model") == "plinth"


def _tenant_key(client: TestClient) -> tuple[str, dict[str, str]]:
    tenant = client.post("/admin/tenants", json={"name": "acme"}).json()
    key = client.post("/admin/keys", json={"name": "app", "tenant": "acme"}).json()
    return tenant["id"], {"authorization": f"Bearer {key['key']}"}


def test_alias_routes_lists_and_keeps_the_client_name(gateway_app: AppFactory) -> None:
    with FakeUpstream(reply="from A") as a, FakeUpstream(reply="from B") as b:
        first = gateway_app([deployment(a, model="model-a"), deployment(b, model="model-b")])
        tenant_id, tenant_headers = _tenant_key(first)
        client = gateway_app(
            [deployment(a, model="model-a"), deployment(b, model="model-b")],
            aliases={"gpt-4o-mini": "model-a", "claude-3-5-haiku": "missing"},
            tenant_aliases={tenant_id: {"gpt-4o-mini": "model-b"}},
        )

        answer = client.post("/v1/chat/completions", json=ask("gpt-4o-mini"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == "from A"
        assert answer.json()["model"] == "gpt-4o-mini"  # the name the client sent
        assert a.generation_requests()[-1].body["model"] == "fake-model"  # type: ignore[index]

        tenant = client.post(
            "/v1/chat/completions", json=ask("gpt-4o-mini"), headers=tenant_headers
        )
        assert tenant.status_code == 200, tenant.text
        assert tenant.json()["choices"][0]["message"]["content"] == "from B"
        row = client.get(f"/admin/usage/requests/{tenant.headers['x-request-id']}").json()
        assert row["model"] == "gpt-4o-mini" and row["deployment"].startswith("model-b@")

        listed = {m["id"]: m["owned_by"] for m in client.get("/v1/models").json()["data"]}
        assert listed == {"model-a": "plinth", "model-b": "plinth", "gpt-4o-mini": "openai"}
        one = client.get("/v1/models/gpt-4o-mini")
        assert one.status_code == 200 and one.json()["owned_by"] == "openai"

        dangling = client.post("/v1/chat/completions", json=ask("claude-3-5-haiku"))
        assert dangling.status_code == 404, dangling.text
        error = dangling.json()["error"]
        assert error["code"] == "model_not_found" and "alias of 'missing'" in error["message"]
