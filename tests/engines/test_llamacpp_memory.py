"""llama.cpp's host-memory prompt cache is bounded by Plinth's setting, not its 8 GiB default.

Without the bound a chat model's process grew by each new prompt's KV state
(about 1.2 MiB per prompt for the bundled 135M model; benchmarks/memory_soak.py
found it as RSS rising run after run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.settings import LlamaCppSettings

pytest.importorskip("xllamacpp")


def test_the_prompt_cache_is_bounded_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    default = LlamaCppSettings().prompt_cache_mib
    assert 0 < default <= 256
    path = tmp_path / "model.gguf"
    engine = LlamaCppEngine("m", "chat", path, LlamaCppOptions(prompt_cache_mib=default))
    assert engine._params().cache_ram_mib == default
    off = LlamaCppEngine("m", "chat", path, LlamaCppOptions(prompt_cache_mib=0))
    assert off._params().cache_ram_mib == 0
    assert LlamaCppEngine("m", "chat", path, LlamaCppOptions())._params().cache_ram_mib == default
