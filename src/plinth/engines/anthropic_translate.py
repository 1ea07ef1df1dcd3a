"""OpenAI Chat Completions ⇄ Anthropic Messages API, as pure functions (no I/O).

The engine (:mod:`plinth.engines.anthropic`) moves the bytes; everything about
the two wire formats lives here.

Requests (:func:`to_messages_request`)
    * ``system`` and ``developer`` messages, wherever they stand, are joined in
      order (blank line between) into the top-level ``system`` string.
    * The Messages API wants user and assistant turns to alternate, so
      consecutive turns of the same role are merged into one. ``tool`` messages
      become ``tool_result`` blocks of a user turn; in any user turn the
      ``tool_result`` blocks are put first, as Anthropic requires.
    * ``image_url`` parts become image blocks: ``data:`` URLs (base64, JPEG,
      PNG, GIF or WebP) as a base64 source, http(s) URLs as a URL source.
      ``file`` parts carrying a base64 PDF become document blocks. ``refusal``
      parts of assistant turns are sent as text. Audio, file ids and other
      part types are refused. A message's ``name`` and an image's ``detail``
      have no equivalent and are dropped.
    * Assistant ``tool_calls`` become ``tool_use`` blocks (their arguments
      must be a JSON object); function tools become Anthropic tools
      (``parameters`` → ``input_schema``; ``strict`` is dropped: not enforced).
    * ``tool_choice``: auto → auto, none → none, required → any, a named
      function → tool. ``parallel_tool_calls: false`` → ``disable_parallel_tool_use``.
    * ``max_tokens`` is required upstream: ``max_completion_tokens``, else
      ``max_tokens``, else :data:`DEFAULT_MAX_TOKENS`.
    * ``temperature``: OpenAI accepts 0–2, Anthropic 0–1. Values are *clamped*
      into 0–1 (not rescaled), so 0–1 means the same on both sides and
      anything hotter becomes Anthropic's hottest, 1.
    * ``top_p``, ``stop`` (→ ``stop_sequences``), ``stream`` and ``user``
      (→ ``metadata.user_id``) carry over; ``stream_options``, ``store``,
      ``metadata`` and ``service_tier`` only concern Plinth or OpenAI and are
      ignored.
    * Refused with :class:`~plinth.errors.UnsupportedParameter` naming the
      parameter, never dropped silently: ``logprobs``/``top_logprobs``,
      ``logit_bias``, non-zero ``presence_penalty``/``frequency_penalty``,
      ``seed``, ``n`` > 1, ``response_format`` ``json_schema``, audio output,
      ``prediction``, ``reasoning_effort``, ``web_search_options``.
    * ``response_format`` ``json_object`` is accepted but not enforced: OpenAI
      only honours it when the prompt itself asks for JSON, and that
      instruction reaches Claude unchanged. ``json_schema`` promises a schema
      that nothing here could guarantee, so it is refused.

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

from plinth.errors import (
    EngineError,
    InvalidRequest,
    UnsupportedParameter,
    UpstreamError,
    UpstreamRateLimited,
)

Json = dict[str, Any]

#: The Messages API requires ``max_tokens``; used when the client sets no limit.
DEFAULT_MAX_TOKENS = 4096

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

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

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


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------


def _refuse(param: str, why: str) -> UnsupportedParameter:
    return UnsupportedParameter(
        f"'{param}' is not supported for Anthropic models: {why}", param=param
    )


def _check_unsupported(body: Json) -> None:
    """Raise for every OpenAI parameter whose effect the Messages API cannot give."""
    if body.get("logprobs"):
        raise _refuse("logprobs", "the Messages API returns no log probabilities")
    if body.get("top_logprobs"):
        raise _refuse("top_logprobs", "the Messages API returns no log probabilities")
    if body.get("logit_bias"):
        raise _refuse("logit_bias", "token biases cannot be set")
    for name in ("presence_penalty", "frequency_penalty"):
        if body.get(name):  # 0 is the neutral value and may pass
            raise _refuse(name, "repetition penalties cannot be set")
    if body.get("seed") is not None:
        raise _refuse("seed", "sampling cannot be seeded")
    n = body.get("n")
    if n is not None and n != 1:
        raise _refuse("n", "only one choice (n=1) can be generated per request")
    response_format = body.get("response_format") or {}
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in (None, "text", "json_object"):
        raise _refuse("response_format", f"type '{kind}' cannot be enforced")
    modalities = body.get("modalities") or ()
    if body.get("audio") is not None or any(m != "text" for m in modalities):
        raise _refuse("modalities" if modalities else "audio", "only text output is available")
    for name, why in (
        ("prediction", "predicted outputs are not available"),
        ("reasoning_effort", "extended thinking is not exposed through this gateway"),
        ("web_search_options", "web search is not available"),
    ):
        if body.get(name) is not None:
            raise _refuse(name, why)


def _text_of(content: Any) -> str:
    """The text of a string or of a list of text parts (other parts ignored)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _data_url(url: str, where: str) -> tuple[str, str]:
    """``data:<media type>;base64,<data>`` → (media type, data)."""
    header, comma, data = url[len("data:") :].partition(",")
    media_type, *params = header.split(";")
    if not comma or "base64" not in params or not data:
        raise InvalidRequest("A data: URL must be base64-encoded and not empty", param=where)
    return media_type.strip().lower(), data


