"""Tool calling on local GGUF models: the model's own format, else a generic one.

A template that shows tools and earlier calls goes through llama.cpp's Jinja
path (``llamacpp_native_tools``); the engine asks llama.cpp at load which
templates do. The llama.cpp build behind xllamacpp ignores ``tools`` for any
other template, so a model whose template has no tool support (the bundled
SmolLM2) would never call one. For those Plinth uses a generic format, as
llama.cpp's former generic handler did: the
tools and the answer format go into a system message, the output is
constrained by a JSON schema (a grammar in llama.cpp), and the JSON is turned
back into OpenAI ``tool_calls``. Earlier calls and tool results are written
into the conversation as text the model can read.

The answer is ``{"tool_calls": [{"name", "arguments"}, ...]}`` or, where the
choice allows it, ``{"response": "..."}``. ``tool_choice`` ``required`` or a
named function leaves only the first form (so whatever the weights, the output
is a valid call); ``parallel_tool_calls: false`` allows one call; ``none``
drops the tools.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from plinth.engines import llamacpp_native_tools
from plinth.engines.llamacpp_native_tools import NativePlan
from plinth.engines.llamacpp_tool_choice import (
    check_history,
    chosen,
    functions_of,
    reject_response_format,
)

Json = dict[str, Any]
_TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls")


@dataclass(frozen=True)
class ToolPlan:
    """What was asked of the model, to read its answer back."""

    names: frozenset[str]


def _call_schema(function: Json) -> Json:
    parameters = function.get("parameters") or {"type": "object"}
    return {
        "type": "object",
        "properties": {"name": {"const": function["name"]}, "arguments": parameters},
        "required": ["name", "arguments"],
    }


def answer_schema(functions: list[Json], required: bool, parallel: bool) -> Json:
    calls: Json = {"type": "array", "items": {"anyOf": [_call_schema(f) for f in functions]}}
    calls["minItems"] = 1
    if not parallel:
        calls["maxItems"] = 1
    call_form = {"type": "object", "properties": {"tool_calls": calls}, "required": ["tool_calls"]}
    if required:
        return call_form
    reply = {"type": "object", "properties": {"response": {"type": "string"}}}
    reply["required"] = ["response"]
    return {"anyOf": [call_form, reply]}


def _instructions(functions: list[Json], required: bool, parallel: bool) -> str:
    listing = "\n".join(json.dumps(f, ensure_ascii=False) for f in functions)
    many = "one or more calls" if parallel else "exactly one call"
    lines = [
        "You can call these functions (JSON descriptions):",
        listing,
        f'To call functions, answer only with JSON: {{"tool_calls": [{many} as '
        '{"name": "<function name>", "arguments": {<arguments>}}]}.',
    ]
    if not required:
        lines.append('To answer without a call, answer only with JSON: {"response": "<answer>"}.')
    return "\n".join(lines)


def _as_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def rewrite_history(messages: list[Json]) -> list[Json]:
    """Earlier calls and their results as plain turns any chat template renders."""
    out: list[Json] = []
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            calls = [
                {
                    "name": call.get("function", {}).get("name"),
                    "arguments": _loads(call.get("function", {}).get("arguments")),
                }
                for call in message["tool_calls"]
            ]
            out.append({"role": "assistant", "content": json.dumps({"tool_calls": calls})})
        elif role == "tool":
            result = {"tool_call_id": message.get("tool_call_id"), "result": message.get("content")}
            out.append({"role": "user", "content": "Tool result: " + json.dumps(result)})
        else:
            out.append({k: v for k, v in message.items() if k not in ("tool_calls", "name")})
    return out


def _loads(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def prepare(body: Json, *, native: bool = False) -> tuple[Json, ToolPlan | NativePlan | None]:
    """The body llama.cpp gets, and the plan to read its answer (None: no tools asked).

    ``native``: the model's template renders tools (llama.cpp's verdict at load).
    """
    if native:
        return llamacpp_native_tools.prepare(body)
    check_history(body["messages"])
    tools = body.get("tools")
    has_history = any(m.get("role") == "tool" or m.get("tool_calls") for m in body["messages"])
    if not tools and not has_history:
        return body, None
    out = {k: v for k, v in body.items() if k not in _TOOL_FIELDS}
    out["messages"] = rewrite_history(body["messages"])
    if not tools or body.get("tool_choice") == "none":
        return out, None
    reject_response_format(body)
    functions, required = chosen(functions_of(tools), body.get("tool_choice"))
    parallel = body.get("parallel_tool_calls") is not False
    system = {"role": "system", "content": _instructions(functions, required, parallel)}
    out["messages"] = [system, *out["messages"]]
    schema = answer_schema(functions, required, parallel)
    out["response_format"] = {"type": "json_schema", "json_schema": {"schema": schema}}
    return out, ToolPlan(frozenset(f["name"] for f in functions))


def parse_answer(text: str, plan: ToolPlan) -> tuple[str | None, list[Json]]:
    """(content, tool_calls) from the model's JSON; text that is not the format stays content."""
    try:
        answer = json.loads(text)
    except ValueError:  # cut short by max_tokens: what came is the content
        return text, []
    if not isinstance(answer, dict):
        return text, []
    calls = []
    for raw in answer.get("tool_calls") or []:
        if not isinstance(raw, dict) or raw.get("name") not in plan.names:
            continue
        calls.append(
            {
                "id": "call_" + secrets.token_hex(12),
                "type": "function",
                "function": {
                    "name": raw["name"],
                    "arguments": json.dumps(raw.get("arguments", {}), ensure_ascii=False),
                },
            }
        )
    if calls:
        return None, calls
    response = answer.get("response")
    return (response if isinstance(response, str) else text), []


