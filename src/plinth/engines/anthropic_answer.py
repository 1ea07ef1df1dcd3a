"""Anthropic Messages API answers → OpenAI Chat Completions, as pure functions (no I/O).

Requests go the other way in :mod:`plinth.engines.anthropic_request`.

Answers (:func:`from_messages_response`, :class:`StreamTranslator`)
    Text blocks join into ``content``; ``tool_use`` blocks become
    ``tool_calls``; stop reasons map to finish reasons (:data:`FINISH_REASONS`);
    usage counts cache reads and cache writes as prompt tokens, cache reads
    also as ``prompt_tokens_details.cached_tokens``. ``thinking`` and
    ``redacted_thinking`` blocks (and their stream deltas), citations and
    server-tool blocks have no Chat Completions field and are left out; Plinth
    never asks for them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from plinth.engines.base import Json
from plinth.errors import (
    EngineError,
    UpstreamError,
    UpstreamRateLimited,
)

#: Anthropic ``stop_reason`` → OpenAI ``finish_reason``; anything else is "stop".
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

#: Anthropic error type for an HTTP status, when the body does not say.
_ERROR_TYPE_BY_STATUS: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def finish_reason(stop_reason: Any) -> str:
    """An Anthropic ``stop_reason`` as an OpenAI ``finish_reason``."""
    return FINISH_REASONS.get(str(stop_reason), "stop")


def openai_usage(usage: Mapping[str, Any]) -> Json:
    """Anthropic usage as OpenAI's; cache reads and writes count as prompt tokens."""
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + cache_read + cache_write
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
    }


def _arguments(value: Any) -> str:
    return json.dumps(value if value is not None else {}, ensure_ascii=False, separators=(",", ":"))


def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def from_messages_response(resp: Json, public_model: str) -> Json:
    """A Messages API answer as an OpenAI ``chat.completion`` for ``public_model``."""
    blocks = [b for b in resp.get("content") or () if isinstance(b, dict)]
    text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
    calls = [
        {
            "id": b.get("id"),
            "type": "function",
            "function": {"name": b.get("name"), "arguments": _arguments(b.get("input"))},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    message: Json = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": resp.get("id") or _new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": public_model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(resp.get("stop_reason")),
            }
        ],
        "usage": openai_usage(resp.get("usage") or {}),
    }


def error_from_anthropic(status: int, body: Json | None) -> tuple[str, str]:
    """``(error type, message)`` of an Anthropic error answer.

    Reads ``{"type": "error", "error": {"type": ..., "message": ...}}``; when
    the body lacks either, the type follows from the HTTP status and the
    message says what little is known.
    """
    error = body.get("error") if isinstance(body, dict) else None
    error_type: Any = None
    message: Any = None
    if isinstance(error, dict):
        error_type, message = error.get("type"), error.get("message")
    elif isinstance(error, str):
        message = error
    elif isinstance(body, dict):
        message = body.get("message")
    if not isinstance(error_type, str) or not error_type:
        error_type = _ERROR_TYPE_BY_STATUS.get(status) or (
            "api_error" if status >= 500 else "invalid_request_error"
        )
    if not isinstance(message, str) or not message:
        message = f"Anthropic answered HTTP {status} without details"
    return error_type, message


def stream_error(error: Any) -> EngineError:
    """The exception for an ``error`` event that arrives inside a stream.

    The HTTP status was 200 by then, so these are upstream failures (usually
    ``overloaded_error`` or ``api_error``): retryable while nothing has reached
    the client, and rate limits say so.
    """
    error = error if isinstance(error, dict) else {}
    error_type = str(error.get("type") or "error")
    message = f"Anthropic stream failed ({error_type}): {error.get('message') or 'no details'}"
    if error_type == "rate_limit_error":
        return UpstreamRateLimited(message)
    return UpstreamError(message, code="upstream_error")


class StreamTranslator:
    """Anthropic stream events in, OpenAI ``chat.completion.chunk`` dicts out.

    Feed each event in order; every chunk shares one id, ``created`` and
    model. The last chunk (at ``message_stop``) has ``choices: []`` and the
    usage, as OpenAI sends it with ``stream_options.include_usage``.
    """

    def __init__(self, public_model: str, response_id: str | None = None):
        self.public_model = public_model
        self.response_id = response_id
        self.created = int(time.time())
        self._usage: Json = {}
        self._tool_calls: dict[int, int] = {}  # content block index → tool call index
        self._started = False
        self._finished = False

    def _chunk(self, delta: Json, finish: str | None = None) -> Json:
        if self.response_id is None:
            self.response_id = _new_id()
        return {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.public_model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def _take_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    def _opening(self) -> list[Json]:
        """The role chunk, unless it went out already."""
        if self._started:
            return []
        self._started = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def feed(self, event: str, data: Json) -> list[Json]:
        """The chunks for one SSE event (``event`` name, parsed ``data``)."""
        kind = data.get("type") or event
        if kind == "message_start":
            message = data.get("message") or {}
            if self.response_id is None and message.get("id"):
                self.response_id = str(message["id"])
            self._take_usage(message.get("usage"))
            return self._opening()
        if kind == "content_block_start":
            return self._opening() + self._block_start(data)
        if kind == "content_block_delta":
            return self._opening() + self._block_delta(data)
        if kind == "message_delta":
            self._take_usage(data.get("usage"))
            reason = (data.get("delta") or {}).get("stop_reason")
            if reason is None or self._finished:
                return []
            self._finished = True
            return [*self._opening(), self._chunk({}, finish_reason(reason))]
        if kind == "message_stop":
            out = self._opening()
            if not self._finished:  # a stream without a stop reason still ends cleanly
                self._finished = True
                out.append(self._chunk({}, "stop"))
            final = self._chunk({})
            final["choices"] = []
            final["usage"] = openai_usage(self._usage)
            return [*out, final]
        if kind == "error":
            raise stream_error(data.get("error"))
        return []  # ping, content_block_stop and event types added later

    def _block_start(self, data: Json) -> list[Json]:
        block = data.get("content_block") or {}
        if block.get("type") == "text":
            return [self._chunk({"content": block["text"]})] if block.get("text") else []
        if block.get("type") != "tool_use":
            return []  # thinking, redacted thinking, server tools: no OpenAI field
        position = int(data.get("index", 0))
        index = self._tool_calls.setdefault(position, len(self._tool_calls))
        call = {
            "index": index,
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, data: Json) -> list[Json]:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text") or ""
            return [self._chunk({"content": text})] if text else []
        if kind == "input_json_delta":
            fragment = delta.get("partial_json") or ""
            index = self._tool_calls.get(int(data.get("index", 0)))
            if not fragment or index is None:
                return []
            call = {"index": index, "function": {"arguments": fragment}}
            return [self._chunk({"tool_calls": [call]})]
        return []  # thinking, signature and citation deltas: no OpenAI field
