"""The repetition penalty and output limit local models get when a request names none."""

from __future__ import annotations

from pathlib import Path

import pytest

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.engines.llamacpp_sampling import (
    DEFAULT_MAX_TOKENS,
    REPEAT_LAST_N,
    REPEAT_PENALTY,
    with_sampling_defaults,
)


def test_a_request_without_penalties_or_limit_gets_the_defaults() -> None:
    body = {"messages": [], "temperature": 0}
    sent = with_sampling_defaults(body)
    assert sent["repeat_penalty"] == REPEAT_PENALTY and sent["repeat_last_n"] == REPEAT_LAST_N
    assert sent["max_tokens"] == DEFAULT_MAX_TOKENS == 512
    assert sent["temperature"] == 0 and "repeat_penalty" not in body  # not mutated
    assert with_sampling_defaults(body, max_tokens=40)["max_tokens"] == 40


def test_a_request_with_its_own_penalty_or_limit_keeps_it() -> None:
    for field in ("repeat_penalty", "frequency_penalty", "presence_penalty"):
        body = {"messages": [], field: 0.0, "max_tokens": 7}
        assert with_sampling_defaults(body) == body
    for field in ("max_tokens", "max_completion_tokens", "n_predict"):
        sent = with_sampling_defaults({"messages": [], field: 3})
        assert sent[field] == 3 and sent.get("max_tokens", 3) == 3


def test_a_zero_default_leaves_the_limit_unset() -> None:
    assert "max_tokens" not in with_sampling_defaults({"messages": []}, max_tokens=0)


@pytest.mark.anyio
async def test_the_bundled_model_stops_at_the_default_limit(tmp_path: Path) -> None:
    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    options = LlamaCppOptions(parallel_slots=1, context_per_slot=512, default_max_tokens=12)
    engine = LlamaCppEngine(chat.id, "chat", chat.locate(tmp_path, False), options)
    await engine.start()
    try:
        # ignore_eos: the reply cannot end by itself, only the limit stops it
        ask = {
            "messages": [{"role": "user", "content": "Count to one hundred."}],
            "ignore_eos": True,
        }
        result = await engine.chat(ask)
        assert result["usage"]["completion_tokens"] == 12
        assert result["choices"][0]["finish_reason"] == "length"
        streamed = [c async for c in engine.chat_stream({**ask, "stream": True})]
        reasons = [c["choices"][0].get("finish_reason") for c in streamed if c.get("choices")]
        assert "length" in reasons
        own = await engine.chat({**ask, "max_tokens": 20})
        assert own["usage"]["completion_tokens"] == 20
    finally:
        await engine.close()
