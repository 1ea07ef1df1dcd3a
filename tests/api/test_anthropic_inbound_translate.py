"""The Messages ⇄ chat translation as pure functions: field mappings and stream blocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plinth.api.anthropic_inbound import to_chat_body, to_message
from plinth.api.anthropic_stream import Blocks
from plinth.errors import (
    InvalidRequest,
    NoDeploymentAvailable,
    PayloadTooLarge,
    RateLimited,
    UnsupportedParameter,
)
from plinth.protocol.anthropic import MessagesRequest, error_json

TOOL = {"name": "f", "input_schema": {"type": "object", "properties": {}}}


def request(**fields: Any) -> MessagesRequest:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    return MessagesRequest.model_validate(body | fields)


@pytest.mark.parametrize(
    ("choice", "mapped", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "none"}, "none", None),
        ({"type": "any"}, "required", None),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}, None),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
    ],
)
def test_tool_choice(choice: dict[str, Any], mapped: Any, parallel: bool | None) -> None:
    body = to_chat_body(request(tools=[TOOL], tool_choice=choice))
    assert body["tool_choice"] == mapped and body.get("parallel_tool_calls") == parallel


def test_sampling_fields_and_stream_usage() -> None:
    body = to_chat_body(
        request(
            temperature=0.2,
            top_p=0.9,
            stop_sequences=["x"],
            metadata={"user_id": "u1"},
            stream=True,
            system="S",
        )
    )
    assert body == {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["x"],
        "user": "u1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_pdf_documents_become_file_parts_and_other_sources_are_refused() -> None:
    pdf = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
    }
    body = to_chat_body(request(messages=[{"role": "user", "content": [pdf]}]))
    assert body["messages"][0]["content"] == [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}}
    ]
    text_doc = {"type": "document", "source": {"type": "text", "data": "plain"}}
    with pytest.raises(UnsupportedParameter, match="document sources of type 'text'"):
        to_chat_body(request(messages=[{"role": "user", "content": [text_doc]}]))


def test_refusals_name_their_parameter() -> None:
    with pytest.raises(UnsupportedParameter) as thinking:
        to_chat_body(request(thinking={"type": "enabled", "budget_tokens": 1024}))
    assert thinking.value.param == "thinking"
    assert to_chat_body(request(thinking={"type": "disabled"}))["max_tokens"] == 5
    with pytest.raises(UnsupportedParameter) as stops:
        request(stop_sequences=["a", "b", "c", "d", "e"])
    assert stops.value.param == "stop_sequences"
    with pytest.raises(InvalidRequest) as bad_input:
        bad = {"type": "tool_use", "id": "t", "name": "f", "input": "not an object"}
        to_chat_body(request(messages=[{"role": "assistant", "content": [bad]}]))
    assert bad_input.value.param == "messages[0].content[0].input"


def test_answer_with_text_and_broken_tool_json() -> None:
    result = {
        "choices": [
            {
                "message": {
                    "content": "Sure.",
                    "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{oops"}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 4,
            "prompt_tokens_details": {"cached_tokens": 3},
        },
    }
    message = to_message(result, "msg_1", "m")
    assert message["content"] == [
        {"type": "text", "text": "Sure."},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"_raw_arguments": "{oops"}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {
        "input_tokens": 7,
        "output_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 3,
    }


def test_blocks_open_and_close_in_order() -> None:
    blocks = Blocks()
    events = blocks.text("Let me check.")
    events += blocks.tool_call({"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}})
    events += blocks.tool_call({"index": 0, "function": {"arguments": '{"x":'}})
    events += blocks.tool_call(
        {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}
    )
    events += blocks.tool_call({"index": 0, "function": {"arguments": "1}"}})  # a late fragment
    events += blocks.close()
    summary = [(e["type"], e["index"]) for e in events]
    assert summary == [
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_delta", 1),
        ("content_block_stop", 2),
    ]
    fragments = [e["delta"]["partial_json"] for e in events if e.get("index") == 1 and "delta" in e]
    assert json.loads("".join(fragments)) == {"x": 1}


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [
        (InvalidRequest("x"), 400, "invalid_request_error"),
        (PayloadTooLarge("x"), 413, "request_too_large"),
        (RateLimited("x"), 429, "rate_limit_error"),
        (NoDeploymentAvailable("x"), 503, "overloaded_error"),
        (RuntimeError("secret detail"), 500, "api_error"),
    ],
)
def test_error_types(exc: Exception, status: int, kind: str) -> None:
    got_status, body = error_json(exc, "req_1")
    assert (got_status, body["error"]["type"], body["request_id"]) == (status, kind, "req_1")
    assert "secret detail" not in body["error"]["message"]
