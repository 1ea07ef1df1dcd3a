"""POST /v1/chat/completions and /v1/completions on the bundled SmolLM2, in-process."""

from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient

CHAT = "smollm2-135m-instruct"


def chat(content: str = "Say hello.", **extra: Any) -> dict[str, Any]:
    return {
        "model": CHAT,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 16,
        **extra,
    }


def sse(response: Any) -> list[Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    return [json.loads(f.removeprefix("data: ")) for f in frames[:-1]]


def test_non_streaming_shape(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat())
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "chatcmpl-" + response.headers["x-request-id"]
    assert body["object"] == "chat.completion" and body["model"] == CHAT
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and message["content"]
    assert body["choices"][0]["finish_reason"] in {"stop", "length"}
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 16
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "timings" not in body


def test_token_limits(client: TestClient) -> None:
    for field in ("max_tokens", "max_completion_tokens"):
        body = chat("Write a long essay about rivers.") | {field: 3}
        if field == "max_completion_tokens":
            del body["max_tokens"]
        reply = client.post("/v1/chat/completions", json=body).json()
        assert reply["usage"]["completion_tokens"] == 3
        assert reply["choices"][0]["finish_reason"] == "length"


def test_streaming_without_and_with_usage(client: TestClient) -> None:
    chunks = sse(client.post("/v1/chat/completions", json=chat(stream=True)))
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == CHAT for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert all("usage" not in c and "timings" not in c for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in {"stop", "length"}

    chunks = sse(
        client.post(
            "/v1/chat/completions", json=chat(stream=True, stream_options={"include_usage": True})
        )
    )
    usage_chunks = [c for c in chunks if "usage" in c]
    assert usage_chunks == [chunks[-1]] and chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert 1 <= usage["completion_tokens"] <= 16
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_same_seed_same_text(client: TestClient) -> None:
    body = chat("Invent a name for a cat.", temperature=0.9, top_p=0.95, seed=1234)
    first = client.post("/v1/chat/completions", json=body).json()
    second = client.post("/v1/chat/completions", json=body).json()
    assert first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"]


def test_stop_sequence(client: TestClient) -> None:
    body = chat("Write three sentences about dogs.", max_tokens=40, stop=["."], temperature=0)
    reply = client.post("/v1/chat/completions", json=body).json()
    assert "." not in reply["choices"][0]["message"]["content"]
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_json_schema_output_is_valid(client: TestClient) -> None:
    schema = {
        "type": "object",
        "properties": {
            "ok": {"type": "boolean"},
            "mood": {"type": "string", "enum": ["happy", "sad"]},
        },
        "required": ["ok", "mood"],
        "additionalProperties": False,
    }
    body = chat(
        "Are you ok? Answer in JSON.",
        max_tokens=40,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "status", "schema": schema},
        },
    )
    content = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    parsed = json.loads(content["content"])
    assert isinstance(parsed["ok"], bool) and parsed["mood"] in {"happy", "sad"}


def test_json_object_output_starts_as_json(client: TestClient) -> None:
    body = chat(
        "Give me a JSON object.",
        max_tokens=24,
        temperature=0,
        response_format={"type": "json_object"},
    )
    content = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    assert content["content"].lstrip().startswith("{")


def test_text_parts_are_accepted_and_other_parts_refused(client: TestClient) -> None:
    parts = [{"type": "text", "text": "Say hi."}]
    body = {"model": CHAT, "messages": [{"role": "user", "content": parts}], "max_tokens": 4}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    body["messages"][0]["content"] = [image]
    refused = client.post("/v1/chat/completions", json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "messages[0].content"
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    refused = client.post("/v1/chat/completions", json=chat(tools=tools))
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "tools"


def test_embedding_model_cannot_chat(client: TestClient) -> None:
    refused = client.post("/v1/chat/completions", json=chat() | {"model": "all-minilm-l6-v2"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "model_not_supported"


def test_legacy_completions(client: TestClient) -> None:
    body = {"model": CHAT, "prompt": "The capital of France is", "max_tokens": 5}
    reply = client.post("/v1/completions", json=body).json()
    assert reply["object"] == "text_completion" and reply["id"].startswith("cmpl-req_")
    assert reply["choices"][0]["text"] and reply["usage"]["completion_tokens"] <= 5
    chunks = sse(client.post("/v1/completions", json=body | {"stream": True}))
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    for bad in ({"echo": True}, {"suffix": "x"}, {"best_of": 2}, {"prompt": ["a", "b"]}):
        refused = client.post("/v1/completions", json=body | bad)
        assert refused.status_code == 400, bad
        assert refused.json()["error"]["param"] == next(iter(bad))
