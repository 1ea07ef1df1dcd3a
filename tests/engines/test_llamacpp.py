"""The llama.cpp engine on the bundled chat model, without HTTP in between."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.errors import ContextLengthExceeded, InvalidRequest, UnsupportedParameter

pytestmark = pytest.mark.anyio


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[LlamaCppEngine]:
    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    engine = LlamaCppEngine(
        chat.id, "chat", chat.locate(tmp_path, False), LlamaCppOptions(parallel_slots=4)
    )
    await engine.start()
    yield engine
    await engine.close()


def body(content: str, max_tokens: int) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}


async def wait_for_idle(engine: LlamaCppEngine) -> None:
    deadline = time.monotonic() + 30
    while engine.active_streams and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert engine.active_streams == 0


async def test_closing_a_stream_stops_generation_within_one_token(engine: LlamaCppEngine) -> None:
    for _ in range(3):
        before = engine.tokens_after_cancel
        stream = engine.chat_stream(body("Write a very long story about the sea.", 400))
        received = 0
        async for chunk in stream:
            if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                received += 1
                if received == 3:
                    break
        await stream.aclose()  # type: ignore[attr-defined]
        await wait_for_idle(engine)
        assert engine.tokens_after_cancel - before <= 1


async def test_streams_share_slots_concurrently(engine: LlamaCppEngine) -> None:
    """With 4 slots, 4 streams all start before any finishes (continuous batching)."""
    first_token: list[float] = []
    finished: list[float] = []

    async def run(i: int) -> None:
        got_first = False
        async for chunk in engine.chat_stream(body(f"Tell me fact number {i}.", 24)):
            choices = chunk.get("choices") or []
            if not got_first and choices and choices[0]["delta"].get("content"):
                got_first = True
                first_token.append(time.monotonic())
        finished.append(time.monotonic())

    await asyncio.gather(*(run(i) for i in range(4)))
    assert len(first_token) == 4
    assert max(first_token) < min(finished)


async def test_event_loop_keeps_running_during_generation(engine: LlamaCppEngine) -> None:
    task = asyncio.create_task(engine.chat(body("Describe the ocean.", 48)))
    ticks = 0
    while not task.done() and ticks < 5:
        await asyncio.sleep(0.001)
        ticks += 1
    assert ticks == 5 and not task.done(), "the engine call blocked the event loop"
    result = await task
    assert result["usage"]["completion_tokens"] > 0


async def test_engine_errors_are_mapped(engine: LlamaCppEngine) -> None:
    with pytest.raises(ContextLengthExceeded):
        await engine.chat(body("word " * 3000, 4))
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    with pytest.raises(UnsupportedParameter) as unsupported:
        await engine.chat({"messages": [{"role": "user", "content": [image]}]})
    assert unsupported.value.param == "messages[0].content"


def test_native_listener_refuses_requests_without_plinths_secret(tmp_path: Path) -> None:
    """xllamacpp's own HTTP listener must not serve the model to anyone (DESIGN: every door)."""
    import httpx

    async def probe() -> tuple[int, int]:
        chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
        engine = LlamaCppEngine(chat.id, "chat", chat.locate(tmp_path, False), LlamaCppOptions())
        await engine.start()
        try:
            address = engine._server.listening_address
            async with httpx.AsyncClient(base_url=address, timeout=10) as http:
                models = await http.get("/v1/models")
                chat_reply = await http.post(
                    "/v1/chat/completions", json=body("hi", 2) | {"model": "x"}
                )
            return models.status_code, chat_reply.status_code
        finally:
            await engine.close()

    assert asyncio.run(probe()) == (401, 401)


async def test_integers_llama_cpp_cannot_hold_are_fitted_or_refused(engine: LlamaCppEngine) -> None:
    """2^63 used to wrap to a one-token answer and 2^64 raised TypeError inside xllamacpp."""
    count = body("Count from one to twenty, one number per line.", 2**63)
    for limit in (2**31, 2**63, 2**64):
        answer = await engine.chat({**count, "max_tokens": limit})
        assert answer["usage"]["completion_tokens"] > 1, limit
    seeded = [await engine.chat({**body("Say a word.", 4), "seed": s}) for s in (7, 7 + 2**64)]
    assert seeded[0]["choices"] == seeded[1]["choices"]  # a seed folds to 32 bits, as before
    with pytest.raises(InvalidRequest) as wide:
        await engine.chat({**body("hi", 4), "logprobs": True, "top_logprobs": 2**65})
    assert wide.value.param == "top_logprobs"
    with pytest.raises(InvalidRequest) as token:
        await engine.complete({"prompt": [1, 2**40], "max_tokens": 2})
    assert token.value.param == "prompt" and "prompt[1]" in token.value.message


def _thread_nices() -> dict[int, int]:
    """The nice value of each thread of this process, by thread id."""
    nices = {}
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
            nices[int(tid)] = int(stat.rsplit(")", 1)[1].split()[16])
    return nices


def test_without_per_thread_nice_priorities_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Elsewhere than Linux a thread id is no process id: the default compute_nice (2)
    must not make setpriority fail, which would stop every chat model from loading."""
    import sys
    import types

    from plinth.engines import llamacpp

    def refuse(*_args: object) -> None:
        raise ProcessLookupError("no such process")

    monkeypatch.setattr(llamacpp, "PER_THREAD_NICE", False)
    monkeypatch.setattr(os, "setpriority", refuse)
    monkeypatch.setattr(os, "getpriority", refuse)
    fake = types.SimpleNamespace(Server=lambda params: ("server", params))
    monkeypatch.setitem(sys.modules, "xllamacpp", fake)
    llamacpp._lower_priority(2)
    assert llamacpp._make_server("params", 2) == ("server", "params")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread nice: Linux")
async def test_llama_cpp_threads_run_compute_nice_steps_below_the_workers(tmp_path: Path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # tests may run niced
    before = set(_thread_nices())
    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    options = LlamaCppOptions(parallel_slots=1, threads=2, compute_nice=3)
    engine = LlamaCppEngine(chat.id, "chat", chat.locate(tmp_path, False), options)
    await engine.start()
    try:
        async for _chunk in engine.chat_stream(body("Say hi.", 4)):  # the compute team starts
            pass
        new = {tid: nice for tid, nice in _thread_nices().items() if tid not in before}
        workers = {t.native_id for t in engine._pool._threads}
        assert {nice for tid, nice in new.items() if tid in workers} == {base}
        llama = [nice for tid, nice in new.items() if tid not in workers]
        assert len(llama) >= 2  # its loop, its HTTP listener, its compute threads
        assert set(llama) == {min(19, base + 3)}
    finally:
        await engine.close()
