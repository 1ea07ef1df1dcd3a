"""Ollama requests → OpenAI chat/completion/embedding requests, and answers back.

Requests
    * ``options``: ``temperature``, ``top_p``, ``seed``, ``stop``,
      ``presence_penalty`` and ``frequency_penalty`` carry over;
      ``num_predict`` > 0 becomes ``max_tokens`` (-1, -2: no limit). Options
      about how a model is loaded and run (:data:`RUNTIME_OPTIONS`, e.g.
      ``num_ctx``, ``num_gpu``) are ignored: Plinth configures its
      deployments itself. Other sampling options (``top_k``,
      ``repeat_penalty``, ``mirostat`` …) are refused, naming the option:
      the engines behind Plinth's OpenAI interface take none of them.
    * ``format``: ``"json"`` → ``response_format`` ``json_object``; a JSON
      schema → ``json_schema``.
    * ``images`` (base64, as Ollama sends them) become ``image_url`` parts
      with a ``data:`` URL; the media type is read from the image's first bytes.
    * Tool calls carry no ids in Ollama: an assistant's calls get ids here,
      and each following ``tool`` message answers the next call (or the one
      its ``tool_name`` names).
    * ``think`` (other than false) and ``logprobs`` are refused.

Answers
    ``done_reason`` is Ollama's ``stop`` or ``length``; ``prompt_eval_count``
    and ``eval_count`` are the ledger's token counts; durations are
    nanoseconds measured by Plinth (``load_duration`` is 0: models are
    loaded at start).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from plinth.errors import InvalidRequest, UnsupportedParameter
from plinth.metering.accounting import Accounting
from plinth.protocol.ollama import GenerateRequest, GenerationOptions, OllamaMessage, Options

Json = dict[str, Any]

SAMPLING_OPTIONS = ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty")
RUNTIME_OPTIONS = frozenset(
    {
        "numa",
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mmap",
        "use_mlock",
        "embedding_only",
        "num_thread",
        "num_keep",
    }
)
_IMAGE_MAGIC = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
)


def _refuse(param: str, why: str) -> UnsupportedParameter:
    return UnsupportedParameter(f"'{param}' is not supported: {why}", param=param)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def sampling(options: Options | None) -> Json:
    """Ollama ``options`` as OpenAI sampling fields."""
    out: Json = {}
    for name, value in (options or {}).items():
        if value is None or name in RUNTIME_OPTIONS:
            continue
        if name in SAMPLING_OPTIONS:
            out[name] = value
        elif name == "stop":
            out["stop"] = [value] if isinstance(value, str) else value
        elif name == "num_predict":
            if not isinstance(value, int):
                raise InvalidRequest("num_predict must be an integer", param="options.num_predict")
            if value > 0:
                out["max_tokens"] = value
        else:
            raise _refuse(f"options.{name}", "Plinth's engines take no such sampling option")
    return out


def generation_fields(body: GenerationOptions) -> Json:
    """The fields every chat or generate request shares, in OpenAI's names."""
    if body.think not in (None, False):
        raise _refuse("think", "thinking output is not exposed through this gateway")
    if body.logprobs or body.top_logprobs:
        raise _refuse("logprobs", "log probabilities are not available through the Ollama API")
    fields = sampling(body.options)
    if body.format == "json":
        fields["response_format"] = {"type": "json_object"}
    elif isinstance(body.format, dict):
        schema = {"name": "response", "schema": body.format}
        fields["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif body.format not in (None, ""):
        raise InvalidRequest("format must be 'json' or a JSON schema", param="format")
    if body.streams:
        fields["stream"] = True
        fields["stream_options"] = {"include_usage": True}  # eval_count on the last line
    return fields


def image_part(data: str, where: str) -> Json:
    try:
        head = base64.b64decode(data[:64] + "=" * (-len(data[:64]) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("Images must be base64-encoded", param=where) from None
    media_type = next((kind for magic, kind in _IMAGE_MAGIC if head.startswith(magic)), None)
    if media_type is None:
        raise InvalidRequest("Images must be PNG, JPEG, GIF or WebP", param=where)
    return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}


def _user_content(text: str, images: list[str] | None, where: str) -> str | list[Json]:
    if not images:
        return text
    parts = [image_part(image, f"{where}.images[{i}]") for i, image in enumerate(images)]
    return [{"type": "text", "text": text}, *parts] if text else parts


def _calls(calls: list[Json], index: int) -> list[Json]:
    out: list[Json] = []
    for number, call in enumerate(calls):
        function = call.get("function") or {}
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments if arguments is not None else {})
        call_id = call.get("id") or f"call_{index}_{number}"
        out.append(
            {
                "id": call_id,
                "type": "function",
                "function": {"name": function.get("name"), "arguments": arguments},
            }
        )
    return out


def chat_messages(messages: list[OllamaMessage]) -> list[Json]:
    out: list[Json] = []
    unanswered: list[Json] = []  # the last assistant's calls that no tool message answered yet
    for index, message in enumerate(messages):
        where, text = f"messages[{index}]", message.content or ""
        if message.role == "assistant":
            entry: Json = {"role": "assistant", "content": text}
            if message.tool_calls:
                unanswered = _calls(message.tool_calls, index)
                entry["tool_calls"] = unanswered
                unanswered = list(unanswered)
            out.append(entry)
        elif message.role == "tool":
            named = [c for c in unanswered if c["function"]["name"] == message.tool_name]
            candidates = named or unanswered
            if not candidates:
                raise InvalidRequest(
                    "A tool message must follow an assistant message that called a tool",
                    param=f"{where}.role",
                )
            call = candidates[0]
            unanswered.remove(call)
            out.append({"role": "tool", "tool_call_id": call["id"], "content": text})
        else:
            content = _user_content(text, message.images, where)
            if message.role == "system" and message.images:
                raise InvalidRequest("System messages cannot carry images", param=where)
            out.append({"role": message.role, "content": content})
    return out


def function_tools(tools: list[Json]) -> list[Json]:
    for index, tool in enumerate(tools):
        if tool.get("type", "function") != "function" or not tool.get("function"):
            raise _refuse(f"tools[{index}]", "only function tools can be used")
    return [{"type": "function", "function": tool["function"]} for tool in tools]


def generate_chat_messages(body: GenerateRequest) -> list[Json]:
    """``/api/generate``'s prompt as a chat turn: the model's own template applies."""
    messages: list[Json] = []
    if body.system:
        messages.append({"role": "system", "content": body.system})
    content = _user_content(body.prompt or "", body.images, "prompt")
    messages.append({"role": "user", "content": content})
    return messages


def refuse_generate_extras(body: GenerateRequest) -> None:
    if body.suffix:
        raise _refuse("suffix", "fill-in-the-middle is not available")
    if body.template:
        raise _refuse("template", "each model's own chat template applies")
    if body.context:
        raise _refuse("context", "send the conversation to /api/chat instead")
    if any(v is not None for v in (body.width, body.height, body.steps)):
        raise _refuse("width", "image generation is not available")
    if body.raw and body.images:
        raise _refuse("images", "raw prompts take no images")


# --- answers ---------------------------------------------------------------------------


def done_reason(finish_reason: Any) -> str:
    return "length" if finish_reason == "length" else "stop"


def stats(acct: Accounting) -> Json:
    """Ollama's counts and nanosecond durations for a finished request."""
    total = int(acct.latency_s() * 1e9)
    prompt = min(total, int((acct.ttft_s or 0.0) * 1e9))
    return {
        "total_duration": total,
        "load_duration": 0,
        "prompt_eval_count": acct.prompt_tokens,
        "prompt_eval_duration": prompt,
        "eval_count": acct.completion_tokens,
        "eval_duration": total - prompt,
    }


def ollama_tool_calls(calls: list[Json]) -> list[Json]:
    out: list[Json] = []
    for call in calls:
        function = call.get("function") or {}
        raw = function.get("arguments") or "{}"
        try:
            arguments = json.loads(raw)
        except ValueError:
            arguments = {"_raw_arguments": raw}  # broken JSON from the model: keep it
        out.append({"function": {"name": function.get("name"), "arguments": arguments}})
    return out


class ToolCallBuffer:
    """A stream's tool-call fragments, joined: Ollama sends each call whole."""

    def __init__(self) -> None:
        self.calls: dict[int, Json] = {}

    def feed(self, fragments: list[Json]) -> None:
        for fragment in fragments:
            index = int(fragment.get("index") or 0)
            call = self.calls.setdefault(index, {"function": {"name": None, "arguments": ""}})
            function = fragment.get("function") or {}
            if function.get("name"):
                call["function"]["name"] = function["name"]
            call["function"]["arguments"] += function.get("arguments") or ""

    def drain(self) -> list[Json]:
        calls = [self.calls[i] for i in sorted(self.calls)]
        self.calls = {}
        return ollama_tool_calls(calls)
