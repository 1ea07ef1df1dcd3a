"""Tool calling on the bundled local model (SmolLM2, whose template knows no tools).

``tool_choice`` ``required`` or a named function constrains the output to a
call, so whatever the weights say the answer is a valid OpenAI tool call; with
``auto`` the answer must be well formed either way.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from plinth.engines import llamacpp_tools
from plinth.engines.llamacpp_template_caps import renders_tools, template_caps
from plinth.engines.llamacpp_tools import ToolPlan, answer_schema, parse_answer, rewrite_history
from testsupport import CHAT_MODEL

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather now in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 20}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}},
            "required": ["zone"],
        },
    },
}


def ask(**extra: Any) -> dict[str, Any]:
    body = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [WEATHER, TIME],
        "max_tokens": 200,
        "temperature": 0,
    }
    return body | extra


def assert_valid_call(call: dict[str, Any], names: set[str]) -> dict[str, Any]:
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] in names
    arguments: dict[str, Any] = json.loads(call["function"]["arguments"])
    if call["function"]["name"] == "get_weather":
        assert isinstance(arguments["city"], str)
    else:
        assert arguments["zone"] in ("UTC", "CET")
    return arguments


def test_required_gives_a_valid_call(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=ask(tool_choice="required"))
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"]
    for call in choice["message"]["tool_calls"]:
        assert_valid_call(call, {"get_weather", "get_time"})


def test_a_named_function_and_no_parallel_calls(client: TestClient) -> None:
    named = {"type": "function", "function": {"name": "get_time"}}
    body = ask(tool_choice=named, parallel_tool_calls=False)
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    calls = response.json()["choices"][0]["message"]["tool_calls"]
    assert len(calls) == 1
    assert_valid_call(calls[0], {"get_time"})


def test_none_answers_in_text(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=ask(tool_choice="none", max_tokens=8))
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert isinstance(message["content"], str) and message["content"]
    assert "tool_calls" not in message


def test_auto_is_well_formed_either_way(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=ask(tool_choice="auto"))
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    if choice["finish_reason"] == "tool_calls":
        for call in choice["message"]["tool_calls"]:
            assert_valid_call(call, {"get_weather", "get_time"})
    else:
        assert isinstance(choice["message"]["content"], str)


def test_streamed_calls_arrive_as_openai_deltas(client: TestClient) -> None:
    body = ask(tool_choice="required", stream=True, stream_options={"include_usage": True})
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    calls: dict[int, dict[str, Any]] = {}
    reasons = []
    for chunk in chunks:
        for choice in chunk["choices"]:
            reasons.append(choice["finish_reason"])
            assert "content" not in choice["delta"] or choice["delta"]["content"] is None
            for delta in choice["delta"].get("tool_calls", []):
                call = calls.setdefault(delta["index"], {"function": {"arguments": ""}})
                call.update({k: v for k, v in delta.items() if k in ("id", "type")})
                function = delta.get("function", {})
                call["function"]["name"] = function.get("name") or call["function"].get("name")
                call["function"]["arguments"] += function.get("arguments", "")
    assert [r for r in reasons if r] == ["tool_calls"]
    assert calls
    for call in calls.values():
        assert_valid_call(call, {"get_weather", "get_time"})


def test_tool_results_in_a_later_turn(client: TestClient) -> None:
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
    ]
    for tools in ({"tools": [WEATHER], "tool_choice": "auto"}, {}):
        body = {"model": CHAT_MODEL, "messages": messages, "max_tokens": 30, "temperature": 0}
        response = client.post("/v1/chat/completions", json=body | tools)
        assert response.status_code == 200, response.text
        message = response.json()["choices"][0]["message"]
        assert isinstance(message["content"], str) or message["tool_calls"]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        (
            {
                "messages": [
                    {"role": "user", "content": "Weather?"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": "{city"},
                            }
                        ],
                    },
                ]
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
    ],
)
def test_tool_mistakes_are_400s(client: TestClient, extra: dict[str, Any], param: str) -> None:
    response = client.post("/v1/chat/completions", json=ask(**extra))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_only_requests_about_tools_enter_the_tool_handling(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered: list[dict[str, Any]] = []
    prepare = llamacpp_tools.prepare

    def spy(body: dict[str, Any], *, native: bool = False) -> Any:
        entered.append(body)
        return prepare(body, native=native)

    monkeypatch.setattr(llamacpp_tools, "prepare", spy)
    plain: dict[str, Any] = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    response = client.post("/v1/chat/completions", json=plain | {"max_tokens": 4})
    assert response.status_code == 200, response.text
    assert entered == []  # no tools, no tool turns: the tool modules are not run
    # An earlier call in the history, without ``tools``, is still checked (a 400).
    call: dict[str, Any] = {"type": "function", "function": {"name": "f", "arguments": "{city"}}
    history = [*plain["messages"], {"role": "assistant", "tool_calls": [call]}]
    response = client.post("/v1/chat/completions", json=plain | {"messages": history})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "messages[1].tool_calls[0].function.arguments"
    assert len(entered) == 1


def test_the_answer_format_and_history() -> None:
    plan = ToolPlan(frozenset({"get_weather"}))
    content, calls = parse_answer(
        '{"tool_calls": [{"name": "get_weather", "arguments": {}}]}', plan
    )
    assert content is None and calls[0]["function"] == {"name": "get_weather", "arguments": "{}"}
    assert parse_answer('{"response": "hi"}', plan) == ("hi", [])
    assert parse_answer('{"tool_calls": [{"na', plan) == ('{"tool_calls": [{"na', [])
    schema = answer_schema([WEATHER["function"]], required=True, parallel=False)
    assert schema["properties"]["tool_calls"]["maxItems"] == 1
    history = rewrite_history(
        [
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "42"},
        ]
    )
    assert history[0] == {
        "role": "assistant",
        "content": '{"tool_calls": [{"name": "f", "arguments": {}}]}',
    }
    assert history[1]["role"] == "user" and "42" in history[1]["content"]


def test_unreadable_template_caps_mean_the_generic_format() -> None:
    # Nothing listens on port 1: the engine falls back to the generic format.
    caps = template_caps("http://127.0.0.1:1", "key")
    assert caps == {} and not renders_tools(caps)
    assert renders_tools({"supports_tools": True, "supports_tool_calls": True})
    assert not renders_tools({"supports_tools": True, "supports_tool_calls": False})
