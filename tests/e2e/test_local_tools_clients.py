"""Tool calling on the bundled local model through real clients against ``plinth serve``:
the ``openai`` SDK's tool flow (call, run the tool, send the result back, streamed
deltas accumulated) and LangChain's ``bind_tools``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_support import Server
from openai import OpenAI

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather now in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 20}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def sdk(server: Server) -> OpenAI:
    return OpenAI(base_url=f"{server.base_url}/v1", api_key=server.admin_key, max_retries=0)


def test_openai_sdk_tool_flow(sdk: OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = sdk.chat.completions.create(
        model=CHAT, messages=messages, tools=[WEATHER], tool_choice="required", max_tokens=200
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls
    call = calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    city = json.loads(call.function.arguments)["city"]
    assert isinstance(city, str)
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": f"Sunny in {city}"})
    second = sdk.chat.completions.create(
        model=CHAT, messages=messages, tools=[WEATHER], tool_choice="none", max_tokens=20
    )
    assert second.choices[0].message.content
    assert not second.choices[0].message.tool_calls


def test_openai_sdk_streamed_tool_calls(sdk: OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Weather in Rome?"}],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        max_tokens=200,
        stream=True,
    )
    names, arguments, reasons = [], "", []
    for chunk in stream:
        for choice in chunk.choices:
            reasons.append(choice.finish_reason)
            for delta in choice.delta.tool_calls or []:
                assert delta.index == 0
                if delta.function and delta.function.name:
                    names.append(delta.function.name)
                arguments += (delta.function and delta.function.arguments) or ""
    assert names == ["get_weather"]
    assert isinstance(json.loads(arguments)["city"], str)
    assert [r for r in reasons if r] == ["tool_calls"]


def test_langchain_bind_tools(server: Server) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")

    def get_weather(city: str) -> str:
        """The weather now in a city."""
        return f"Sunny in {city}"

    llm = langchain_openai.ChatOpenAI(
        model=CHAT,
        base_url=f"{server.base_url}/v1",
        api_key=server.admin_key,
        max_tokens=200,
        temperature=0,
        max_retries=0,
    )
    answer = llm.bind_tools([get_weather], tool_choice="get_weather").invoke(
        "What is the weather in Paris?"
    )
    assert answer.tool_calls
    call = answer.tool_calls[0]
    assert call["name"] == "get_weather"
    assert isinstance(call["args"]["city"], str)
    assert call["id"]
