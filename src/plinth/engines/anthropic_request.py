"""OpenAI Chat Completions → Anthropic Messages API requests, as pure functions (no I/O).

The engine (:mod:`plinth.engines.anthropic`) moves the bytes; answers are
translated back in :mod:`plinth.engines.anthropic_answer`.

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
"""

from __future__ import annotations

import json
from typing import Any

from plinth.engines.base import Json
from plinth.errors import (
    InvalidRequest,
    UnsupportedParameter,
)

#: The Messages API requires ``max_tokens``; used when the client sets no limit.
DEFAULT_MAX_TOKENS = 4096

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


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
