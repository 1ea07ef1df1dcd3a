"""Tool calling on a GGUF whose own chat template is tool-aware (Hermes/Qwen style).

The GGUF is the bundled SmolLM2 rewritten with such a template in its
metadata (``gguf``'s own metadata copier), so llama.cpp renders every turn
with it. The tools reach the model in the generic format either way, and
``required`` or a named function still yields a valid OpenAI call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gguf
import pytest
from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions

pytestmark = pytest.mark.anyio

TOOL_TEMPLATE = """
{%- if tools %}<|im_start|>system
# Tools
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools>
For each call return <tool_call>{"name": <name>, "arguments": <args>}</tool_call><|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == "assistant" and message.tool_calls %}<|im_start|>assistant
{%- for call in message.tool_calls %}
<tool_call>{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}
</tool_call>
{%- endfor %}<|im_end|>
{% elif message.role == "tool" %}<|im_start|>user
<tool_response>{{ message.content }}</tool_response><|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}
"""
CALC = {
    "type": "function",
    "function": {
        "name": "add",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}


def with_template(source: Path, target: Path, template: str) -> Path:
    reader = gguf.GGUFReader(source, "r")
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(target, arch=arch, endianess=reader.endianess)
    key = gguf.Keys.Tokenizer.CHAT_TEMPLATE
    copy_with_new_metadata(
        reader, writer, {key: MetadataDetails(gguf.GGUFValueType.STRING, template)}, []
    )
    return target


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LlamaCppEngine]:
    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    folder = tmp_path_factory.mktemp("tool-template")
    path = with_template(chat.locate(folder, False), folder / "smol-tools.gguf", TOOL_TEMPLATE)
    assert (
        gguf.GGUFReader(path).fields[gguf.Keys.Tokenizer.CHAT_TEMPLATE].contents() == TOOL_TEMPLATE
    )
    engine = LlamaCppEngine("smol-tools", "chat", path, LlamaCppOptions(parallel_slots=1))
    await engine.start()
    yield engine
    await engine.close()


def ask(**extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": "What is 2 plus 3?"}]
    return {"messages": messages, "tools": [CALC], "max_tokens": 120, "temperature": 0} | extra


async def test_a_named_call_is_valid(engine: LlamaCppEngine) -> None:
    named = {"type": "function", "function": {"name": "add"}}
    result = await engine.chat(ask(tool_choice=named, parallel_tool_calls=False))
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "add"
    arguments = json.loads(call["function"]["arguments"])
    assert isinstance(arguments["a"], int) and isinstance(arguments["b"], int)


async def test_a_tool_result_renders_through_the_template(engine: LlamaCppEngine) -> None:
    messages = [
        {"role": "user", "content": "What is 2 plus 3?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "5"},
    ]  # fmt: skip
    result = await engine.chat(ask(messages=messages, tool_choice="auto"))
    message = result["choices"][0]["message"]
    assert isinstance(message["content"], str) or message["tool_calls"]
    streamed = [c async for c in engine.chat_stream(ask(tool_choice="required"))]
    deltas = [
        d
        for c in streamed
        for ch in c.get("choices", [])
        for d in ch["delta"].get("tool_calls", [])
    ]
    assert deltas and all(d["function"]["name"] == "add" for d in deltas)
