"""The response cache in-process, on a fake upstream: opt-in, hit/miss, streams,
tenants, privacy, pricing, and the two backends (Redis for real where it runs)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gatewaysupport import ADMIN, UPSTREAM_KEY, deployment
from plinth.app import create_app
from plinth.cache.backends import MemoryBackend
from plinth.settings import Settings
from upstreamfake import FakeUpstream

CHAT = {"model": "gpt-fake", "temperature": 0, "messages": [{"role": "user", "content": "echo me"}]}
ON = {"x-plinth-cache": "on"}


@pytest.fixture
def up() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


def _app(tmp: Path, up: FakeUpstream, **cache: Any) -> TestClient:
    settings = Settings(
        data_dir=tmp,
        admin_key=ADMIN,  # type: ignore[arg-type]
        load_bundled_models=False,
        deployments=[deployment(up)],  # type: ignore[list-item]
        routing={"health_interval_s": 0},  # type: ignore[arg-type]
        response_cache=cache,  # type: ignore[arg-type]
        redis_url=cache.pop("redis_url", None),
    )
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    client.headers["authorization"] = f"Bearer {ADMIN}"
    return client


@pytest.fixture
def app(tmp_path: Path, up: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
    with _app(tmp_path, up) as client:
        yield client


def _ledger(app: TestClient, response: Any) -> Any:
    row = app.get(f"/admin/usage/requests/{response.headers['x-request-id']}")
    assert row.status_code == 200, row.text
    return row.json()


def _key(app: TestClient, **fields: Any) -> dict[str, str]:
    created = app.post("/admin/keys", json={"name": "k", **fields})
    assert created.status_code == 201, created.text
    return {"authorization": f"Bearer {created.json()['key']}"}


def test_a_repeated_request_is_a_hit_billed_by_its_own_row(
    app: TestClient, up: FakeUpstream
) -> None:
    app.post("/admin/prices", json={"model": "gpt-fake", "per_request": "0.01"})
    first = app.post("/v1/chat/completions", json=CHAT, headers=ON)
    second = app.post("/v1/chat/completions", json=CHAT, headers=ON)
    assert first.headers["x-plinth-cache"] == "miss" and second.headers["x-plinth-cache"] == "hit"
    assert len(up.generation_requests()) == 1
    a, b = first.json(), second.json()
    assert b["choices"] == a["choices"] and b["usage"] == a["usage"]
    assert b["id"] == "chatcmpl-" + second.headers["x-request-id"] != a["id"]
    miss, hit = _ledger(app, first), _ledger(app, second)
    assert miss["cost_micros"] == 10_000 and miss["usage_source"] == "upstream"
    assert hit["usage_source"] == "cache_hit" and hit["cost_micros"] == 0  # default: free
    assert hit["prompt_tokens"] == miss["prompt_tokens"] and hit["deployment"] is None

    app.post("/admin/prices", json={"model": "cache_hit:gpt-fake", "per_request": "0.001"})
    third = app.post("/v1/chat/completions", json=CHAT, headers=ON)
    assert _ledger(app, third)["cost_micros"] == 1_000


def test_only_opted_in_and_deterministic_requests_use_it(app: TestClient, up: FakeUpstream) -> None:
    for _ in range(2):
        plain = app.post("/v1/chat/completions", json=CHAT)
        assert "x-plinth-cache" not in plain.headers  # no opt-in
    sampled = {**CHAT, "temperature": 0.7}
    for _ in range(2):
        assert (
            "x-plinth-cache"
            not in app.post("/v1/chat/completions", json=sampled, headers=ON).headers
        )
    seeded = {**sampled, "seed": 7}
    app.post("/v1/chat/completions", json=seeded, headers=ON)
    hit = app.post("/v1/chat/completions", json=seeded, headers=ON)
    assert hit.headers["x-plinth-cache"] == "hit"
    assert len(up.generation_requests()) == 5


def test_parameters_that_change_the_output_change_the_key(
    app: TestClient, up: FakeUpstream
) -> None:
    app.post("/v1/chat/completions", json=CHAT, headers=ON)
    other = app.post("/v1/chat/completions", json={**CHAT, "max_tokens": 3}, headers=ON)
    assert other.headers["x-plinth-cache"] == "miss"
    same = app.post("/v1/chat/completions", json={**CHAT, "user": "someone"}, headers=ON)
    assert same.headers["x-plinth-cache"] == "hit"  # 'user' does not change the answer


def _sse(response: Any) -> list[dict[str, Any]]:
    return [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def test_streamed_hits_replay_as_a_stream(app: TestClient, up: FakeUpstream) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    live = app.post("/v1/chat/completions", json=body, headers=ON)
    assert live.headers["x-plinth-cache"] == "miss"
    replay = app.post("/v1/chat/completions", json=body, headers=ON)
    assert replay.headers["x-plinth-cache"] == "hit"
    assert replay.headers["content-type"].startswith("text/event-stream")
    assert replay.text.rstrip().endswith("data: [DONE]")
    chunks = _sse(replay)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo me"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 2
    assert {c["id"] for c in chunks} == {"chatcmpl-" + replay.headers["x-request-id"]}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    # A whole answer cached from a stream serves a non-streamed request too.
    whole = app.post("/v1/chat/completions", json=CHAT, headers=ON)
    assert whole.headers["x-plinth-cache"] == "hit"
    assert whole.json()["choices"][0]["message"]["content"] == "echo me"
    assert len(up.generation_requests()) == 1


def test_tenants_never_share_an_entry(app: TestClient, up: FakeUpstream) -> None:
    for name in ("acme", "globex"):
        assert app.post("/admin/tenants", json={"name": name}).status_code == 201
    acme, globex = _key(app, tenant="acme"), _key(app, tenant="globex")
    acme2 = _key(app, tenant="acme")
    app.post("/v1/chat/completions", json=CHAT, headers={**ON, **acme})
    other = app.post("/v1/chat/completions", json=CHAT, headers={**ON, **globex})
    assert other.headers["x-plinth-cache"] == "miss"
    same_tenant = app.post("/v1/chat/completions", json=CHAT, headers={**ON, **acme2})
    assert same_tenant.headers["x-plinth-cache"] == "hit"


def test_a_key_whose_policy_blocks_the_request_never_gets_the_cached_answer(
    app: TestClient, up: FakeUpstream
) -> None:
    app.post("/admin/tenants", json={"name": "acme"})
    allowed = _key(app, tenant="acme", privacy_policy="allow")
    blocked = _key(app, tenant="acme", privacy_policy="block")
    secret = {**CHAT, "messages": [{"role": "user", "content": "mail alice@example.com now"}]}
    assert app.post("/v1/chat/completions", json=secret, headers={**ON, **allowed}).is_success
    refused = app.post("/v1/chat/completions", json=secret, headers={**ON, **blocked})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "sensitive_data_blocked"
    assert "alice" not in refused.text and "x-plinth-cache" not in refused.headers


def test_off_wins_and_keys_can_be_opted_in_by_settings(
    tmp_path: Path, up: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
    with _app(tmp_path, up, all_keys=True) as app:
        app.post("/v1/chat/completions", json=CHAT)
        assert app.post("/v1/chat/completions", json=CHAT).headers["x-plinth-cache"] == "hit"
        off = app.post("/v1/chat/completions", json=CHAT, headers={"x-plinth-cache": "off"})
        assert "x-plinth-cache" not in off.headers
    assert len(up.generation_requests()) == 2


@pytest.mark.anyio
async def test_memory_backend_expires_and_stays_within_its_bounds() -> None:
    now = [0.0]
    cache = MemoryBackend(max_entries=3, max_bytes=100, clock=lambda: now[0])
    await cache.put("a", b"x" * 10, ttl_s=5)
    now[0] = 4.9
    assert await cache.get("a") == b"x" * 10
    now[0] = 5.0
    assert await cache.get("a") is None and len(cache) == 0
    for key in "bcde":
        await cache.put(key, b"y" * 10, ttl_s=60)
    assert len(cache) == 3 and await cache.get("b") is None  # least recently used went first
    await cache.get("c")  # now used more recently than d
    await cache.put("big", b"z" * 75, ttl_s=60)
    assert cache.bytes == 95 and await cache.get("d") is None  # d, the least recent, made room
    assert await cache.get("c") is not None
    assert await cache.get("big") is not None
    await cache.put("huge", b"w" * 101, ttl_s=60)  # larger than the whole cache: not kept
    assert await cache.get("huge") is None


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_replicas_share_entries_through_redis(
    tmp_path: Path, up: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
    unique = {**CHAT, "messages": [{"role": "user", "content": f"redis {tmp_path.name}"}]}
    url = "redis://127.0.0.1:6379/0"
    with _app(tmp_path / "one", up, redis_url=url, ttl_s=30) as one:
        assert (
            one.post("/v1/chat/completions", json=unique, headers=ON).headers["x-plinth-cache"]
            == "miss"
        )
    with _app(tmp_path / "one", up, redis_url=url, ttl_s=30) as two:
        hit = two.post("/v1/chat/completions", json=unique, headers=ON)
        assert hit.headers["x-plinth-cache"] == "hit"
        assert hit.json()["choices"][0]["message"]["content"] == f"redis {tmp_path.name}"
    assert len(up.generation_requests()) == 1


def test_a_key_over_its_rate_limit_gets_the_refusal_not_a_hit(app: TestClient) -> None:
    key = _key(app)
    key_id = app.get("/admin/keys").json()["data"][-1]["id"]
    assert app.put(f"/admin/limits/key:{key_id}", json={"requests_per_minute": 1}).is_success
    assert app.post("/v1/chat/completions", json=CHAT, headers={**ON, **key}).is_success
    again = app.post("/v1/chat/completions", json=CHAT, headers={**ON, **key})
    assert again.status_code == 429 and "x-plinth-cache" not in again.headers
