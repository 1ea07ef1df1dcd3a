"""Anthropic Messages requests → OpenAI chat requests, and chat answers → Messages.

The inbound mirror of :mod:`plinth.engines.anthropic_request` (which goes the
other way, towards Anthropic upstreams). Whatever model serves the request,
the gateway sees an ordinary chat completion, so privacy screening, budgets,
routing and the ledger are exactly those of ``/v1/chat/completions``.

Requests (:func:`to_chat_body`)
    * ``system`` (a string or text blocks) becomes the first, system message.
    * User ``text`` and ``image`` blocks become content parts (a base64 image
      as a ``data:`` URL, a URL image as its URL); base64 PDF ``document``
      blocks become ``file`` parts. ``tool_result`` blocks become ``tool``
      messages placed before the rest of their turn, as OpenAI orders them;
      an ``is_error`` result says so in its text.
    * Assistant ``text`` blocks join into ``content``; ``tool_use`` blocks
      become ``tool_calls`` (``input`` as JSON ``arguments``); ``thinking``
      blocks from earlier turns are dropped (no chat field takes them).
    * Custom tools become function tools (``input_schema`` → ``parameters``);
      Anthropic's server tools (web search, code execution …) are refused.
      ``tool_choice``: auto → auto, any → required, tool → the named function,
      none → none; ``disable_parallel_tool_use`` → ``parallel_tool_calls: false``.
    * ``stop_sequences`` → ``stop``; ``metadata.user_id`` → ``user``.
    * Refused, naming the parameter: ``top_k`` and extended ``thinking``
      (chat engines take neither), other block types.
    * ``cache_control`` marks are accepted and ignored: they tune Anthropic's
      prompt cache, not the answer.

Answers (:func:`to_message`)
    Content becomes a text block, tool calls ``tool_use`` blocks; finish
    reasons map to stop reasons (:data:`STOP_REASONS`). OpenAI does not say
    which stop sequence ended a turn, so ``stop_sequence`` is always null and
    such a turn ends with ``end_turn``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from plinth.errors import InvalidRequest, UnsupportedParameter
from plinth.protocol.anthropic import MessagesBase, MessagesRequest

Json = dict[str, Any]

#: OpenAI ``finish_reason`` → Anthropic ``stop_reason``.
STOP_REASONS: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def message_id(request_id: str) -> str:
    """A message's id: the request's, in Anthropic's form."""
    return "msg_" + request_id.removeprefix("req_")


def stop_reason(finish_reason: Any) -> str:
    return STOP_REASONS.get(str(finish_reason), "end_turn")


def _refuse(param: str, why: str) -> UnsupportedParameter:
    return UnsupportedParameter(f"'{param}' is not supported: {why}", param=param)


def _blocks(content: str | list[Json], where: str) -> list[Json]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    for index, block in enumerate(content):
        if not isinstance(block.get("type"), str):
            raise InvalidRequest("A content block needs a type", param=f"{where}[{index}].type")
    return content