def finish_result(result: Json, plan: ToolPlan | NativePlan) -> Json:
    """A whole chat completion with the model's JSON read back as content or tool calls."""
    if isinstance(plan, NativePlan):
        return llamacpp_native_tools.finish_result(result, plan)
    for choice in result.get("choices") or ():
        message = choice.get("message") or {}
        content, calls = parse_answer(message.get("content") or "", plan)
        message["content"] = content
        if calls:
            message["tool_calls"] = calls
            choice["finish_reason"] = "tool_calls"
    return result


def finish_stream(chunks: AsyncIterator[Json], plan: ToolPlan | NativePlan) -> AsyncIterator[Json]:
    """The stream with tool calls as OpenAI deltas."""
    if isinstance(plan, NativePlan):
        return llamacpp_native_tools.finish_stream(chunks, plan)
    return _generic_stream(chunks, plan)


async def _generic_stream(chunks: AsyncIterator[Json], plan: ToolPlan) -> AsyncIterator[Json]:
    """The stream with the model's JSON held back and sent as OpenAI deltas at its end.

    Chunks keep flowing (without their text) so per-token timings still reach
    the accounting; the answer is parsed once the finish reason arrives.
    """
    text: list[str] = []
    async for chunk in chunks:
        choices = chunk.get("choices") or []
        if not choices:
            yield chunk
            continue
        delta = choices[0].get("delta") or {}
        if delta.get("content"):
            text.append(delta.pop("content"))
        reason = choices[0].get("finish_reason")
        if reason is None:
            yield chunk
            continue
        content, calls = parse_answer("".join(text), plan)
        if content:
            yield _with_delta(chunk, {"content": content}, None)
        if calls:
            deltas = [{"index": i, **call} for i, call in enumerate(calls)]
            yield _with_delta(chunk, {"tool_calls": deltas}, None)
            reason = "tool_calls"
        yield _with_delta(chunk, {}, reason) | {
            k: v for k, v in chunk.items() if k not in ("choices",)
        }


def _with_delta(chunk: Json, delta: Json, reason: str | None) -> Json:
    shell = {k: v for k, v in chunk.items() if k not in ("choices", "usage", "timings")}
    return shell | {"choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
