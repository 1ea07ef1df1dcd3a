"""GET /v1/models, /health and /metrics."""

from __future__ import annotations

from starlette.testclient import TestClient

CHAT, EMBED = "smollm2-135m-instruct", "all-minilm-l6-v2"


def test_models(client: TestClient, app_client: TestClient) -> None:
    listing = client.get("/v1/models").json()
    assert listing["object"] == "list"
    assert {m["id"] for m in listing["data"]} == {CHAT, EMBED}
    assert all(m["object"] == "model" and m["owned_by"] == "plinth" for m in listing["data"])
    assert client.get(f"/v1/models/{CHAT}").json()["id"] == CHAT


def test_models_need_a_key(app_client: TestClient) -> None:
    assert app_client.get("/v1/models").status_code == 401


def test_health_is_open(app_client: TestClient) -> None:
    health = app_client.get("/health").json()
    assert health["status"] == "ok"
    assert {m["id"]: m["kind"] for m in health["models"]} == {CHAT: "chat", EMBED: "embedding"}


def test_metrics(client: TestClient) -> None:
    client.post(
        "/v1/chat/completions",
        json={"model": CHAT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
    )
    client.post(
        "/v1/chat/completions",
        json={"model": "some-made-up-model-name", "messages": [{"role": "user", "content": "hi"}]},
    )
    text = client.get("/metrics").text
    assert (
        f'plinth_requests_total{{endpoint="chat.completions",model="{CHAT}",status="ok"}}' in text
    )
    assert (
        'plinth_requests_total{endpoint="chat.completions",model="unknown",status="error"}' in text
    )
    assert "some-made-up-model-name" not in text
    assert f'plinth_tokens_total{{direction="completion",model="{CHAT}"}}' in text
    for name in (
        "plinth_request_duration_seconds_bucket",
        "plinth_time_to_first_token_seconds",
        "plinth_requests_in_flight",
    ):
        assert name in text
