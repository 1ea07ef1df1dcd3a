"""Anthropic's Messages API behind the OpenAI interface: translation and a live round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gatewaysupport import AppFactory
from plinth.engines.anthropic_answer import StreamTranslator, from_messages_response
from plinth.engines.anthropic_request import to_messages_request
from plinth.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from upstreamfake import FakeUpstream


def test_request_translation_covers_system_tools_images_and_alternation() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "content": "Weather?"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Here:"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "t2", "content": "windy"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Look it up",
                    "parameters": {"type": "object"},
                },
            }
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "temperature": 1.7,
        "stop": "END",
        "user": "u-1",
    }
    out = to_messages_request(body, "claude-x")
    assert out["model"] == "claude-x" and out["max_tokens"] == 4096
    assert out["system"] == "Be brief.\n\nUse tools."
    assert [t["role"] for t in out["messages"]] == ["user", "assistant", "user"]
    first = out["messages"][0]["content"]
    assert [b["type"] for b in first] == ["text", "text", "image", "image"]
    assert first[2]["source"] == {"type": "base64", "media_type": "image/png", "data": "AAAA"}
    assert first[3]["source"] == {"type": "url", "url": "https://x.test/a.jpg"}
    assert out["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}}
    ]
    assert [b["tool_use_id"] for b in out["messages"][2]["content"]] == ["t1", "t2"]
    assert out["tools"] == [
        {"name": "weather", "description": "Look it up", "input_schema": {"type": "object"}}
    ]
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert out["temperature"] == 1.0 and out["stop_sequences"] == ["END"]
    assert out["metadata"] == {"user_id": "u-1"}


@pytest.mark.parametrize("param", ["logprobs", "seed", "presence_penalty", "logit_bias"])
def test_parameters_without_an_equivalent_are_refused(param: str) -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        param: {"1": 1} if param == "logit_bias" else 1,
    }
    with pytest.raises(UnsupportedParameter) as caught:
        to_messages_request(body, "m")
    assert caught.value.param == param


def test_bad_tool_arguments_name_the_place() -> None:
    body = {
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{"}}],
            }
        ]
    }
    with pytest.raises(InvalidRequest) as caught:
        to_messages_request(body, "m")
    assert caught.value.param == "messages[0].tool_calls[0].function.arguments"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_answers_map_stop_reasons_and_usage(stop: str, finish: str) -> None:
    answer = {
        "id": "msg_1",
        "content": [
            {"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": stop,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_read_input_tokens": 4,
            "cache_creation_input_tokens": 2,
        },
    }
    out = from_messages_response(answer, "public")
    choice = out["choices"][0]
    assert choice["finish_reason"] == finish and choice["message"]["content"] == "Hi"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"a": 1}
    assert out["usage"] == {
        "prompt_tokens": 16,
        "completion_tokens": 5,
        "total_tokens": 21,
        "prompt_tokens_details": {"cached_tokens": 4},
    }


def test_a_stream_with_text_and_a_split_tool_call_reassembles() -> None:
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {"id": "msg_9", "usage": {"input_tokens": 7, "output_tokens": 1}},
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Let me "},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "check."},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "tu_1", "name": "weather", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"ci'},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": 'ty": "Oslo"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 12},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    translator = StreamTranslator("public")
    chunks = [c for name, data in events for c in translator.feed(name, data)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d.get("content") or "" for d in deltas) == "Let me check."
    calls = [call for d in deltas for call in d.get("tool_calls") or ()]
    assert calls[0]["id"] == "tu_1" and calls[0]["function"]["name"] == "weather"
    assert {c["index"] for c in calls} == {0}
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"city": "Oslo"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert (
        chunks[-1]["usage"]["prompt_tokens"] == 7 and chunks[-1]["usage"]["completion_tokens"] == 12
    )
    assert all(c["id"] == "msg_9" and c["model"] == "public" for c in chunks)


def test_an_error_event_raises_a_retryable_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="overloaded"):
        StreamTranslator("m").feed(
            "error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
        )


def test_live_round_trip_through_the_gateway(
    gateway_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    with FakeUpstream() as up:
        client = gateway_app(
            [
                {
                    "model": "claude",
                    "engine": "anthropic",
                    "base_url": up.base_url,
                    "api_key_env": "FAKE_ANTHROPIC_API_KEY",
                    "upstream_model": "claude-sonnet-x",
                }
            ]
        )
        body = {
            "model": "claude",
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "hello there"},
            ],
        }
        whole = client.post("/v1/chat/completions", json=body)
        assert whole.status_code == 200, whole.text
        assert whole.json()["choices"][0]["message"]["content"] == "hello there"
        sent = up.generation_requests()[0]
        assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == "sk-ant-test-0123456789"
        assert sent.headers["anthropic-version"] == "2023-06-01"
        assert (
            sent.body is not None
            and sent.body["system"] == "S"
            and sent.body["model"] == "claude-sonnet-x"
        )
        streamed = client.post(
            "/v1/chat/completions",
            json=body | {"stream": True, "stream_options": {"include_usage": True}},
        )
        frames = [
            json.loads(line[6:]) for line in streamed.text.split("\n") if line.startswith("data: {")
        ]
        assert (
            "".join(f["choices"][0]["delta"].get("content") or "" for f in frames if f["choices"])
            == "hello there"
        )
        assert frames[-1]["usage"]["completion_tokens"] == 2
        row = client.get(f"/admin/usage/requests/{streamed.headers['x-request-id']}").json()
        assert row["usage_source"] == "upstream" and row["completion_tokens"] == 2
