"""OpenAI Chat Completions ⇄ Anthropic Messages, as pure functions.

Requests: system and developer messages become the top-level ``system``;
consecutive turns of the same role merge (the Messages API wants user and
assistant to alternate); tool results become ``tool_result`` blocks in a user
turn; image parts become image blocks (data URLs as base64, others by URL).
OpenAI's temperature runs 0–2, Anthropic's 0–1: values above 1 are clamped.
Parameters with no Messages equivalent (logprobs, penalties, seed, logit_bias,
JSON-schema output) are refused with a 400 naming them, never dropped
silently; ``response_format`` ``text`` is accepted.

Answers and stream events map back: stop reasons to finish reasons, usage with
cache reads counted as cached prompt tokens, ``tool_use`` blocks to tool calls.
"""

from __future__ import annotations

import json
import time
from typing import Any

from plinth.errors import InvalidRequest, UnsupportedParameter, UpstreamError

Json = dict[str, Any]

DEFAULT_MAX_TOKENS = 4096
_UNSUPPORTED = (
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "seed",
)
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _image_block(part: Json, where: str) -> Json:
    url = (part.get("image_url") or {}).get("url", "")
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";")[0]
        if ";base64" not in header or not data:
            raise InvalidRequest("Image data URLs must be base64", param=where)
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequest("image_url.url must be an http(s) or data: URL", param=where)


def _blocks(content: Any, where: str) -> list[Json]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[Json] = []
    for index, part in enumerate(content):
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            blocks.append(_image_block(part, f"{where}[{index}]"))
        else:
            raise UnsupportedParameter(
                f"Content parts of type '{kind}' cannot be sent to this Anthropic model",
                param=f"{where}[{index}]",
            )
    return blocks


def _tool_use_blocks(message: Json, where: str) -> list[Json]:
    blocks = []
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            raise InvalidRequest(
                "Tool call arguments must be a JSON object",
                param=f"{where}.tool_calls[{index}].function.arguments",
            ) from None
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": arguments,
            }
        )
    return blocks


def _tools(tools: list[Json]) -> list[Json]:
    out = []
    for index, tool in enumerate(tools):
        if tool.get("type") != "function":
            raise UnsupportedParameter("Only function tools are supported", param=f"tools[{index}]")
        function = tool.get("function") or {}
        spec: Json = {
            "name": function.get("name"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            spec["description"] = function["description"]
        out.append(spec)
    return out


def _tool_choice(choice: Any, parallel: bool | None) -> Json | None:
    mapped: Json | None
    if choice is None:
        mapped = {"type": "auto"} if parallel is False else None
    elif choice == "auto":
        mapped = {"type": "auto"}
    elif choice == "none":
        mapped = {"type": "none"}
    elif choice == "required":
        mapped = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        mapped = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    else:
        raise UnsupportedParameter(f"tool_choice {choice!r} is not supported", param="tool_choice")
    if mapped is not None and parallel is False and mapped["type"] != "none":
        mapped["disable_parallel_tool_use"] = True
    return mapped


def to_messages_request(body: Json, upstream_model: str) -> Json:
    """An OpenAI chat body as a Messages API body for ``upstream_model``."""
    for name in _UNSUPPORTED:
        if body.get(name) not in (None, False):
            raise UnsupportedParameter(f"'{name}' has no equivalent in Anthropic's API", param=name)
    response_format = body.get("response_format") or {}
    if response_format.get("type") not in (None, "text"):
        raise UnsupportedParameter(
            "response_format other than 'text' is not supported for Anthropic models",
            param="response_format",
        )
    system: list[str] = []
    turns: list[Json] = []

    def add(role: str, blocks: list[Json]) -> None:
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for index, message in enumerate(body.get("messages") or ()):
        role, where = message.get("role"), f"messages[{index}]"
        if role in ("system", "developer"):
            system.append(_text(message.get("content")))
        elif role == "user":
            add("user", _blocks(message.get("content"), f"{where}.content"))
        elif role == "assistant":
            blocks = _blocks(message.get("content"), f"{where}.content") + _tool_use_blocks(
                message, where
            )
            add("assistant", blocks)
        elif role == "tool":
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": message.get("tool_call_id"),
                        "content": _text(message.get("content")),
                    }
                ],
            )
    out: Json = {
        "model": upstream_model,
        "messages": turns,
        "max_tokens": body.get("max_tokens")
        or body.get("max_completion_tokens")
        or DEFAULT_MAX_TOKENS,
    }
    if system:
        out["system"] = "\n\n".join(s for s in system if s)
    if body.get("temperature") is not None:
        out["temperature"] = min(1.0, float(body["temperature"]))
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("tools"):
        out["tools"] = _tools(body["tools"])
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None:
        out["tool_choice"] = choice
    if body.get("user"):
        out["metadata"] = {"user_id": body["user"]}
    if body.get("stream"):
        out["stream"] = True
    return out


