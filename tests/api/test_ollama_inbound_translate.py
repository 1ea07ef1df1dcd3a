"""The Ollama ⇄ OpenAI translation as pure functions: options, formats, images, tool calls."""

from __future__ import annotations

import base64

import pytest

from plinth.api.ollama_translate import (
    ToolCallBuffer,
    generation_fields,
    image_part,
    sampling,
)
from plinth.errors import InvalidRequest, UnsupportedParameter
from plinth.protocol.ollama import ChatRequest


def test_options_honoured_ignored_or_refused() -> None:
    options = {
        "temperature": 0.1,
        "top_p": 0.5,
        "seed": 7,
        "stop": "END",
        "num_predict": 9,
        "presence_penalty": 0.3,
        "num_ctx": 8192,
        "num_gpu": 1,
        "top_k": None,  # unset: no refusal
    }
    assert sampling(options) == {
        "temperature": 0.1,
        "top_p": 0.5,
        "seed": 7,
        "stop": ["END"],
        "max_tokens": 9,
        "presence_penalty": 0.3,
    }
    assert sampling({"num_predict": -1}) == {}  # Ollama's "no limit"
    with pytest.raises(UnsupportedParameter) as refused:
        sampling({"repeat_penalty": 1.1})
    assert refused.value.param == "options.repeat_penalty"


def test_formats_and_streaming() -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert generation_fields(ChatRequest.model_validate(base | {"format": "json"})) == {
        "response_format": {"type": "json_object"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    schema = {"type": "object"}
    fields = generation_fields(
        ChatRequest.model_validate(base | {"format": schema, "stream": False})
    )
    assert fields == {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema},
        }
    }
    with pytest.raises(InvalidRequest):
        generation_fields(ChatRequest.model_validate(base | {"format": "yaml"}))


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBP", "image/webp"),
    ],
)
def test_image_types_read_from_their_bytes(head: bytes, media_type: str) -> None:
    data = base64.b64encode(head + b"\x00" * 40).decode()
    assert image_part(data, "x")["image_url"]["url"] == f"data:{media_type};base64,{data}"


def test_streamed_tool_call_fragments_join_into_whole_calls() -> None:
    buffer = ToolCallBuffer()
    buffer.feed([{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x"'}}])
    buffer.feed([{"index": 1, "function": {"name": "g", "arguments": "{}"}}])
    buffer.feed([{"index": 0, "function": {"arguments": ": 1}"}}])
    assert buffer.drain() == [
        {"function": {"name": "f", "arguments": {"x": 1}}},
        {"function": {"name": "g", "arguments": {}}},
    ]
    assert buffer.drain() == []
