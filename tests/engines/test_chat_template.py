"""``plinth models add --chat-template``: stored, validated, and applied by llama.cpp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.catalog.catalog import model_specs
from plinth.cli import main
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.store.database import open_database
from plinth.store.models import ModelStore

CHAT = next(m for m in BUNDLED_MODELS if m.kind == "chat")
# Only the last user message, nothing around it: the prompt is that text alone.
BARE = "{% for m in messages %}{{ m.content }}{% endfor %}"


def _add(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    gguf = CHAT.locate(tmp_path, False)
    return CliRunner().invoke(
        main, ["models", "add", str(gguf), *args, "--data-dir", str(tmp_path)]
    )


def test_cli_stores_a_builtin_name_or_a_jinja_file_and_refuses_anything_else(
    tmp_path: Path,
) -> None:
    assert _add(tmp_path, "--id", "smol-gemma", "--chat-template", "gemma").exit_code == 0
    template = tmp_path / "bare.jinja"
    template.write_text(BARE)
    assert _add(tmp_path, "--id", "smol-bare", "--chat-template", str(template)).exit_code == 0

    unknown = _add(tmp_path, "--id", "x", "--chat-template", "gemmaa")
    assert unknown.exit_code != 0 and "neither a built-in template" in unknown.output
    prose = tmp_path / "prose.txt"
    prose.write_text("just words")
    refused = _add(tmp_path, "--id", "y", "--chat-template", str(prose))
    assert refused.exit_code != 0 and "Jinja" in refused.output
    embedding = _add(tmp_path, "--id", "z", "--kind", "embedding", "--chat-template", "gemma")
    assert embedding.exit_code != 0 and "chat models only" in embedding.output

    specs = {
        s.id: s
        for s in model_specs(
            tmp_path,
            ModelStore(open_database(f"sqlite:///{tmp_path / 'plinth.db'}")),
            include_bundled=False,
        )
    }
    assert specs["smol-gemma"].chat_template == "gemma"
    assert specs["smol-bare"].chat_template == BARE
    listing = CliRunner().invoke(
        main, ["models", "list", "--format", "json", "--data-dir", str(tmp_path)]
    )
    rows = {r["id"]: r for r in json.loads(listing.stdout)}
    assert rows["smol-gemma"]["description"].endswith("(template gemma)")


async def _prompt_tokens(tmp_path: Path, template: str | None) -> int:
    options = LlamaCppOptions(parallel_slots=1, chat_template=template)
    engine = LlamaCppEngine(CHAT.id, "chat", CHAT.locate(tmp_path, False), options)
    await engine.start()
    try:
        body = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 1}
        reply = await engine.chat(body)
        return int(reply["usage"]["prompt_tokens"])
    finally:
        await engine.close()


@pytest.mark.anyio
async def test_llamacpp_formats_the_prompt_with_the_chosen_template(tmp_path: Path) -> None:
    own = await _prompt_tokens(tmp_path, None)  # SmolLM2's ChatML, with its system prompt
    gemma = await _prompt_tokens(tmp_path, "gemma")
    bare = await _prompt_tokens(tmp_path, BARE)
    assert bare <= 2  # "hello" (and perhaps a BOS token)
    assert gemma not in (own, bare) and gemma > bare
