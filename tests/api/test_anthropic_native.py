"""/v1/messages to a model only Anthropic deployments serve: the body goes untranslated."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from gatewaysupport import AppFactory, deployment
from plinth.anthropic_native import screened, unscreened
from upstreamfake import FakeUpstream, Fault

ANT_KEY = "sk-ant-test-0123456789"


def claude(up: FakeUpstream, **fields: Any) -> dict[str, Any]:
    return {
        "model": "claude",
        "engine": "anthropic",
        "base_url": up.base_url,
        "api_key_env": "FAKE_ANTHROPIC_API_KEY",
        "upstream_model": "claude-sonnet-x",
        **fields,
    }


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude",
        "max_tokens": 50,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    } | extra


def events(response: Any) -> list[tuple[str, dict[str, Any]]]:
    out, name = [], ""
    for line in response.text.split("\n"):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            out.append((name, json.loads(line[6:])))
    return out


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ANTHROPIC_API_KEY", ANT_KEY)


def ledger(client: TestClient, response: Any) -> dict[str, Any]:
    return dict(client.get(f"/admin/usage/requests/{response.headers['x-request-id']}").json())


def test_the_body_and_anthropic_headers_reach_the_upstream_untranslated(
    gateway_app: AppFactory,
) -> None:
    with FakeUpstream() as up:
        client = gateway_app([claude(up)])
        headers = {"anthropic-version": "2023-06-01", "anthropic-beta": "prompt-caching-2024"}
        response = client.post("/v1/messages", json=ask("hello there", top_k=5), headers=headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["content"] == [{"type": "text", "text": "hello there"}]
        assert answer["model"] == "claude"
        assert answer["id"] == "msg_" + response.headers["x-request-id"].removeprefix("req_")
        sent = up.generation_requests()[-1]
        assert sent.body is not None and sent.body["model"] == "claude-sonnet-x"
        # Untranslated: Anthropic-only fields and cache marks arrive as the client sent them.
        assert sent.body["top_k"] == 5 and sent.body["system"][0]["cache_control"]
        assert sent.headers["anthropic-beta"] == "prompt-caching-2024"
        assert sent.headers["x-api-key"] == ANT_KEY
        row = ledger(client, response)
        assert (row["endpoint"], row["usage_source"], row["completion_tokens"]) == (
            "messages",
            "upstream",
            2,
        )


def test_a_stream_passes_anthropic_events_with_our_id_and_restored_values(
    gateway_app: AppFactory,
) -> None:
    with FakeUpstream() as up:
        client = gateway_app([claude(up)])
        key = client.post("/admin/keys", json={"name": "r", "privacy_policy": "redact"}).json()
        email = "zhang.wei@example.com"
        response = client.post(
            "/v1/messages",
            json=ask(f"mail {email} now", stream=True),
            headers={"authorization": f"Bearer {key['key']}"},
        )
        assert response.status_code == 200, response.text
        got = events(response)
        names = [name for name, _ in got]
        assert names[0] == "message_start" and names[-1] == "message_stop"
        start = got[0][1]["message"]
        assert start["model"] == "claude" and start["id"].startswith("msg_")
        text = "".join(
            d["delta"]["text"]
            for n, d in got
            if n == "content_block_delta" and "text" in d["delta"]
        )
        assert text == f"mail {email} now"  # the upstream echoed the placeholder
        sent = up.generation_requests()[-1].body
        assert sent is not None and email not in json.dumps(sent)
        assert "[EMAIL_1]" in sent["messages"][0]["content"][0]["text"]
        row = ledger(client, response)
        assert row["status"] == "ok" and row["stream"] and row["completion_tokens"] == 3


def test_fails_over_before_output_and_mixed_engines_are_translated(
    gateway_app: AppFactory,
) -> None:
    with FakeUpstream() as first, FakeUpstream() as second, FakeUpstream() as openai:
        client = gateway_app([claude(first, priority=0), claude(second, priority=1)])
        first.push(Fault.status(529))
        response = client.post("/v1/messages", json=ask("hi", stream=True))
        assert response.status_code == 200, response.text
        assert ledger(client, response)["attempts"] == 2
        assert len(second.generation_requests()) == 1

        mixed = gateway_app([claude(first), deployment(openai, model="claude")])
        top_k = mixed.post("/v1/messages", json=ask("hi", top_k=5))
        assert top_k.status_code == 400  # translated: top_k has no chat equivalent
        assert top_k.json()["type"] == "error"


def test_every_text_is_screened_and_maps_back() -> None:
    body = {
        "system": [{"type": "text", "text": "S a@b.co"}],
        "messages": [
            {"role": "user", "content": "u1"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "t",
                        "name": "f",
                        "input": {"q": "x", "n": [{"k": "y"}]},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": "r1"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": "r2"}],
                    },
                ],
            },
        ],
    }
    texts = screened(body)["input"]
    assert texts == ["S a@b.co", "u1", "x", "y", "r1", "r2"]
    back = unscreened(body, {"input": [t.upper() for t in texts]})
    assert screened(back)["input"] == [t.upper() for t in texts]
    assert body["messages"][0]["content"] == "u1"  # the original is not changed
