"""The chat model's KV-cache options (llamacpp.kv_cache_type, llamacpp.kv_unified)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.settings import LlamaCppSettings


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.anyio
@pytest.mark.parametrize("unified", [False, True])
async def test_a_q8_0_cache_answers_like_f16_in_about_half_the_memory(
    tmp_path: Path, unified: bool
) -> None:
    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    ask = {
        "messages": [{"role": "user", "content": "Name three colours."}],
        "max_tokens": 12,
        "temperature": 0,
        "ignore_eos": True,
    }
    grown = {}
    for cache_type in ("f16", "q8_0"):
        options = LlamaCppOptions(
            parallel_slots=4, context_per_slot=2048, kv_cache_type=cache_type, kv_unified=unified
        )
        before = resident_mb()
        engine = LlamaCppEngine(chat.id, "chat", chat.locate(tmp_path, False), options)
        params = engine._params()
        assert (
            params.cache_type_k.name
            == params.cache_type_v.name
            == f"GGML_TYPE_{cache_type.upper()}"
        )
        assert params.kv_unified is unified and params.n_ctx == 8192
        await engine.start()
        try:
            grown[cache_type] = resident_mb() - before
            result = await engine.chat(ask)
            assert result["usage"]["completion_tokens"] == 12
            assert result["choices"][0]["message"]["content"].strip()
        finally:
            await engine.close()
            del engine
    # 8192 cells x 30 layers x 3 KV heads x 64 dims x 2 (K, V): f16 ~189 MB, q8_0 ~100 MB
    assert grown["f16"] - grown["q8_0"] > 60, grown


def test_settings_take_only_known_cache_types() -> None:
    assert LlamaCppSettings().kv_cache_type == "q8_0"  # the serve default
    assert LlamaCppSettings(kv_cache_type="f16").kv_cache_type == "f16"
    with pytest.raises(ValidationError):
        LlamaCppSettings(kv_cache_type="q4_0")
