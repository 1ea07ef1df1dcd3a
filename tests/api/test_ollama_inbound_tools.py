"""/api/chat with tools over a fake tool-calling upstream (real HTTP on loopback)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from gatewaysupport import AppFactory, deployment
from toolupstream import ARGUMENTS, ToolCallingUpstream
from upstreamfake import FakeUpstream, Fault

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
def tools(gateway_app: AppFactory) -> Iterator[tuple[TestClient, ToolCallingUpstream]]:
    up = ToolCallingUpstream()
    up.start()
    try:
        yield gateway_app(deployments=[deployment(up)]), up
    finally:
        up.stop()


def ask(**extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-fake",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER],
        **extra,
    }


def test_tool_calls_whole_and_streamed(tools: tuple[TestClient, ToolCallingUpstream]) -> None:
    client, up = tools
    answer = client.post("/api/chat", json=ask(stream=False)).json()
    expected = [{"function": {"name": "get_weather", "arguments": ARGUMENTS}}]
    assert answer["message"]["tool_calls"] == expected
    assert answer["done"] is True and answer["eval_count"] == 7
    assert (up.generation_requests()[-1].body or {})["tools"] == [WEATHER]

    response = client.post("/api/chat", json=ask())
    lines = [json.loads(line) for line in response.text.splitlines()]
    with_calls = [line for line in lines if line["message"].get("tool_calls")]
    assert len(with_calls) == 1 and with_calls[0]["message"]["tool_calls"] == expected
    assert lines[-1]["done"] is True and lines[-1]["prompt_eval_count"] == 11


def test_tool_results_answer_the_calls_in_order(
    tools: tuple[TestClient, ToolCallingUpstream],
) -> None:
    client, up = tools
    calls = [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
        {"function": {"name": "get_time", "arguments": {}}},
    ]
    messages = [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "content": "noon", "tool_name": "get_time"},
        {"role": "tool", "content": "18 degrees"},
    ]
    answer = client.post("/api/chat", json=ask(messages=messages, stream=False)).json()
    assert answer["message"]["content"] == "The tool said: 18 degrees"
    sent = (up.generation_requests()[-1].body or {})["messages"]
    ids = [call["id"] for call in sent[1]["tool_calls"]]
    assert sent[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": json.dumps({"city": "Paris"}),
    }
    # The named result answers its call; the unnamed one the call left over.
    assert [(m["tool_call_id"], m["content"]) for m in sent[2:]] == [
        (ids[1], "noon"),
        (ids[0], "18 degrees"),
    ]


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
    body = {
        "model": "gpt-fake",
        "messages": [{"role": "user", "content": "one two three"}],
        "options": {"num_predict": 10},
        "stream": False,
    }
    headers = {"authorization": f"Bearer {key['key']}"}
    first = client.post("/api/chat", json=body, headers=headers)
    assert first.status_code == 200, first.text
    row = client.get(f"/admin/usage/requests/{first.headers['x-request-id']}").json()
    assert row["cost_micros"] == 9_000 and row["endpoint"] == "ollama_chat"
    refused = client.post("/api/chat", json=body, headers=headers)
    assert refused.status_code == 402 and "budget" in refused.json()["error"].lower()
    assert len(up.generation_requests()) == 1  # the refused one never left


def test_a_stream_cut_after_output_ends_with_an_error_line(
    gateway_app: AppFactory, upstreams: Callable[[], FakeUpstream]
) -> None:
    up = upstreams()
    client = gateway_app(deployments=[deployment(up)])
    up.push(Fault.reset_during_stream(3))
    body = {"model": "gpt-fake", "messages": [{"role": "user", "content": "one two three four"}]}
    response = client.post("/api/chat", json=body)
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert response.status_code == 200 and lines[0]["message"]["content"]
    assert list(lines[-1]) == ["error"] and lines[-1]["error"]
    assert not any(line.get("done") for line in lines)
    row = client.get(f"/admin/usage/requests/{response.headers['x-request-id']}").json()
    assert row["status"] == "error" and row["endpoint"] == "ollama_chat"
