"""The embedder's spare-core copies: which copy a call goes to, and the copies' priority."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from plinth.bootstrap import spare_copies
from plinth.engines.base import EmbeddingResult, Engine
from plinth.engines.llamacpp import _lower_priority
from plinth.engines.spare_core_embedder import SpareCoreEmbedder
from plinth.errors import ContextLengthExceeded, EngineError
from plinth.settings import Settings


class Copy(Engine):
    """A fake copy: vectors name the copy and the text; ``gate`` holds calls open."""

    def __init__(self, name: int, fail_on: str | None = None):
        super().__init__("m", "embedding")
        self.name, self.fail_on = name, fail_on
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        texts = [str(t) for t in inputs]
        self.calls.append(texts)
        await self.gate.wait()
        await asyncio.sleep(0)
        if self.fail_on in texts:
            raise EngineError("boom")
        values = [float(t) if isinstance(t, str) else float(t[0]) for t in inputs]
        return EmbeddingResult([[float(self.name), v] for v in values], 10 * len(texts))


@pytest.mark.anyio
async def test_a_lone_call_goes_to_the_primary() -> None:
    primary, spare = Copy(0), Copy(1)
    embedder = SpareCoreEmbedder(primary, [spare])
    await embedder.embed(["1"])
    await embedder.embed(["2"])
    assert primary.calls == [["1"], ["2"]] and spare.calls == []


@pytest.mark.anyio
async def test_a_second_call_in_flight_goes_to_the_spare() -> None:
    primary, spare = Copy(0), Copy(1)
    embedder = SpareCoreEmbedder(primary, [spare])
    primary.gate.clear()
    first = asyncio.ensure_future(embedder.embed(["1"]))
    await asyncio.sleep(0)
    second = await embedder.embed(["2"])
    assert second.vectors == [[1.0, 2.0]]
    primary.gate.set()
    assert (await first).vectors == [[0.0, 1.0]]
    assert embedder.in_flight == [0, 0]


@pytest.mark.anyio
async def test_several_texts_are_shared_out_and_come_back_in_order() -> None:
    primary, spare = Copy(0), Copy(1)
    embedder = SpareCoreEmbedder(primary, [spare])
    texts = [str(i) for i in range(9)]
    result = await embedder.embed(texts)
    assert [v[1] for v in result.vectors] == [float(t) for t in texts]
    assert result.prompt_tokens == 90
    # Both copies took texts, one at a time.
    assert primary.calls and spare.calls
    assert all(len(call) == 1 for call in primary.calls + spare.calls)


@pytest.mark.anyio
async def test_a_starved_spare_holds_up_only_the_text_it_took() -> None:
    primary, spare = Copy(0), Copy(1)
    embedder = SpareCoreEmbedder(primary, [spare])
    spare.gate.clear()  # gets no CPU
    call = asyncio.ensure_future(embedder.embed([str(i) for i in range(6)]))
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(spare.calls) == 1 and len(primary.calls) == 5
    spare.gate.set()
    assert [v[1] for v in (await call).vectors] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.anyio
async def test_a_busy_copy_gets_no_second_text() -> None:
    """Texts wait for a free copy instead of piling onto a busy one (where llama.cpp
    would pack them into one decode, or the free copy would sit idle)."""
    primary, spare = Copy(0), Copy(1)
    embedder = SpareCoreEmbedder(primary, [spare])
    primary.gate.clear()
    first = asyncio.ensure_future(embedder.embed(["1"]))
    await asyncio.sleep(0)
    result = await embedder.embed(["2", "3"])  # only the spare is free: it takes both in turn
    assert spare.calls == [["2"], ["3"]] and result.prompt_tokens == 20
    assert primary.calls == [["1"]]
    primary.gate.set()
    await first


@pytest.mark.anyio
async def test_calls_take_turns_so_a_query_waits_for_one_text_not_a_whole_call() -> None:
    primary = Copy(0)
    embedder = SpareCoreEmbedder(primary, [])
    primary.gate.clear()
    bulk = asyncio.ensure_future(embedder.embed([str(i) for i in range(10)]))
    await asyncio.sleep(0)
    query = asyncio.ensure_future(embedder.embed(["99"]))
    await asyncio.sleep(0)
    primary.gate.set()
    assert (await query).vectors == [[0.0, 99.0]]
    # The query ran second: right after the text the copy held when it came.
    assert primary.calls[:2] == [["0"], ["99"]]
    assert [v[1] for v in (await bulk).vectors] == [float(i) for i in range(10)]


@pytest.mark.anyio
async def test_a_cancelled_call_hands_out_no_more_texts() -> None:
    primary = Copy(0)
    embedder = SpareCoreEmbedder(primary, [])
    primary.gate.clear()
    call = asyncio.ensure_future(embedder.embed([str(i) for i in range(5)]))
    await asyncio.sleep(0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    primary.gate.set()
    assert (await embedder.embed(["7"])).vectors == [[0.0, 7.0]]
    assert primary.calls == [["0"], ["7"]]
    assert embedder.in_flight == [0]


@pytest.mark.anyio
async def test_one_calls_failure_leaves_the_others() -> None:
    primary, spare = Copy(0, fail_on="2"), Copy(1, fail_on="2")
    embedder = SpareCoreEmbedder(primary, [spare])
    bad = asyncio.ensure_future(embedder.embed(["1", "2", "3", "4", "5", "6"]))
    good = asyncio.ensure_future(embedder.embed(["10", "11", "12"]))
    with pytest.raises(EngineError, match="boom"):
        await bad
    assert [v[1] for v in (await good).vectors] == [10.0, 11.0, 12.0]


@pytest.mark.anyio
async def test_a_failure_is_raised_and_stops_the_rest() -> None:
    primary, spare = Copy(0, fail_on="2"), Copy(1, fail_on="2")
    embedder = SpareCoreEmbedder(primary, [spare])
    with pytest.raises(EngineError, match="boom"):
        await embedder.embed([str(i) for i in range(10)])
    await asyncio.sleep(0)
    assert len(primary.calls) + len(spare.calls) < 10
    assert embedder.in_flight == [0, 0]


class TokenizingCopy(Copy):
    """A copy with a tokenizer: texts become [length] ids; longer than 3 is refused."""

    async def token_ids(self, inputs: list[str] | list[list[int]]) -> list[list[int]]:
        ids = [[len(str(t))] for t in inputs]
        for index, one in enumerate(ids):
            if one[0] > 3:
                raise ContextLengthExceeded(f"input[{index}] is too long", param="input")
        return ids


@pytest.mark.anyio
async def test_a_call_is_tokenized_once_and_refused_with_the_inputs_own_index() -> None:
    primary, spare = TokenizingCopy(0), TokenizingCopy(1)
    embedder = SpareCoreEmbedder(primary, [spare])
    result = await embedder.embed(["a", "bb", "ccc"])
    assert [v[1] for v in result.vectors] == [1.0, 2.0, 3.0]  # the copies got the ids
    with pytest.raises(ContextLengthExceeded, match=r"input\[2\]"):
        await embedder.embed(["a", "bb", "dddd"])
    assert len(primary.calls) + len(spare.calls) == 3


def test_worker_threads_and_the_threads_they_start_run_at_the_given_nice() -> None:
    def nice_of_a_new_thread() -> tuple[int, int]:
        seen: list[int] = []
        child = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))
        child.start()
        child.join()
        return os.getpriority(os.PRIO_PROCESS, 0), seen[0]

    before = os.getpriority(os.PRIO_PROCESS, 0)
    with ThreadPoolExecutor(1, initializer=_lower_priority, initargs=(19,)) as pool:
        assert pool.submit(nice_of_a_new_thread).result() == (19, 19)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # only that worker


def test_spare_copies_follow_the_cores_and_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert spare_copies(Settings(data_dir=tmp_path)) == 3
    assert spare_copies(Settings(data_dir=tmp_path, llamacpp={"embedding_spare_copies": 0})) == 0
    # An embedder on several threads already uses the cores.
    assert spare_copies(Settings(data_dir=tmp_path, llamacpp={"embedding_threads": 0})) == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert spare_copies(Settings(data_dir=tmp_path)) == 0
