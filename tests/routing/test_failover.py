"""Failover and fault handling against fake upstreams: real HTTP, real sockets.

What must hold: fallback when it should and never after output started; no
request hangs past its timeout; every failure is a clear OpenAI-shaped error;
nothing is billed twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from gatewaysupport import UPSTREAM_KEY, AppFactory, deployment
from upstreamfake import FakeUpstream, Fault

Ups = Callable[[], FakeUpstream]


def chat(stream: bool = False, **extra: Any) -> dict[str, Any]:
    body = {"model": "gpt-fake", "messages": [{"role": "user", "content": "one two three"}]}
    return body | ({"stream": True} if stream else {}) | extra


def sse(response: Any) -> list[dict[str, Any]]:
    frames = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert frames, response.text
    return [json.loads(f) for f in frames if f != "[DONE]"]


def ledger(client: TestClient, request_id: str) -> dict[str, Any]:
    response = client.get(f"/admin/usage/requests/{request_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def rows_for(client: TestClient, request_id: str) -> int:
    rows = client.get("/admin/usage/requests?limit=10000").json()["data"]
    return sum(1 for r in rows if r["request_id"] == request_id)


def assert_openai_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert sorted(error) == ["code", "message", "param", "type"]
    assert error["code"] == code
    assert response.headers["x-request-id"].startswith("req_")
    return dict(error)


# --- the pass-through itself ----------------------------------------------------------


def test_proxies_with_the_upstream_model_name_and_key(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up = upstreams()
    client = gateway_app([deployment(up)])
    response = client.post("/v1/chat/completions", json=chat())
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["choices"][0]["message"]["content"] == "one two three"
    assert answer["model"] == "gpt-fake"
    assert answer["id"] == "chatcmpl-" + response.headers["x-request-id"]
    sent = up.generation_requests()[0]
    assert sent.body is not None and sent.body["model"] == "fake-model"
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "user-agent" not in {name.lower() for name in sent.headers}  # no client library named
    row = ledger(client, response.headers["x-request-id"])
    assert row["deployment"] == f"gpt-fake@127.0.0.1:{up.port}"
    assert (row["usage_source"], row["prompt_tokens"], row["completion_tokens"]) == (
        "upstream",
        3,
        3,
    )
    assert row["attempts"] == 1 and row["failed_attempts"] == []


def test_models_lists_public_names(gateway_app: AppFactory, upstreams: Ups) -> None:
    up = upstreams()
    client = gateway_app([deployment(up), deployment(up, id="second")])
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["gpt-fake"]


def test_stream_usage_is_asked_upstream_and_stripped_unless_requested(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up = upstreams()
    client = gateway_app([deployment(up)])
    plain = sse(client.post("/v1/chat/completions", json=chat(stream=True)))
    assert all("usage" not in c for c in plain)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in plain) == "one two three"
    assert up.generation_requests()[0].body["stream_options"] == {"include_usage": True}  # type: ignore[index]
    asked = sse(
        client.post(
            "/v1/chat/completions", json=chat(stream=True, stream_options={"include_usage": True})
        )
    )
    assert asked[-1]["choices"] == [] and asked[-1]["usage"]["total_tokens"] == 6


def test_embeddings_and_completions_pass_through(gateway_app: AppFactory, upstreams: Ups) -> None:
    up = upstreams()
    client = gateway_app([deployment(up), deployment(up, model="emb-fake", kind="embedding")])
    vectors = client.post("/v1/embeddings", json={"model": "emb-fake", "input": ["a b", "c"]})
    assert vectors.status_code == 200, vectors.text
    assert len(vectors.json()["data"]) == 2 and vectors.json()["usage"]["prompt_tokens"] == 3
    text = client.post("/v1/completions", json={"model": "gpt-fake", "prompt": "hello world"})
    assert text.json()["choices"][0]["text"] == "hello world"


# --- fallback before output -----------------------------------------------------------


def test_500_falls_back_to_the_next_deployment_and_bills_once(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    bad, good = upstreams(), upstreams()
    bad.always(Fault.status(500))
    client = gateway_app([deployment(bad, priority=0), deployment(good, priority=1)])
    response = client.post("/v1/chat/completions", json=chat())
    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]
    row = ledger(client, request_id)
    assert row["deployment"] == f"gpt-fake@127.0.0.1:{good.port}" and row["attempts"] == 2
    (failed,) = row["failed_attempts"]
    assert failed["deployment"] == f"gpt-fake@127.0.0.1:{bad.port}"
    assert (failed["http_status"], failed["error_code"]) == (502, "upstream_error")
    assert rows_for(client, request_id) == 1  # one ledger row, billed once
    assert row["completion_tokens"] == 3


def test_connection_reset_before_the_answer_falls_back(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    bad, good = upstreams(), upstreams()
    bad.always(Fault.reset_before_response())
    client = gateway_app([deployment(bad, priority=0), deployment(good, priority=1)])
    for stream in (False, True):
        response = client.post("/v1/chat/completions", json=chat(stream=stream))
        assert response.status_code == 200, response.text
        row = ledger(client, response.headers["x-request-id"])
        assert row["failed_attempts"][0]["error_code"] == "upstream_unreachable"


def test_429_retry_after_is_honoured_on_the_same_deployment(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up = upstreams()
    up.push(Fault.status(429, retry_after=0.3))
    client = gateway_app([deployment(up)], backoff_max_s=1.0)
    started = time.monotonic()
    response = client.post("/v1/chat/completions", json=chat())
    assert response.status_code == 200, response.text
    assert time.monotonic() - started >= 0.3
    assert len(up.generation_requests()) == 2


def test_a_long_retry_after_is_passed_to_the_client(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up = upstreams()
    up.always(Fault.status(429, retry_after=30))
    client = gateway_app([deployment(up)], backoff_max_s=1.0)
    started = time.monotonic()
    response = client.post("/v1/chat/completions", json=chat())
    error = assert_openai_error(response, 429, "upstream_rate_limited")
    assert error["type"] == "rate_limit_error"
    assert response.headers["retry-after"] == "30"
    assert time.monotonic() - started < 2  # it did not sit out the 30 s
    assert len(up.generation_requests()) == 1


def test_first_token_timeout_falls_back_and_never_hangs(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    slow, good = upstreams(), upstreams()
    slow.always(Fault.stall(after_chunks=0))
    client = gateway_app(
        [
            deployment(slow, priority=0, first_token_timeout_s=0.5),
            deployment(good, priority=1),
        ]
    )
    started = time.monotonic()
    response = client.post("/v1/chat/completions", json=chat(stream=True))
    assert response.status_code == 200
    assert time.monotonic() - started < 3
    row = ledger(client, response.headers["x-request-id"])
    assert row["failed_attempts"][0]["error_code"] == "upstream_timeout"


def test_a_lone_stalled_upstream_gives_a_504_within_its_timeout(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up = upstreams()
    up.always(Fault.latency(10))
    client = gateway_app([deployment(up, first_token_timeout_s=0.4)], max_attempts=2)
    started = time.monotonic()
    response = client.post("/v1/chat/completions", json=chat())
    elapsed = time.monotonic() - started
    assert_openai_error(response, 504, "upstream_timeout")
    assert elapsed < 0.4 * 2 + 1.5, elapsed
    assert "2 attempts" in response.json()["error"]["message"]


def test_malformed_json_and_wrong_content_type_are_502_or_replaced(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    for fault in (Fault.malformed_json(), Fault.wrong_content_type()):
        up = upstreams()
        up.always(fault)
        client = gateway_app([deployment(up)], max_attempts=1)
        for stream in (False, True):
            response = client.post("/v1/chat/completions", json=chat(stream=stream))
            assert_openai_error(response, 502, "upstream_bad_response")
        backup = upstreams()
        client = gateway_app([deployment(up, priority=0), deployment(backup, priority=1)])
        assert client.post("/v1/chat/completions", json=chat(stream=True)).status_code == 200


def test_upstream_client_errors_are_passed_on_not_retried(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up, other = upstreams(), upstreams()
    up.always(Fault.status(400))
    client = gateway_app([deployment(up, priority=0), deployment(other, priority=1)])
    response = client.post("/v1/chat/completions", json=chat())
    error = assert_openai_error(response, 400, "fake_error")
    assert "injected 400" in error["message"]
    assert other.generation_requests() == []


# --- after output started: never retried ---------------------------------------------


def test_reset_mid_stream_ends_with_an_error_frame_and_no_retry(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    first, second = upstreams(), upstreams()
    first.always(Fault.reset_during_stream(after_chunks=3))
    client = gateway_app([deployment(first, priority=0), deployment(second, priority=1)])
    response = client.post("/v1/chat/completions", json=chat(stream=True))
    assert response.status_code == 200
    chunks = sse(response)
    content = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )
    assert content == "one two "  # what arrived before the reset, passed on as it came
    assert chunks[-1]["error"]["code"] == "upstream_unreachable"
    assert second.generation_requests() == []  # output had started: no fallback
    row = ledger(client, response.headers["x-request-id"])
    assert row["status"] == "error" and row["attempts"] == 1
    assert row["usage_source"] == "estimate" and row["completion_tokens"] >= 1


def test_a_stall_mid_stream_ends_within_the_idle_timeout(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up = upstreams()
    up.always(Fault.stall(after_chunks=2))
    client = gateway_app([deployment(up, idle_timeout_s=0.5)])
    started = time.monotonic()
    response = client.post("/v1/chat/completions", json=chat(stream=True))
    assert time.monotonic() - started < 3
    chunks = sse(response)
    assert chunks[1]["choices"][0]["delta"]["content"] == "one "
    assert chunks[-1]["error"]["code"] == "upstream_timeout"


# --- breaker, health, admin -----------------------------------------------------------


def test_the_breaker_opens_and_traffic_goes_elsewhere(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    bad, good = upstreams(), upstreams()
    bad.always(Fault.status(503))
    client = gateway_app(
        [deployment(bad, priority=0), deployment(good, priority=1)],
        breaker_failures=2,
        breaker_cooldown_s=60,
    )
    for _ in range(5):
        assert client.post("/v1/chat/completions", json=chat()).status_code == 200
    assert len(bad.generation_requests()) == 2
    states = {d["id"]: d["state"] for d in client.get("/admin/deployments").json()["data"]}
    assert states[f"gpt-fake@127.0.0.1:{bad.port}"]["breaker"]["state"] == "open"
    assert states[f"gpt-fake@127.0.0.1:{good.port}"]["requests"] == 5


def test_all_breakers_open_is_a_clear_503(gateway_app: AppFactory, upstreams: Ups) -> None:
    up = upstreams()
    up.always(Fault.status(500))
    client = gateway_app(
        [deployment(up)], breaker_failures=1, breaker_cooldown_s=60, max_attempts=1
    )
    assert client.post("/v1/chat/completions", json=chat()).status_code == 502
    error = assert_openai_error(
        client.post("/v1/chat/completions", json=chat()), 503, "no_deployment_available"
    )
    assert "circuit open" in error["message"]


def test_health_checks_exclude_a_dead_deployment(gateway_app: AppFactory, upstreams: Ups) -> None:
    up = upstreams()
    client = gateway_app(
        [
            deployment(up, priority=0),
            {**deployment(up), "id": "dead", "base_url": "http://127.0.0.1:9/v1"},
        ]
    )
    router = client.app.state.services.router  # type: ignore[attr-defined]
    client.portal.call(router.check_health)  # type: ignore[union-attr]
    states = {d["id"]: d["state"] for d in client.get("/admin/deployments").json()["data"]}
    assert states["dead"]["healthy"] is False and not states["dead"]["usable"]
    assert states[f"gpt-fake@127.0.0.1:{up.port}"]["healthy"] is True


def test_admin_api_adds_changes_and_removes_deployments_live(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up = upstreams()
    client = gateway_app([])
    assert client.post("/v1/chat/completions", json=chat()).status_code == 404
    refused = client.post("/admin/deployments", json=deployment(up) | {"api_key": "sk-x"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "api_key"
    created = client.post("/admin/deployments", json=deployment(up, id="live"))
    assert created.status_code == 201, created.text
    assert created.json()["config"]["api_key_env"] == "FAKE_UPSTREAM_API_KEY"
    assert client.post("/v1/chat/completions", json=chat()).status_code == 200
    again = client.post("/admin/deployments", json=deployment(up, id="live"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_exists"
    patched = client.patch("/admin/deployments/live", json={"weight": 3})
    assert patched.json()["config"]["weight"] == 3
    assert client.delete("/admin/deployments/live").json()["deleted"] is True
    assert client.post("/v1/chat/completions", json=chat()).status_code == 404
    # The key's value is nowhere in what the admin API shows.
    assert UPSTREAM_KEY not in client.get("/admin/deployments").text


def test_admin_api_refuses_key_envs_outside_the_allow_list(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up = upstreams()
    client = gateway_app([], api_key_env_allow=["*_API_KEY", "TEAM_TOKEN"])
    for name, says in [("PLINTH_ADMIN_KEY", "Plinth setting"), ("HOME", "not allowed")]:
        refused = client.post("/admin/deployments", json=deployment(up, api_key_env=name))
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert (error["code"], error["param"]) == ("api_key_env_not_allowed", "api_key_env")
        assert says in error["message"]
    created = client.post(
        "/admin/deployments", json=deployment(up, id="d", api_key_env="TEAM_TOKEN")
    )
    assert created.status_code == 201, created.text
    patched = client.patch("/admin/deployments/d", json={"api_key_env": "PLINTH_ADMIN_KEY"})
    assert patched.status_code == 400 and patched.json()["error"]["param"] == "api_key_env"
    assert client.get("/admin/deployments/d").json()["config"]["api_key_env"] == "TEAM_TOKEN"


def test_config_deployments_cannot_be_changed_over_the_api(
    gateway_app: AppFactory, upstreams: Ups
) -> None:
    up = upstreams()
    client = gateway_app([deployment(up, id="from-toml")])
    response = client.delete("/admin/deployments/from-toml")
    assert response.status_code == 409 and "plinth.toml" in response.json()["error"]["message"]
    assert response.json()["error"]["code"] == "conflict"