def usage_from(usage: Json) -> Json:
    """Anthropic usage as OpenAI's: cache reads and writes are prompt tokens too."""
    cached = int(usage.get("cache_read_input_tokens") or 0)
    prompt = (
        int(usage.get("input_tokens") or 0)
        + cached
        + int(usage.get("cache_creation_input_tokens") or 0)
    )
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def from_messages_response(answer: Json, public_model: str) -> Json:
    text = "".join(
        b.get("text", "") for b in answer.get("content") or () if b.get("type") == "text"
    )
    calls = [
        {
            "id": b.get("id"),
            "type": "function",
            "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})},
        }
        for b in answer.get("content") or ()
        if b.get("type") == "tool_use"
    ]
    message: Json = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": answer.get("id"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": public_model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": FINISH_REASONS.get(str(answer.get("stop_reason")), "stop"),
            }
        ],
        "usage": usage_from(answer.get("usage") or {}),
    }


class StreamTranslator:
    """Anthropic stream events in, OpenAI ``chat.completion.chunk`` dicts out."""

    def __init__(self, public_model: str, response_id: str | None = None):
        self.public_model = public_model
        self.response_id = response_id
        self.created = int(time.time())
        self._usage: Json = {}
        self._tool_index: dict[int, int] = {}  # content block index → tool call index

    def _chunk(self, delta: Json, finish: str | None = None) -> Json:
        return {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.public_model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def feed(self, event: str, data: Json) -> list[Json]:
        kind = data.get("type", event)
        if kind == "message_start":
            message = data.get("message") or {}
            self.response_id = self.response_id or message.get("id")
            self._usage = dict(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self._tool_index.setdefault(
                    int(data.get("index", 0)), len(self._tool_index)
                )
                call = {
                    "index": index,
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""},
                }
                return [self._chunk({"tool_calls": [call]})]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            return []
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "input_json_delta":
                index = self._tool_index.get(int(data.get("index", 0)), 0)
                fragment = {
                    "index": index,
                    "function": {"arguments": delta.get("partial_json", "")},
                }
                return [self._chunk({"tool_calls": [fragment]})]
            return []  # thinking and signature deltas have no OpenAI equivalent
        if kind == "message_delta":
            self._usage.update(
                {k: v for k, v in (data.get("usage") or {}).items() if v is not None}
            )
            reason = (data.get("delta") or {}).get("stop_reason")
            return [self._chunk({}, FINISH_REASONS.get(str(reason), "stop"))] if reason else []
        if kind == "message_stop":
            final = self._chunk({})
            final["choices"] = []
            final["usage"] = usage_from(self._usage)
            return [final]
        if kind == "error":
            error = data.get("error") or {}
            raise UpstreamError(
                f"Anthropic stream failed: {error.get('type', 'error')}: {error.get('message', '')}"
            )
        return []  # ping and future event types
