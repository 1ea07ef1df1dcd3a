"""POST /v1/chat/completions on the bundled SmolLM2: response shapes and sampling controls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from testsupport import CHAT_MODEL, EMBED_MODEL, sse

USAGE_KEYS = {"prompt_tokens", "completion_tokens", "total_tokens"}


def chat(content: Any = "Say hello.", **extra: Any) -> dict[str, Any]:
    return {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 16,
        **extra,
    }


def post(client: TestClient, body: dict[str, Any]) -> Any:
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response


def assert_usage(usage: dict[str, Any], *, limit: int) -> None:
    assert set(usage) >= USAGE_KEYS
    assert all(type(usage[k]) is int for k in USAGE_KEYS)
    assert usage["prompt_tokens"] > 0
    assert 1 <= usage["completion_tokens"] <= limit
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def streamed_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_non_streaming_shape(client: TestClient) -> None:
    response = post(client, chat())
    body = response.json()
    request_id = response.headers["x-request-id"]
    assert body["id"] == f"chatcmpl-{request_id}" and body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert body["model"] == CHAT_MODEL
    assert type(body["created"]) is int and body["created"] > 1_600_000_000
    assert "timings" not in body
    assert len(body["choices"]) == 1
    choice = body["choices"][0]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str) and choice["message"]["content"]
    assert choice["finish_reason"] in {"stop", "length"}
    assert_usage(body["usage"], limit=16)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_token_limit_fields(client: TestClient, field: str) -> None:
    body = chat("Write a long essay about rivers.")
    del body["max_tokens"]
    reply = post(client, body | {field: 3}).json()
    assert reply["usage"]["completion_tokens"] == 3
    assert reply["choices"][0]["finish_reason"] == "length"


def test_max_completion_tokens_wins_over_max_tokens(client: TestClient) -> None:
    body = chat("Write a long essay about rivers.", max_tokens=10, max_completion_tokens=2)
    reply = post(client, body).json()
    assert reply["usage"]["completion_tokens"] == 2
    assert reply["choices"][0]["finish_reason"] == "length"


def test_streaming_without_usage(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat(stream=True))
    chunks = sse(response)
    request_id = response.headers["x-request-id"]
    assert chunks, "at least one chunk before [DONE]"
    for c in chunks:
        assert c["id"] == f"chatcmpl-{request_id}"
        assert c["object"] == "chat.completion.chunk"
        assert c["model"] == CHAT_MODEL
        assert "usage" not in c and "timings" not in c
        assert len(c["choices"]) == 1 and c["choices"][0]["index"] == 0
    assert streamed_text(chunks)
    finishes = [c["choices"][0]["finish_reason"] for c in chunks]
    assert finishes[-1] in {"stop", "length"}
    assert all(f is None for f in finishes[:-1])


def test_streaming_with_usage_ends_with_one_usage_chunk(client: TestClient) -> None:
    body = chat(stream=True, stream_options={"include_usage": True})
    response = client.post("/v1/chat/completions", json=body)
    chunks = sse(response)
    with_usage = [i for i, c in enumerate(chunks) if "usage" in c]
    assert with_usage == [len(chunks) - 1]
    last = chunks[-1]
    assert last["choices"] == []
    assert last["id"] == f"chatcmpl-{response.headers['x-request-id']}"
    assert_usage(last["usage"], limit=16)
    content_chunks = [c for c in chunks[:-1] if c["choices"][0]["delta"].get("content")]
    assert 1 <= len(content_chunks) <= last["usage"]["completion_tokens"]
    assert chunks[-2]["choices"][0]["finish_reason"] in {"stop", "length"}


def test_streamed_and_whole_answers_agree_at_temperature_zero(client: TestClient) -> None:
    body = chat("Name three colours.", max_tokens=12, temperature=0)
    whole = post(client, body).json()
    chunks = sse(
        client.post(
            "/v1/chat/completions",
            json=body | {"stream": True, "stream_options": {"include_usage": True}},
        )
    )
    assert streamed_text(chunks) == whole["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"]["completion_tokens"] == whole["usage"]["completion_tokens"]
    assert chunks[-1]["usage"]["prompt_tokens"] == whole["usage"]["prompt_tokens"]


def test_same_seed_same_text(client: TestClient) -> None:
    body = chat("Tell me a story.", max_tokens=24, temperature=0.8, seed=7)
    first = post(client, body).json()["choices"][0]["message"]["content"]
    second = post(client, body).json()["choices"][0]["message"]["content"]
    assert first and first == second


@pytest.mark.parametrize("stop", [["."], "."])
def test_stop_sequence(client: TestClient, stop: Any) -> None:
    body = chat("Write three sentences about dogs.", max_tokens=32, temperature=0, stop=stop)
    choice = post(client, body).json()["choices"][0]
    assert choice["message"]["content"]
    assert "." not in choice["message"]["content"]
    assert choice["finish_reason"] == "stop"


def test_json_schema_output_parses(client: TestClient) -> None:
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    body = chat(
        "Are you ok? Answer in JSON.",
        max_tokens=32,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "status", "schema": schema},
        },
    )
    choice = post(client, body).json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    parsed = json.loads(choice["message"]["content"])
    assert list(parsed) == ["ok"] and isinstance(parsed["ok"], bool)


def test_json_schema_with_an_enum(client: TestClient) -> None:
    schema = {
        "type": "object",
        "properties": {"mood": {"type": "string", "enum": ["happy", "sad"]}},
        "required": ["mood"],
        "additionalProperties": False,
    }
    body = chat(
        "How do you feel?",
        max_tokens=32,
        temperature=0.8,
        seed=3,
        response_format={"type": "json_schema", "json_schema": {"name": "mood", "schema": schema}},
    )
    parsed = json.loads(post(client, body).json()["choices"][0]["message"]["content"])
    assert parsed in ({"mood": "happy"}, {"mood": "sad"})


def test_json_object_output_is_constrained(client: TestClient) -> None:
    body = chat(
        "Reply with a JSON object describing a cat.",
        max_tokens=24,
        temperature=0,
        response_format={"type": "json_object"},
    )
    content = post(client, body).json()["choices"][0]["message"]["content"]
    assert content.lstrip().startswith("{")


def test_text_content_parts_are_accepted(client: TestClient) -> None:
    parts = [{"type": "text", "text": "Say"}, {"type": "text", "text": " hi."}]
    body = chat(parts, max_tokens=4)
    reply = post(client, body).json()
    assert reply["choices"][0]["message"]["content"]
    assert reply["usage"]["completion_tokens"] <= 4


def test_system_and_developer_roles_are_accepted(client: TestClient) -> None:
    for role in ("system", "developer"):
        body = chat(max_tokens=3)
        body["messages"].insert(0, {"role": role, "content": "Be brief."})
        assert post(client, body).json()["usage"]["completion_tokens"] <= 3


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("index", [0, 1])
def test_image_parts_are_refused_naming_the_message(
    client: TestClient, stream: bool, index: int
) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    messages = [{"role": "user", "content": "Look."}] * index
    messages.append({"role": "user", "content": [image]})
    body = {"model": CHAT_MODEL, "messages": messages, "max_tokens": 4, "stream": stream}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "message": "Content parts of type 'image_url' are not supported by this local model; "
        "send text parts only",
        "type": "invalid_request_error",
        "param": f"messages[{index}].content",
        "code": "unsupported_parameter",
    }


def test_stream_options_without_stream_is_refused(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions", json=chat(stream_options={"include_usage": True})
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("stream_options", "unsupported_parameter")


@pytest.mark.parametrize("stream", [False, True])
def test_embedding_model_cannot_chat(client: TestClient, stream: bool) -> None:
    response = client.post(
        "/v1/chat/completions", json=chat(stream=stream) | {"model": EMBED_MODEL}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "model",
        "model_not_supported",
    )
    assert f"'{EMBED_MODEL}'" in error["message"] and "chat" in error["message"]
