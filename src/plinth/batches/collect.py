"""A finished stream's chunks as the whole (non-streamed) response they amount to.

Batch lines on an in-process model run as streams, because only a stream
can be stopped part-way in llama.cpp (the runner stops one when interactive
traffic arrives); the line's output file still holds the whole response, as
OpenAI's Batch API writes it. Chunks are the client-facing ones the gateway
yields (ids, model and usage already set).
"""

from __future__ import annotations

from typing import Any

from plinth.engines.base import Json


def _merge_tool_calls(calls: list[Json], pieces: list[Json]) -> None:
    """Tool-call deltas into whole calls: by ``index``, arguments concatenated."""
    for piece in pieces:
        index = int(piece.get("index", len(calls)))
        while len(calls) <= index:
            calls.append(
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
        call = calls[index]
        if piece.get("id"):
            call["id"] = piece["id"]
        if piece.get("type"):
            call["type"] = piece["type"]
        function = piece.get("function") or {}
        if function.get("name"):
            call["function"]["name"] = function["name"]
        call["function"]["arguments"] += function.get("arguments") or ""


def _merge_logprobs(whole: Json, part: Json) -> None:
    """Chat logprobs (``content``/``refusal`` lists) or text-completion ones (parallel lists)."""
    for key, value in part.items():
        if isinstance(value, list):
            whole.setdefault(key, []).extend(value)
        elif key not in whole:
            whole[key] = value


class _Choice:
    def __init__(self, index: int):
        self.index = index
        self.message: Json = {"role": "assistant", "content": None}
        self.text: list[str] = []
        self.tool_calls: list[Json] = []
        self.logprobs: Json | None = None
        self.finish_reason: str | None = None

    def add(self, choice: Json, is_chat: bool) -> None:
        if is_chat:
            for key, value in (choice.get("delta") or {}).items():
                if key == "tool_calls":
                    _merge_tool_calls(self.tool_calls, value or [])
                elif isinstance(value, str) and key != "role":
                    self.message[key] = (self.message.get(key) or "") + value
                elif value is not None:
                    self.message[key] = value
        else:
            self.text.append(choice.get("text") or "")
        if choice.get("logprobs"):
            self.logprobs = self.logprobs or {}
            _merge_logprobs(self.logprobs, choice["logprobs"])
        self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def whole(self, is_chat: bool) -> Json:
        out: Json = {"index": self.index}
        if is_chat:
            if self.tool_calls:
                self.message["tool_calls"] = self.tool_calls
            out["message"] = self.message
        else:
            out["text"] = "".join(self.text)
        out["logprobs"] = self.logprobs
        out["finish_reason"] = self.finish_reason
        return out


def whole_response(chunks: list[Json], *, is_chat: bool) -> Json:
    """The chat completion or text completion ``chunks`` stream, as one object."""
    choices: dict[int, _Choice] = {}
    head: dict[str, Any] = {}
    usage: Json | None = None
    for chunk in chunks:
        for key in ("id", "created", "model", "system_fingerprint"):
            if key in chunk and key not in head:
                head[key] = chunk[key]
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or ():
            index = int(choice.get("index", 0))
            choices.setdefault(index, _Choice(index)).add(choice, is_chat)
    whole: Json = {
        "id": head.get("id"),
        "object": "chat.completion" if is_chat else "text_completion",
        "created": head.get("created"),
        "model": head.get("model"),
        "choices": [choices[i].whole(is_chat) for i in sorted(choices)],
    }
    if "system_fingerprint" in head:
        whole["system_fingerprint"] = head["system_fingerprint"]
    if usage is not None:
        whole["usage"] = usage
    return whole