def _image_block(part: Json, where: str) -> Json:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    where = f"{where}.image_url.url"
    if not isinstance(url, str) or not url:
        raise InvalidRequest("An image_url part needs a url", param=where)
    if url.startswith("data:"):
        media_type, data = _data_url(url, where)
        if media_type not in _IMAGE_TYPES:
            raise InvalidRequest(
                f"Image type '{media_type}' is not supported; use JPEG, PNG, GIF or WebP",
                param=where,
            )
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequest("An image URL must be an http(s) URL or a base64 data: URL", param=where)


def _document_block(part: Json, where: str) -> Json:
    file = part.get("file")
    data = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data, str) or not data:
        raise _refuse(f"{where}.file", "only files sent inline as base64 PDF (file_data) can go")
    media_type = "application/pdf"
    if data.startswith("data:"):
        media_type, data = _data_url(data, f"{where}.file.file_data")
    if media_type != "application/pdf":
        raise _refuse(f"{where}.file", f"files of type '{media_type}' cannot be sent")
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": data},
    }


def _content_blocks(content: Any, where: str) -> list[Json]:
    """OpenAI message content → Anthropic content blocks (empty text left out)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest("Message content must be a string or a list of parts", param=where)
    blocks: list[Json] = []
    for index, part in enumerate(content):
        here = f"{where}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "refusal":
            if part.get("refusal"):
                blocks.append({"type": "text", "text": part["refusal"]})
        elif kind == "image_url":
            blocks.append(_image_block(part, here))
        elif kind == "file":
            blocks.append(_document_block(part, here))
        else:
            raise _refuse(here, f"content parts of type '{kind}' cannot be sent")
    return blocks


def _tool_use_blocks(calls: Any, where: str) -> list[Json]:
    blocks: list[Json] = []
    for index, call in enumerate(calls or ()):
        here = f"{where}.tool_calls[{index}]"
        if call.get("type", "function") != "function":
            raise _refuse(f"{here}.type", "only function tool calls can be sent")
        function = call.get("function") or {}
        raw = function.get("arguments")
        try:
            arguments = json.loads(raw) if raw else {}
        except (TypeError, ValueError):
            arguments = None
        if not isinstance(arguments, dict):
            raise InvalidRequest(
                "Tool call arguments must be a JSON object", param=f"{here}.function.arguments"
            )
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": arguments,
            }
        )
    return blocks


def _tool_result_block(message: Json, where: str) -> Json:
    call_id = message.get("tool_call_id")
    if not call_id:
        raise InvalidRequest("A tool message needs its tool_call_id", param=f"{where}.tool_call_id")
    return {
        "type": "tool_result",
        "tool_use_id": call_id,
        "content": _text_of(message.get("content")),
    }


def _tools(tools: list[Json]) -> list[Json]:
    out: list[Json] = []
    for index, tool in enumerate(tools):
        if tool.get("type") != "function":
            raise _refuse(f"tools[{index}]", "only function tools can be sent")
        function = tool.get("function") or {}
        spec: Json = {
            "name": function.get("name"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            spec["description"] = function["description"]
        out.append(spec)
    return out


def _tool_choice(choice: Any, parallel: Any, has_tools: bool) -> Json | None:
    if choice is None or choice == "auto":
        mapped: Json | None = {"type": "auto"} if choice == "auto" or parallel is False else None
    elif choice == "none":
        mapped = {"type": "none"}
    elif choice == "required":
        mapped = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if not name:
            raise InvalidRequest(
                "tool_choice must name the function", param="tool_choice.function.name"
            )
        mapped = {"type": "tool", "name": name}
    else:
        raise _refuse("tool_choice", f"the choice {choice!r} has no equivalent")
    if not has_tools:
        if mapped is not None and mapped["type"] in ("any", "tool"):
            raise InvalidRequest("tool_choice requires tools", param="tool_choice")
        return None  # nothing to choose from: leave the field out
    if mapped is not None and parallel is False and mapped["type"] != "none":
        mapped["disable_parallel_tool_use"] = True
    return mapped


class _Turns:
    """Builds the alternating user/assistant list the Messages API wants."""

    def __init__(self) -> None:
        self.turns: list[Json] = []

    def add(self, role: str, blocks: list[Json]) -> None:
        if not blocks:
            return
        if self.turns and self.turns[-1]["role"] == role:
            content: list[Json] = self.turns[-1]["content"]
            content.extend(blocks)
        else:
            content = list(blocks)
            self.turns.append({"role": role, "content": content})
        if role == "user":
            # tool_result blocks must lead their user turn; keep each group's order.
            content.sort(key=lambda block: block.get("type") != "tool_result")


def to_messages_request(body: Json, upstream_model: str) -> Json:
    """An OpenAI chat completion body as a Messages API body for ``upstream_model``.

    Raises :class:`~plinth.errors.UnsupportedParameter` for parameters that
    cannot be expressed and :class:`~plinth.errors.InvalidRequest` for content
    that cannot be translated, each naming the offending parameter.
    """
    _check_unsupported(body)
    system: list[str] = []
    turns = _Turns()
    for index, message in enumerate(body.get("messages") or ()):
        role, where = message.get("role"), f"messages[{index}]"
        content = message.get("content")
        if role in ("system", "developer"):
            text = _text_of(content)
            if text:
                system.append(text)
        elif role == "user":
            turns.add("user", _content_blocks(content, f"{where}.content"))
        elif role == "assistant":
            blocks = _content_blocks(content, f"{where}.content")
            turns.add("assistant", blocks + _tool_use_blocks(message.get("tool_calls"), where))
        elif role == "tool":
            turns.add("user", [_tool_result_block(message, where)])
        else:
            raise InvalidRequest(
                f"Messages with role '{role}' cannot be sent", param=f"{where}.role"
            )
    if not turns.turns:
        raise InvalidRequest("At least one user or assistant message is needed", param="messages")

    out: Json = {
        "model": upstream_model,
        "max_tokens": int(
            body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
        ),
        "messages": turns.turns,
    }
    if system:
        out["system"] = "\n\n".join(system)
    temperature = body.get("temperature")
    if temperature is not None:
        out["temperature"] = min(1.0, max(0.0, float(temperature)))
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    sequences = [stop] if isinstance(stop, str) else list(stop or ())
    sequences = [s for s in sequences if s]
    if sequences:
        out["stop_sequences"] = sequences
    tools = body.get("tools") or []
    if tools:
        out["tools"] = _tools(tools)
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"), bool(tools))
    if choice is not None:
        out["tool_choice"] = choice
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}
    if body.get("stream"):
        out["stream"] = True
    return out


# ---------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------


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
