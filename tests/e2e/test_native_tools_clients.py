"""Tool calling in a model's own format through real clients against ``plinth serve``.

The served model is SmolLM2 with a Hermes-style tool template
(``tooltemplates``), registered with ``plinth models add`` as a user would
add a GGUF. The ``openai`` SDK's whole tool flow (call, result, answer; and a
streamed call) and LangChain's ``bind_tools`` (call, then a ``ToolMessage``)
go through llama.cpp's own rendering and parsing of that format. The tiny
weights never learned the syntax, so each call is opened with the format's
marker as an assistant prefix (see ``tooltemplates``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ADMIN_KEY, Server, free_port, wait_until_healthy
from openai import OpenAI

from tooltemplates import FORMATS, tool_gguf

pytestmark = pytest.mark.e2e

MODEL = "smol-tools"
HERMES = next(f for f in FORMATS if f.name == "hermes")
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
OPEN_CALL = {"role": "assistant", "content": HERMES.opener}


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("native-tools")
    home = folder / "data"
    (home / "models").mkdir(parents=True)
    for converted in (data_dir / "models").glob("*.gguf"):  # the embedder, converted once
        (home / "models" / converted.name).symlink_to(converted)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLINTH_")}
    env |= {"PLINTH_ADMIN_KEY": ADMIN_KEY, "PLINTH_LLAMACPP__PARALLEL_SLOTS": "2"}
    plinth = [sys.executable, "-m", "plinth"]
    added = subprocess.run(
        [*plinth, "models", "add", str(tool_gguf(folder, HERMES)), "--id", MODEL],
        env=env | {"PLINTH_DATA_DIR": str(home)},
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    port = free_port()
    log_path = folder / "serve.log"
    command = [*plinth, "serve", "--port", str(port), "--data-dir", str(home)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, base_url, log_path, within_s=180)
        yield Server(base_url, ADMIN_KEY, log_path)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def sdk(tool_server: Server) -> OpenAI:
    return OpenAI(base_url=f"{tool_server.base_url}/v1", api_key=ADMIN_KEY, max_retries=0)


def test_openai_sdk_tool_flow(sdk: OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = sdk.chat.completions.create(
        model=MODEL,
        messages=[*messages, OPEN_CALL],
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=60,
        temperature=0,
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    city = json.loads(call.function.arguments)["city"]
    assert isinstance(city, str)
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": f"Sunny in {city}"})
    second = sdk.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], max_tokens=20, temperature=0
    )
    assert second.choices[0].message.content
    assert not second.choices[0].message.tool_calls
    assert first.usage and second.usage
    assert second.usage.prompt_tokens > first.usage.prompt_tokens  # the result is in the prompt


def test_openai_sdk_streamed_named_call(sdk: OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Rome?"}, OPEN_CALL],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        max_tokens=60,
        temperature=0,
        stream=True,
    )
    ids, names, arguments, reasons = [], [], "", []
    for chunk in stream:
        for choice in chunk.choices:
            reasons.append(choice.finish_reason)
            for delta in choice.delta.tool_calls or []:
                assert delta.index == 0
                if delta.id:
                    ids.append(delta.id)
                if delta.function and delta.function.name:
                    names.append(delta.function.name)
                arguments += (delta.function and delta.function.arguments) or ""
    assert len(ids) == 1 and names == ["get_weather"]
    assert isinstance(json.loads(arguments)["city"], str)
    assert [r for r in reasons if r] == ["tool_calls"]


def test_langchain_bind_tools(tool_server: Server) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    def get_weather(city: str) -> str:
        """The weather now in a city."""
        return f"Sunny in {city}"

    llm = langchain_openai.ChatOpenAI(
        model=MODEL,
        base_url=f"{tool_server.base_url}/v1",
        api_key=ADMIN_KEY,
        max_tokens=60,
        temperature=0,
        max_retries=0,
    )
    question = HumanMessage("What is the weather in Paris?")
    bound = llm.bind_tools([get_weather], tool_choice="get_weather", parallel_tool_calls=False)
    answer = bound.invoke([question, AIMessage(HERMES.opener)])
    (call,) = answer.tool_calls
    assert call["name"] == "get_weather" and call["id"]
    assert isinstance(call["args"]["city"], str)
    result = ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"])
    final = llm.bind_tools([get_weather]).invoke([question, answer, result])
    assert isinstance(final.content, str) and not final.tool_calls
