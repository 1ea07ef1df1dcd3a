"""POST /v1/completions (legacy text completions) on the bundled SmolLM2."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from testsupport import CHAT_MODEL, EMBED_MODEL, sse


def completion(prompt: Any = "The capital of France is", **extra: Any) -> dict[str, Any]:
    return {"model": CHAT_MODEL, "prompt": prompt, "max_tokens": 6, **extra}


def post(client: TestClient, body: dict[str, Any]) -> Any:
    response = client.post("/v1/completions", json=body)
    assert response.status_code == 200, response.text
    return response


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["text"] for c in chunks if c["choices"])


def test_non_streaming_shape(client: TestClient) -> None:
    response = post(client, completion())
    body = response.json()
    assert body["id"] == f"cmpl-{response.headers['x-request-id']}"
    assert body["object"] == "text_completion"
    assert body["model"] == CHAT_MODEL
    assert type(body["created"]) is int
    assert "timings" not in body
    assert len(body["choices"]) == 1
    choice = body["choices"][0]
    assert choice["index"] == 0
    assert isinstance(choice["text"], str) and choice["text"]
    assert choice["finish_reason"] in {"stop", "length"}
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and 1 <= usage["completion_tokens"] <= 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_max_tokens_limits_output(client: TestClient) -> None:
    body = post(client, completion("Once upon a time", max_tokens=3)).json()
    assert body["usage"]["completion_tokens"] == 3
    assert body["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("prompt", [["The capital of France is"], [504, 3575, 282, 4649, 314]])
def test_prompt_as_one_item_list_or_token_ids(client: TestClient, prompt: list[Any]) -> None:
    body = post(client, completion(prompt, max_tokens=3)).json()
    assert body["choices"][0]["text"]
    assert body["usage"]["completion_tokens"] <= 3
    if isinstance(prompt[0], int):
        assert body["usage"]["prompt_tokens"] == len(prompt)


def test_streaming(client: TestClient) -> None:
    response = client.post("/v1/completions", json=completion(stream=True))
    chunks = sse(response)
    assert chunks
    for c in chunks:
        assert c["id"] == f"cmpl-{response.headers['x-request-id']}"
        assert c["object"] == "text_completion"
        assert c["model"] == CHAT_MODEL
        assert "usage" not in c and "timings" not in c
    assert text_of(chunks)


def test_streaming_reports_how_it_finished(client: TestClient) -> None:
    """The client must learn the finish reason even without asking for usage."""
    chunks = sse(client.post("/v1/completions", json=completion("Once upon a time", stream=True)))
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "length"
    assert all(f is None for f in finishes[:-1])


def test_streaming_usage_chunk_is_separate_and_last(client: TestClient) -> None:
    body = completion(stream=True, stream_options={"include_usage": True})
    chunks = sse(client.post("/v1/completions", json=body))
    with_usage = [i for i, c in enumerate(chunks) if "usage" in c]
    assert with_usage == [len(chunks) - 1]
    assert chunks[-1]["choices"] == []  # as OpenAI sends it
    usage = chunks[-1]["usage"]
    assert 1 <= usage["completion_tokens"] <= 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_streamed_and_whole_text_agree_at_temperature_zero(client: TestClient) -> None:
    body = completion("The colours of the rainbow are", max_tokens=8, temperature=0)
    whole = post(client, body).json()["choices"][0]["text"]
    streamed = text_of(sse(client.post("/v1/completions", json=body | {"stream": True})))
    assert streamed == whole and whole


def test_stop_sequence(client: TestClient) -> None:
    body = completion("Dogs are loyal. Cats are", max_tokens=24, temperature=0, stop=["."])
    choice = post(client, body).json()["choices"][0]
    assert "." not in choice["text"]
    assert choice["finish_reason"] == "stop"


def test_best_of_one_is_accepted(client: TestClient) -> None:
    assert post(client, completion(best_of=1, max_tokens=2)).json()["choices"][0]["text"]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"echo": True}, "echo"),
        ({"suffix": "and so on"}, "suffix"),
        ({"best_of": 2}, "best_of"),
        ({"n": 2}, "n"),
        ({"prompt": ["a", "b"]}, "prompt"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_unsupported_options_are_400(client: TestClient, extra: dict[str, Any], param: str) -> None:
    response = client.post("/v1/completions", json=completion() | extra)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert sorted(error) == ["code", "message", "param", "type"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        param,
        "unsupported_parameter",
    )


def test_context_overflow_names_the_prompt(client: TestClient) -> None:
    response = client.post("/v1/completions", json=completion("word " * 1500, max_tokens=2))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "context_length_exceeded")
    # /v1/completions has no "messages": the parameter at fault is the prompt.
    assert error["param"] == "prompt"


def test_embedding_model_cannot_complete(client: TestClient) -> None:
    response = client.post("/v1/completions", json=completion() | {"model": EMBED_MODEL})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("model", "model_not_supported")
