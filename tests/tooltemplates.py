"""GGUFs with tool-aware chat templates, built from the bundled SmolLM2 for tests.

The weights are SmolLM2's; only ``tokenizer.chat_template`` changes (gguf's
own metadata copier), so llama.cpp renders every turn, the tools and earlier
calls with the template and derives the call syntax from it. The two
templates below are written for these tests in two families' styles: Hermes /
Qwen 2.5 (``<tool_call>{json}</tool_call>`` per call) and Mistral
(``[TOOL_CALLS][{json}, ...]``, all calls in one array).

A 135M model was never taught either syntax, so tests that need a call open
it the way a trained model starts one: the last message is an assistant turn
holding just the call marker, which llama.cpp continues (assistant prefill).
From there the tools' grammar constrains what the model writes and llama.cpp
parses it back, which is what is under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gguf
from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata

from plinth.catalog.bundled import BUNDLED_MODELS

HERMES = """
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

MISTRAL = """
{{- bos_token }}
{%- for message in messages %}
{%- if message.role == "user" %}
{%- if loop.last and tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{% endif -%}
[INST]{{ message.content }}[/INST]
{%- elif message.role == "assistant" and message.tool_calls %}[TOOL_CALLS][
{%- for call in message.tool_calls %}{"name": "{{ call.function.name }}", \
"arguments": {{ call.function.arguments | tojson }}}{% if not loop.last %}, {% endif %}\
{% endfor %}]{{ eos_token }}
{%- elif message.role == "tool" %}[TOOL_RESULTS]{{ message.content }}[/TOOL_RESULTS]
{%- elif message.role == "assistant" %}{{ message.content }}{{ eos_token }}
{%- elif message.role == "system" %}[SYSTEM_PROMPT]{{ message.content }}[/SYSTEM_PROMPT]
{%- endif %}
{%- endfor %}
"""


@dataclass(frozen=True)
class ToolFormat:
    name: str
    template: str
    opener: str  # what a trained model writes first to call a tool


FORMATS = (
    ToolFormat("hermes", HERMES, "<tool_call>"),
    ToolFormat("mistral", MISTRAL, "[TOOL_CALLS]"),
)


def with_template(source: Path, target: Path, template: str) -> Path:
    """A copy of the GGUF ``source`` at ``target`` whose chat template is ``template``."""
    reader = gguf.GGUFReader(source, "r")
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(target, arch=arch, endianess=reader.endianess)
    key = gguf.Keys.Tokenizer.CHAT_TEMPLATE
    copy_with_new_metadata(
        reader, writer, {key: MetadataDetails(gguf.GGUFValueType.STRING, template)}, []
    )
    return target


def tool_gguf(folder: Path, tool_format: ToolFormat) -> Path:
    """SmolLM2 with ``tool_format``'s template, written into ``folder``."""
    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    target = folder / f"smollm2-{tool_format.name}.gguf"
    if not target.exists():
        with_template(chat.locate(folder, False), target, tool_format.template)
    return target
