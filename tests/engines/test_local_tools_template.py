"""Tool calling through a GGUF's own tool-aware chat template (llama.cpp's Jinja path).

Two templates in two families' syntaxes (``tooltemplates``): the engine must
see that llama.cpp can render tools with them, send the tools through them,
and hand back llama.cpp's parse of the model's own syntax as OpenAI calls.
The bundled SmolLM2's template has no tools and keeps the generic format.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.errors import InvalidRequest
from tooltemplates import FORMATS, ToolFormat, tool_gguf

pytestmark = pytest.mark.anyio

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 20}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}},
            "required": ["zone"],
        },
    },
}
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", params=FORMATS, ids=lambda f: f.name)
async def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[LlamaCppEngine, ToolFormat]]:
    tool_format: ToolFormat = request.param
    path = tool_gguf(tmp_path_factory.mktemp(tool_format.name), tool_format)
    engine = LlamaCppEngine(tool_format.name, "chat", path, LlamaCppOptions(parallel_slots=1))
    await engine.start()
    yield engine, tool_format
    await engine.close()


def ask(tool_format: ToolFormat | None = None, **extra: Any) -> dict[str, Any]:
    """The question with both tools; ``tool_format``: the model's call is opened."""
    messages: list[dict[str, Any]] = [QUESTION]
    if tool_format is not None:
        messages.append({"role": "assistant", "content": tool_format.opener})
    body = {"messages": messages, "tools": [WEATHER, TIME], "max_tokens": 60, "temperature": 0}
    return body | extra


def check_call(call: dict[str, Any], names: set[str]) -> None:
    assert call["type"] == "function" and call["id"]
    assert call["function"]["name"] in names
    arguments = json.loads(call["function"]["arguments"])
    if call["function"]["name"] == "get_weather":
        assert isinstance(arguments["city"], str) and len(arguments["city"]) <= 20
    else:
        assert arguments["zone"] in ("UTC", "CET")


async def test_the_template_is_used_and_the_bundled_one_is_not(
    served: tuple[LlamaCppEngine, ToolFormat],
) -> None:
    engine, _ = served
    assert engine.native_tools
    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    bundled = LlamaCppEngine(
        "b",
        "chat",
        chat.locate(engine.path.parent, False),
        LlamaCppOptions(parallel_slots=1, context_per_slot=256),
    )
    await bundled.start()
    try:
        assert not bundled.native_tools
    finally:
        await bundled.close()


async def test_required_gives_openai_calls(served: tuple[LlamaCppEngine, ToolFormat]) -> None:
    engine, tool_format = served
    choice = (await engine.chat(ask(tool_format, tool_choice="required")))["choices"][0]
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    # Parallel calls are allowed: a model may go on calling until max_tokens
    # cuts the last call, whose arguments may then be unfinished.
    assert choice["finish_reason"] in ("tool_calls", "length"), choice
    complete = calls if choice["finish_reason"] == "tool_calls" else calls[:-1]
    assert complete, choice
    for call in complete:
        check_call(call, {"get_weather", "get_time"})
    assert len({call["id"] for call in calls}) == len(calls)


async def test_a_named_function_without_parallel_calls(
    served: tuple[LlamaCppEngine, ToolFormat],
) -> None:
    engine, tool_format = served
    named = {"type": "function", "function": {"name": "get_time"}}
    body = ask(tool_format, tool_choice=named, parallel_tool_calls=False)
    choice = (await engine.chat(body))["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    check_call(call, {"get_time"})
    assert choice["finish_reason"] == "tool_calls"


async def test_auto_and_none_answer_in_text_when_no_call_is_begun(
    served: tuple[LlamaCppEngine, ToolFormat],
) -> None:
    engine, _ = served
    for choice_name in ("auto", "none"):
        body = ask(tool_choice=choice_name, max_tokens=12)
        choice = (await engine.chat(body))["choices"][0]
        # SmolLM2 may end its turn at once after a Mistral-style prompt: "" is text too.
        assert isinstance(choice["message"]["content"], str)
        assert not choice["message"].get("tool_calls")
        assert choice["finish_reason"] in ("stop", "length")


async def test_streamed_deltas_have_openais_shape(
    served: tuple[LlamaCppEngine, ToolFormat],
) -> None:
    engine, tool_format = served
    body = ask(tool_format, tool_choice="required", parallel_tool_calls=False)
    chunks = [chunk async for chunk in engine.chat_stream(body)]
    calls: dict[int, dict[str, Any]] = {}
    reasons = []
    for chunk in chunks:
        for choice in chunk.get("choices", []):
            reasons.append(choice["finish_reason"])
            assert not choice["delta"].get("content")
            for delta in choice["delta"].get("tool_calls", []):
                if delta["index"] not in calls:  # the first delta of a call names it
                    assert delta["id"] and delta["type"] == "function"
                    assert delta["function"]["name"]
                    calls[delta["index"]] = {
                        "id": delta["id"], "type": "function",
                        "function": {"name": delta["function"]["name"], "arguments": ""},
                    }  # fmt: skip
                else:
                    assert "name" not in delta.get("function", {})
                calls[delta["index"]]["function"]["arguments"] += delta["function"].get(
                    "arguments", ""
                )
    assert [r for r in reasons if r] == ["tool_calls"]
    assert list(calls) == [0]
    check_call(calls[0], {"get_weather", "get_time"})


async def test_a_tool_result_reaches_the_model(served: tuple[LlamaCppEngine, ToolFormat]) -> None:
    engine, _ = served
    call = {"name": "get_weather", "arguments": '{"city": "Paris"}'}

    def history(result: str) -> list[dict[str, Any]]:
        return [
            QUESTION,
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "call_1", "type": "function", "function": call}]},
            {"role": "tool", "tool_call_id": "call_1", "content": result},
        ]  # fmt: skip

    short = await engine.chat(ask(messages=history("Sunny"), tool_choice="auto", max_tokens=1))
    long_result = "Sunny, 21 C, a light wind from the west, humidity at forty percent"
    result = await engine.chat(ask(messages=history(long_result), max_tokens=30))
    # The template renders the tool's result into the prompt: a longer one, more tokens.
    grown = result["usage"]["prompt_tokens"] - short["usage"]["prompt_tokens"]
    assert grown >= 10, grown
    assert isinstance(result["choices"][0]["message"]["content"], str)


async def test_malformed_history_is_a_client_error(
    served: tuple[LlamaCppEngine, ToolFormat],
) -> None:
    engine, _ = served
    bad = {"name": "get_weather", "arguments": "{city: Paris"}
    messages = [QUESTION, {"role": "assistant", "tool_calls": [{"id": "c", "function": bad}]}]
    with pytest.raises(InvalidRequest) as raised:
        await engine.chat(ask(messages=messages))
    assert raised.value.param == "messages[1].tool_calls[0].function.arguments"