def _text(content: Any, where: str) -> str:
    """The text of a string or of text blocks (``system``, tool results)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for index, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text":
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise _refuse(f"{where}[{index}]", f"only text blocks can go here, not '{kind}'")
        parts.append(str(block.get("text") or ""))
    return "\n".join(parts) if len(parts) > 1 else "".join(parts)


def _source_part(block: Json, where: str) -> Json:
    """An ``image`` or ``document`` block as an OpenAI content part."""
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest(f"An {block['type']} block needs a source", param=f"{where}.source")
    kind = source.get("type")
    if block["type"] == "image":
        if kind == "base64":
            url = f"data:{source.get('media_type')};base64,{source.get('data')}"
            return {"type": "image_url", "image_url": {"url": url}}
        if kind == "url" and isinstance(source.get("url"), str):
            return {"type": "image_url", "image_url": {"url": source["url"]}}
    elif kind == "base64" and source.get("media_type") == "application/pdf":
        data_url = f"data:application/pdf;base64,{source.get('data')}"
        return {"type": "file", "file": {"file_data": data_url}}
    raise _refuse(f"{where}.source", f"{block['type']} sources of type '{kind}' cannot be read")


def _tool_message(block: Json, where: str) -> Json:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest("A tool_result needs its tool_use_id", param=f"{where}.tool_use_id")
    text = _text(block.get("content"), f"{where}.content")
    if block.get("is_error"):
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _user_messages(content: str | list[Json], where: str) -> list[Json]:
    """One user turn → its tool messages first, then the user message (if any parts)."""
    tools: list[Json] = []
    parts: list[Json] = []
    for index, block in enumerate(_blocks(content, where)):
        here, kind = f"{where}[{index}]", block["type"]
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind in ("image", "document"):
            parts.append(_source_part(block, here))
        elif kind == "tool_result":
            tools.append(_tool_message(block, here))
        else:
            raise _refuse(here, f"user content blocks of type '{kind}' cannot be sent")
    if not parts:
        return tools
    if all(p["type"] == "text" for p in parts):
        user: Json = {"role": "user", "content": "\n".join(p["text"] for p in parts)}
    else:
        user = {"role": "user", "content": parts}
    return [*tools, user]


def _assistant_message(content: str | list[Json], where: str) -> Json:
    texts: list[str] = []
    calls: list[Json] = []
    for index, block in enumerate(_blocks(content, where)):
        here, kind = f"{where}[{index}]", block["type"]
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            arguments = block.get("input")
            if not isinstance(arguments, dict):
                raise InvalidRequest("tool_use input must be an object", param=f"{here}.input")
            function = {"name": block.get("name"), "arguments": json.dumps(arguments)}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
        elif kind not in ("thinking", "redacted_thinking"):
            raise _refuse(here, f"assistant content blocks of type '{kind}' cannot be sent")
    message: Json = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def chat_messages(body: MessagesBase) -> list[Json]:
    """The conversation (system first) as OpenAI chat messages."""
    messages: list[Json] = []
    system = _text(body.system, "system")
    if system:
        messages.append({"role": "system", "content": system})
    for index, message in enumerate(body.messages):
        where = f"messages[{index}].content"
        if message.role == "user":
            messages.extend(_user_messages(message.content, where))
        else:
            messages.append(_assistant_message(message.content, where))
    return messages


def _function_tools(tools: list[Json]) -> list[Json]:
    out: list[Json] = []
    for index, tool in enumerate(tools):
        if tool.get("type") not in (None, "custom"):
            raise _refuse(f"tools[{index}]", f"server tools ('{tool['type']}') are not available")
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise InvalidRequest("A tool needs a name", param=f"tools[{index}].name")
        function: Json = {
            "name": tool["name"],
            "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
        }
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Json) -> tuple[str | Json, bool]:
    """Anthropic ``tool_choice`` → (OpenAI ``tool_choice``, parallel calls allowed)."""
    kind = choice.get("type")
    parallel = not choice.get("disable_parallel_tool_use", False)
    if kind in ("auto", "none"):
        return str(kind), parallel
    if kind == "any":
        return "required", parallel
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("tool_choice must name the tool", param="tool_choice.name")
        return {"type": "function", "function": {"name": name}}, parallel
    raise InvalidRequest(f"Unknown tool_choice type {kind!r}", param="tool_choice.type")


def _refuse_unavailable(body: MessagesRequest) -> None:
    if body.top_k is not None:
        raise _refuse("top_k", "chat engines here take temperature and top_p only")
    if body.thinking is not None and body.thinking.type == "enabled":
        raise _refuse("thinking", "extended thinking is not exposed through this gateway")


def to_chat_body(body: MessagesRequest) -> Json:
    """A Messages request as the OpenAI chat completion body the gateway runs."""
    _refuse_unavailable(body)
    chat: Json = {
        "model": body.model,
        "messages": chat_messages(body),
        "max_tokens": body.max_tokens,
    }
    if body.temperature is not None:
        chat["temperature"] = body.temperature
    if body.top_p is not None:
        chat["top_p"] = body.top_p
    if body.stop_sequences:
        chat["stop"] = body.stop_sequences
    if body.tools:
        chat["tools"] = _function_tools(body.tools)
    if body.tool_choice is not None:
        if not body.tools and body.tool_choice.get("type") in ("any", "tool"):
            raise InvalidRequest("tool_choice requires tools", param="tool_choice")
        if body.tools:
            chat["tool_choice"], parallel = _tool_choice(body.tool_choice)
            if not parallel:
                chat["parallel_tool_calls"] = False
    if body.metadata is not None and body.metadata.user_id:
        chat["user"] = body.metadata.user_id
    if body.stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # for message_delta's usage
    return chat


def tool_input(arguments: Any) -> Json:
    """A tool call's JSON arguments as a ``tool_use`` input object."""
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except ValueError:
        value = None
    # A model that wrote broken JSON: keep what it wrote rather than lose it.
    return value if isinstance(value, dict) else {"_raw_arguments": str(arguments)}


def anthropic_usage(usage: Json | None) -> Json:
    usage = usage or {}
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return {
        "input_tokens": int(usage.get("prompt_tokens") or 0) - cached,
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def to_message(result: Json, message_id: str, model: str) -> Json:
    """A finished chat completion as an Anthropic ``message``."""
    choice = (result.get("choices") or [{}])[0]
    answer = choice.get("message") or {}
    content: list[Json] = []
    if answer.get("content"):
        content.append({"type": "text", "text": answer["content"]})
    for call in answer.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": tool_input(function.get("arguments")),
            }
        )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": anthropic_usage(result.get("usage")),
    }
