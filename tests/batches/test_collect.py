"""A stream's chunks collected into the whole response a batch line's output holds."""

from __future__ import annotations

from plinth.batches.collect import whole_response


def _chunk(choices: list[dict[str, object]], **extra: object) -> dict[str, object]:
    head = {"id": "chatcmpl-b-1", "object": "chat.completion.chunk", "created": 7, "model": "m"}
    return {**head, "choices": choices, **extra}


def test_chat_text_reasoning_tool_calls_logprobs_and_usage() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
    chunks = [
        _chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}}]),
        _chunk([{"index": 0, "delta": {"reasoning_content": "think "}}]),
        _chunk([{"index": 0, "delta": {"reasoning_content": "hard"}}]),
        _chunk(
            [
                {
                    "index": 0,
                    "delta": {"content": "Hel"},
                    "logprobs": {"content": [{"token": "Hel", "logprob": -0.1}]},
                }
            ]
        ),
        _chunk(
            [
                {
                    "index": 0,
                    "delta": {"content": "lo"},
                    "logprobs": {"content": [{"token": "lo", "logprob": -0.2}]},
                }
            ]
        ),
        _chunk(
            [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "get", "arguments": '{"a"'},
                            }
                        ]
                    },
                }
            ]
        ),
        _chunk(
            [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                }
            ]
        ),
        _chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
        _chunk([], usage=usage),
    ]
    whole = whole_response(chunks, is_chat=True)
    assert whole["object"] == "chat.completion" and whole["id"] == "chatcmpl-b-1"
    assert whole["created"] == 7 and whole["model"] == "m" and whole["usage"] == usage
    (choice,) = whole["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["role"] == "assistant" and message["content"] == "Hello"
    assert message["reasoning_content"] == "think hard"
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get", "arguments": '{"a": 1}'}}
    ]
    assert [t["token"] for t in choice["logprobs"]["content"]] == ["Hel", "lo"]


def test_a_chat_stream_without_text_has_null_content() -> None:
    chunks = [
        _chunk([{"index": 0, "delta": {"role": "assistant"}}]),
        _chunk([{"index": 0, "delta": {}, "finish_reason": "length"}]),
    ]
    (choice,) = whole_response(chunks, is_chat=True)["choices"]
    assert choice["message"] == {"role": "assistant", "content": None}
    assert choice["finish_reason"] == "length" and choice["logprobs"] is None


def _text(text: str, logprob: float, finish: str | None) -> dict[str, object]:
    logprobs = {"tokens": [text], "token_logprobs": [logprob]}
    choice = {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}
    return {"id": "cmpl-b-2", "object": "text_completion", "model": "m", "choices": [choice]}


def test_text_completion_chunks() -> None:
    chunks = [_text("one", -1.0, None), _text(" two", -2.0, "stop")]
    whole = whole_response(chunks, is_chat=False)
    assert whole["object"] == "text_completion" and "usage" not in whole
    (choice,) = whole["choices"]
    assert choice["text"] == "one two" and choice["finish_reason"] == "stop"
    assert choice["logprobs"] == {"tokens": ["one", " two"], "token_logprobs": [-1.0, -2.0]}
