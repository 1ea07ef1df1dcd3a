"""GET /v1/models, /health and /metrics: exact shapes, and metrics that move by what was served."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from plinth import __version__
from testsupport import CHAT_MODEL, EMBED_MODEL

MODEL_KEYS = ["created", "id", "object", "owned_by"]


def samples(app_client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, by (name, labels)."""
    response = app_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = float(sample.value)
    return out


def value(snapshot: dict[Any, float], name: str, **labels: str) -> float:
    return snapshot.get((name, frozenset(labels.items())), 0.0)


def chat(client: TestClient, model: str = CHAT_MODEL, **extra: Any) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    return client.post("/v1/chat/completions", json=body | extra)


def test_models_list(client: TestClient, app_client: TestClient) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200
    listing = response.json()
    assert sorted(listing) == ["data", "object"] and listing["object"] == "list"
    assert sorted(m["id"] for m in listing["data"]) == sorted([CHAT_MODEL, EMBED_MODEL])
    for model in listing["data"]:
        assert sorted(model) == MODEL_KEYS
        assert model["object"] == "model" and model["owned_by"] == "plinth"
        assert type(model["created"]) is int and model["created"] > 1_600_000_000


@pytest.mark.parametrize("model_id", [CHAT_MODEL, EMBED_MODEL])
def test_model_by_id_matches_the_listing(client: TestClient, model_id: str) -> None:
    listed = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    response = client.get(f"/v1/models/{model_id}")
    assert response.status_code == 200
    assert response.json() == listed[model_id]


def test_health_needs_no_key(app_client: TestClient) -> None:
    response = app_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "models": [
            {"id": CHAT_MODEL, "kind": "chat"},
            {"id": EMBED_MODEL, "kind": "embedding"},
        ],
    }


def test_metrics_move_by_one_chat_request(client: TestClient, app_client: TestClient) -> None:
    before = samples(app_client)
    response = chat(client)
    assert response.status_code == 200
    usage = response.json()["usage"]
    after = samples(app_client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"endpoint": "chat.completions", "model": CHAT_MODEL, "status": "ok"}
    assert delta("plinth_requests_total", **ok) == 1
    assert delta("plinth_request_duration_seconds_count", **ok) == 1
    assert delta("plinth_request_duration_seconds_sum", **ok) > 0
    assert delta("plinth_request_duration_seconds_bucket", **ok, le="+Inf") == 1
    ttft = {"endpoint": "chat.completions", "model": CHAT_MODEL}
    assert delta("plinth_time_to_first_token_seconds_count", **ttft) == 1
    assert (
        delta("plinth_tokens_total", model=CHAT_MODEL, direction="completion")
        == (usage["completion_tokens"])
    )
    assert (
        delta("plinth_tokens_total", model=CHAT_MODEL, direction="prompt")
        == (usage["prompt_tokens"])
    )
    assert value(after, "plinth_requests_in_flight", **ttft) == 0
    assert ("plinth_requests_in_flight", frozenset(ttft.items())) in after


def test_metrics_count_a_stream(client: TestClient, app_client: TestClient) -> None:
    before = samples(app_client)
    response = chat(client, stream=True, stream_options={"include_usage": True})
    assert response.status_code == 200 and response.text.endswith("data: [DONE]\n\n")
    after = samples(app_client)
    ok = {"endpoint": "chat.completions", "model": CHAT_MODEL, "status": "ok"}
    assert (
        value(after, "plinth_requests_total", **ok) - value(before, "plinth_requests_total", **ok)
        == 1
    )
    in_flight = {"endpoint": "chat.completions", "model": CHAT_MODEL}
    assert value(after, "plinth_requests_in_flight", **in_flight) == 0


def test_metrics_count_embeddings(client: TestClient, app_client: TestClient) -> None:
    before = samples(app_client)
    response = client.post("/v1/embeddings", json={"model": EMBED_MODEL, "input": ["a b", "c"]})
    assert response.status_code == 200
    after = samples(app_client)
    ok = {"endpoint": "embeddings", "model": EMBED_MODEL, "status": "ok"}
    assert (
        value(after, "plinth_requests_total", **ok) - value(before, "plinth_requests_total", **ok)
        == 1
    )
    prompt = {"model": EMBED_MODEL, "direction": "prompt"}
    assert (
        value(after, "plinth_tokens_total", **prompt)
        - value(before, "plinth_tokens_total", **prompt)
        == response.json()["usage"]["prompt_tokens"]
    )


def test_unknown_model_names_never_become_labels(
    client: TestClient, app_client: TestClient
) -> None:
    raw_name = "made-up-model-4f7a9c"
    before = samples(app_client)
    assert chat(client, raw_name).status_code == 404
    after = samples(app_client)
    labels = {"endpoint": "chat.completions", "model": "unknown", "status": "error"}
    assert (
        value(after, "plinth_requests_total", **labels)
        - value(before, "plinth_requests_total", **labels)
        == 1
    )
    assert raw_name not in app_client.get("/metrics").text


def test_unauthenticated_requests_are_counted_as_such(app_client: TestClient) -> None:
    before = samples(app_client)
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    assert app_client.post("/v1/chat/completions", json=body).status_code == 401
    after = samples(app_client)
    labels = {"endpoint": "chat.completions", "model": "unknown", "status": "unauthenticated"}
    assert (
        value(after, "plinth_requests_total", **labels)
        - value(before, "plinth_requests_total", **labels)
        == 1
    )
    # Without a key, the body is never read: the named model gets nothing.
    ok = {"endpoint": "chat.completions", "model": CHAT_MODEL, "status": "ok"}
    assert value(after, "plinth_requests_total", **ok) == value(
        before, "plinth_requests_total", **ok
    )


def test_metrics_need_no_key_and_name_every_family(app_client: TestClient) -> None:
    names = {
        family.name for family in text_string_to_metric_families(app_client.get("/metrics").text)
    }
    assert {
        "plinth_requests",
        "plinth_request_duration_seconds",
        "plinth_time_to_first_token_seconds",
        "plinth_tokens",
        "plinth_requests_in_flight",
    } <= names
