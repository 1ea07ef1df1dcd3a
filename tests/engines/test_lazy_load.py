"""llamacpp.load = "on_first_use": the bundled chat model loads at its first request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.lazy_load import LoadOnFirstUse
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.errors import EngineUnavailable

pytestmark = pytest.mark.anyio

LAZY = LlamaCppOptions(parallel_slots=2, context_per_slot=512, load_on_first_use=True)


def body(content: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": content}], "max_tokens": 4}


def bundled_chat(tmp_path: Path) -> tuple[str, Path]:
    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    return chat.id, chat.locate(tmp_path, False)


async def test_start_loads_nothing_and_concurrent_first_requests_share_one_load(
    tmp_path: Path,
) -> None:
    model_id, path = bundled_chat(tmp_path)
    engine = LlamaCppEngine(model_id, "chat", path, LAZY)
    loads = 0
    real_load = engine._load

    async def counted() -> None:
        nonlocal loads
        loads += 1
        await real_load()

    engine._loader = LoadOnFirstUse(model_id, counted)
    try:
        await engine.start()
        assert not engine.loaded and engine._server is None

        async def streamed() -> int:
            return len([c async for c in engine.chat_stream(body("Hi"))])

        answers = await asyncio.gather(
            engine.chat(body("Hello")), streamed(), engine.chat(body("Yo"))
        )
        assert loads == 1 and engine.loaded
        assert answers[0]["choices"][0]["message"]["role"] == "assistant"
        assert answers[1] > 0
        await engine.chat(body("Again"))
        assert loads == 1
    finally:
        await engine.close()


async def test_a_failed_load_is_a_503_naming_the_model_and_the_next_request_retries(
    tmp_path: Path,
) -> None:
    model_id, real = bundled_chat(tmp_path)
    missing = tmp_path / "not-yet.gguf"
    missing.symlink_to(real)
    engine = LlamaCppEngine(model_id, "chat", missing, LAZY)
    try:
        await engine.start()  # the check load passes
        missing.unlink()  # and the file goes away before the first request
        for attempt in (engine.chat(body("Hi")), _first_chunk(engine)):
            with pytest.raises(EngineUnavailable) as caught:
                await attempt
            assert caught.value.status_code == 503
            assert caught.value.code == "model_unavailable"
            assert model_id in caught.value.message and str(missing) in caught.value.message
        assert not engine.loaded
        missing.symlink_to(real)  # the cause is fixed: the next request loads
        answer = await engine.chat(body("Hi"))
        assert answer["choices"][0]["message"]["role"] == "assistant" and engine.loaded
    finally:
        await engine.close()


@pytest.mark.parametrize("content", [b"", b"not a gguf at all", b"GGUF\x03\x00\x00\x00"])
async def test_start_still_refuses_a_model_llama_cpp_cannot_load(
    tmp_path: Path, content: bytes
) -> None:
    """on_first_use does not move a broken model's error from start-up to a request."""
    model_id, _ = bundled_chat(tmp_path)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(content)
    engine = LlamaCppEngine(model_id, "chat", broken, LAZY)
    try:
        with pytest.raises(RuntimeError, match=f"could not load '{model_id}' from {broken}"):
            await engine.start()
        assert not engine.loaded
    finally:
        await engine.close()


async def test_a_truncated_model_is_refused_at_start(tmp_path: Path) -> None:
    model_id, real = bundled_chat(tmp_path)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    engine = LlamaCppEngine(model_id, "chat", truncated, LAZY)
    try:
        with pytest.raises(RuntimeError, match="could not load"):
            await engine.start()
    finally:
        await engine.close()


async def _first_chunk(engine: LlamaCppEngine) -> None:
    stream = engine.chat_stream(body("Hi"))
    await stream.__anext__()


async def test_a_waiter_that_goes_away_does_not_cancel_the_load_for_others() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_load() -> None:
        started.set()
        await release.wait()

    loader = LoadOnFirstUse("m", slow_load)
    leaving = asyncio.create_task(loader.ensure())
    await started.wait()
    staying = asyncio.create_task(loader.ensure())
    leaving.cancel()
    await asyncio.sleep(0)
    release.set()
    await staying
    assert loader.loaded and leaving.cancelled()
