"""Tool calling through the model's own chat template (llama.cpp's Jinja path).

For a GGUF whose template shows tools and earlier calls (Hermes/Qwen
``<tool_call>``, Mistral ``[TOOL_CALLS]``, Llama 3.x JSON, …), llama.cpp
renders ``tools`` and the history with that template, works out the model's
call syntax from it, constrains the output with a grammar built from the
tools' schemas, and parses the answer into OpenAI ``tool_calls`` — streamed as
OpenAI deltas. Plinth does not parse any model format itself; it checks the
request, maps what llama.cpp lacks, and fixes up the OpenAI shape:

- a named ``tool_choice`` (llama.cpp takes only strings) becomes ``required``
  over that one tool, so the grammar admits only its calls;
- ``parallel_tool_calls`` and ``tool_choice`` ``auto``/``none``/``required``
  pass through; under ``required`` llama.cpp's grammar admits text before the
  first call and no end before one, so only ``max_tokens`` can cut it short;
- ``parallel_tool_calls: false`` keeps the first call: this llama.cpp build
  does not limit a template's per-call markers to one call, and a model may
  go on to a second call until ``max_tokens``; the first one is complete
  once a second begins, so the answer then ends with ``tool_calls``;
- an answer with calls has ``content`` null and ``finish_reason``
  ``tool_calls`` when the model stopped by itself, as OpenAI answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from plinth.engines.llamacpp_tool_choice import (
    check_history,
    chosen,
    functions_of,
    reject_response_format,
)
from plinth.errors import InvalidRequest

Json = dict[str, Any]
_CHOICE_FIELDS = ("tool_choice", "parallel_tool_calls")


@dataclass(frozen=True)
class NativePlan:
    """Tools went to llama.cpp in the model's own format."""

    parallel: bool  # False: only the first call is kept


def prepare(body: Json) -> tuple[Json, NativePlan | None]:
    """The body llama.cpp gets, and the plan to finish its answer (None: no tools asked)."""
    check_history(body["messages"])
    tools = body.get("tools")
    if not tools:
        return {k: v for k, v in body.items() if k not in _CHOICE_FIELDS}, None
    functions = functions_of(tools)
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise InvalidRequest(
            "parallel_tool_calls must be true or false", param="parallel_tool_calls"
        )
    choice = body.get("tool_choice")
    if choice == "none":
        # The tools stay in the prompt (the model knows them), no call is parsed.
        return body, None
    reject_response_format(body)
    allowed, required = chosen(functions, choice)
    out = dict(body)
    if isinstance(choice, dict):
        out["tools"] = [t for t in tools if t["function"]["name"] == allowed[0]["name"]]
    out["tool_choice"] = "required" if required else "auto"
    return out, NativePlan(parallel=parallel is not False)


def finish_result(result: Json, plan: NativePlan) -> Json:
    for choice in result.get("choices") or ():
        message = choice.get("message") or {}
        calls = message.get("tool_calls")
        if not calls:
            continue
        if not message.get("content"):
            message["content"] = None
        if not plan.parallel and len(calls) > 1:
            message["tool_calls"] = calls[:1]
            choice["finish_reason"] = "tool_calls"
        if choice.get("finish_reason") == "stop":
            choice["finish_reason"] = "tool_calls"
    return result


async def finish_stream(chunks: AsyncIterator[Json], plan: NativePlan) -> AsyncIterator[Json]:
    """llama.cpp's deltas as they come, less calls past the first when not parallel;
    the last one says ``tool_calls`` if calls were sent."""
    called = dropped = False
    async for chunk in chunks:
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            deltas = delta.get("tool_calls")
            if deltas:
                called = True
                if not plan.parallel:
                    kept = [d for d in deltas if d.get("index", 0) == 0]
                    dropped = dropped or len(kept) < len(deltas)
                    if kept:
                        delta["tool_calls"] = kept
                    else:
                        del delta["tool_calls"]
            reason = choice.get("finish_reason")
            if called and (reason == "stop" or (reason == "length" and dropped)):
                choice["finish_reason"] = "tool_calls"
        yield chunk
