"""/v1/messages with tools, images and tool results, over fake upstreams (real HTTP on loopback).

What leaves Plinth is asserted on the upstream's side: the OpenAI-compatible
request a Messages request becomes, and, for an Anthropic deployment, the
Messages request that the round trip produces again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from gatewaysupport import AppFactory, deployment
from toolupstream import ARGUMENTS, ToolCallingUpstream
from upstreamfake import FakeUpstream, Fault

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
}
# One transparent pixel.
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6"
PNG_B64 += "kgAAAABJRU5ErkJggg=="


def ask(**extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-fake",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        **extra,
    }


def events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [
        json.loads(frame.split("\n")[1].removeprefix("data: "))
        for frame in response.text.split("\n\n")[:-1]
    ]


def tool_app(gateway_app: AppFactory) -> tuple[TestClient, ToolCallingUpstream]:
    up = ToolCallingUpstream()
    up.start()
    return gateway_app(deployments=[deployment(up)]), up


def test_tool_use_answer(gateway_app: AppFactory) -> None:
    client, up = tool_app(gateway_app)
    try:
        body = ask(tools=[WEATHER], tool_choice={"type": "any", "disable_parallel_tool_use": True})
        response = client.post("/v1/messages", json=body)
        assert response.status_code == 200, response.text
        message = response.json()
        assert message["stop_reason"] == "tool_use"
        (block,) = message["content"]
        assert block == {
            "type": "tool_use",
            "id": "call_fake_1",
            "name": "get_weather",
            "input": ARGUMENTS,
        }
        assert message["usage"]["input_tokens"] == 11 and message["usage"]["output_tokens"] == 7
        sent = up.generation_requests()[-1].body or {}
        assert sent["tools"] == [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": WEATHER["input_schema"],
                    "description": "The weather in a city",
                },
            }
        ]
        assert sent["tool_choice"] == "required" and sent["parallel_tool_calls"] is False
    finally:
        up.stop()


def test_tool_result_round_trip(gateway_app: AppFactory) -> None:
    client, up = tool_app(gateway_app)
    try:
        turns = [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": ARGUMENTS,
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Thanks."},
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 degrees"},
                ],
            },
        ]
        body = ask(tools=[WEATHER], messages=turns, system=[{"type": "text", "text": "Be nice."}])
        message = client.post("/v1/messages", json=body).json()
        assert message["content"] == [{"type": "text", "text": "The tool said: 18 degrees"}]
        assert message["stop_reason"] == "end_turn"
        sent = up.generation_requests()[-1].body or {}
        assert [m["role"] for m in sent["messages"]] == [
            "system",
            "user",
            "assistant",
            "tool",
            "user",
        ]
        assert sent["messages"][2]["tool_calls"][0]["function"] == {
            "name": "get_weather",
            "arguments": json.dumps(ARGUMENTS),
        }
        assert sent["messages"][3] == {
            "role": "tool",
            "tool_call_id": "toolu_1",
            "content": "18 degrees",
        }
    finally:
        up.stop()


def test_streamed_tool_use_events(gateway_app: AppFactory) -> None:
    client, up = tool_app(gateway_app)
    try:
        stream = events(client.post("/v1/messages", json=ask(tools=[WEATHER], stream=True)))
        kinds = [e["type"] for e in stream]
        assert kinds[:3] == ["message_start", "ping", "content_block_start"]
        assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
        start = stream[2]["content_block"]
        assert start == {
            "type": "tool_use",
            "id": "call_fake_1",
            "name": "get_weather",
            "input": {},
        }
        fragments = [
            e["delta"]["partial_json"]
            for e in stream
            if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
        ]
        assert len(fragments) == 2 and json.loads("".join(fragments)) == ARGUMENTS
        assert stream[-2]["delta"]["stop_reason"] == "tool_use"
        assert stream[-2]["usage"]["input_tokens"] == 11
    finally:
        up.stop()


def test_images_and_errors_reach_the_upstream(gateway_app: AppFactory) -> None:
    client, up = tool_app(gateway_app)
    try:
        content = [
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
            },
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "text", "text": "What are these?", "cache_control": {"type": "ephemeral"}},
        ]
        response = client.post(
            "/v1/messages", json=ask(messages=[{"role": "user", "content": content}])
        )
        assert response.status_code == 200, response.text
        parts = (up.generation_requests()[-1].body or {})["messages"][0]["content"]
        assert parts[0]["image_url"]["url"] == f"data:image/png;base64,{PNG_B64}"
        assert parts[1]["image_url"]["url"] == "https://example.com/a.png"
        assert parts[2] == {"type": "text", "text": "What are these?"}
        failed = [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "is_error": True,
                        "content": [{"type": "text", "text": "no such city"}],
                    }
                ],
            },
        ]
        client.post("/v1/messages", json=ask(messages=failed))
        sent = (up.generation_requests()[-1].body or {})["messages"]
        assert sent[-1] == {"role": "tool", "tool_call_id": "t1", "content": "Error: no such city"}
    finally:
        up.stop()


def test_server_tools_and_bad_blocks_are_refused(gateway_app: AppFactory) -> None:
    client, up = tool_app(gateway_app)
    try:
        web = {"type": "web_search_20250305", "name": "web_search"}
        refused = client.post("/v1/messages", json=ask(tools=[web]))
        assert refused.status_code == 400
        assert refused.json()["error"]["type"] == "invalid_request_error"
        assert "tools[0]" in refused.json()["error"]["message"]
        odd = ask(messages=[{"role": "user", "content": [{"type": "hologram"}]}])
        assert "hologram" in client.post("/v1/messages", json=odd).json()["error"]["message"]
        choice = client.post("/v1/messages", json=ask(tool_choice={"type": "tool", "name": "x"}))
        assert choice.status_code == 400  # a named tool needs tools
        assert up.generation_requests() == []  # nothing left Plinth
    finally:
        up.stop()


def test_anthropic_deployment_round_trip(
    gateway_app: AppFactory, upstreams: Callable[[], FakeUpstream]
) -> None:
    up = upstreams()
    client = gateway_app(deployments=[deployment(up, engine="anthropic", model="claude-fake")])
    body = ask(model="claude-fake", system="Be brief.", stop_sequences=["END"], temperature=0.3)
    message = client.post("/v1/messages", json=body).json()
    assert message["content"] == [{"type": "text", "text": "Weather in Paris?"}]
    assert message["model"] == "claude-fake" and message["stop_reason"] == "end_turn"
    sent = up.generation_requests()[-1]
    assert sent.path == "/v1/messages"
    # Only Anthropic deployments serve the model: the body goes as the client sent it.
    assert sent.body == {
        "model": "fake-model",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "system": "Be brief.",
        "temperature": 0.3,
        "stop_sequences": ["END"],
    }
    stream = events(client.post("/v1/messages", json=body | {"stream": True}))
    text = "".join(e["delta"].get("text", "") for e in stream if e["type"] == "content_block_delta")
    assert text == "Weather in Paris?" and stream[-1]["type"] == "message_stop"


def test_budgets_apply_as_for_chat(
    gateway_app: AppFactory, upstreams: Callable[[], FakeUpstream]
) -> None:
    up = upstreams()
    client = gateway_app(deployments=[deployment(up)])
    client.post("/admin/tenants", json={"name": "acme"})
    key = client.post("/admin/keys", json={"name": "app", "tenant": "acme"}).json()
    price = {"model": "gpt-fake", "input_per_mtok": "1000", "output_per_mtok": "2000"}
    assert client.post("/admin/prices", json=price).status_code == 201
    # Held per request: 21 estimated prompt tokens at 1000/1M + 10 at 2000/1M = 0.041;
    # each costs 0.009 (3 + 3 tokens): 0.045 admits one request, not two.
    limits = {"spend": "0.045", "spend_period": "day"}
    assert client.put(f"/admin/limits/key:{key['id']}", json=limits).status_code == 200
    body = ask(max_tokens=10, messages=[{"role": "user", "content": "one two three"}])
    headers = {"x-api-key": key["key"], "authorization": ""}
    first = client.post("/v1/messages", json=body, headers=headers)
    assert first.status_code == 200, first.text
    row = client.get(f"/admin/usage/requests/{first.headers['x-request-id']}").json()
    assert row["cost_micros"] == 9_000 and row["endpoint"] == "messages"
    refused = client.post("/v1/messages", json=body, headers=headers)
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["type"] == "billing_error"
    assert len(up.generation_requests()) == 1  # the refused one never left


def test_a_stream_cut_after_output_ends_with_an_error_event(
    gateway_app: AppFactory, upstreams: Callable[[], FakeUpstream]
) -> None:
    up = upstreams()
    client = gateway_app(deployments=[deployment(up)])
    up.push(Fault.reset_during_stream(3))
    body = ask(stream=True, messages=[{"role": "user", "content": "one two three four five"}])
    response = client.post("/v1/messages", json=body)
    stream = events(response)
    assert [e["type"] for e in stream][:2] == ["message_start", "ping"]
    assert any(e["type"] == "content_block_delta" for e in stream)  # output had started
    assert stream[-1]["type"] == "error" and stream[-1]["error"]["type"] == "api_error"
    assert "message_stop" not in [e["type"] for e in stream]
    row = client.get(f"/admin/usage/requests/{response.headers['x-request-id']}").json()
    assert row["status"] == "error" and row["endpoint"] == "messages"
