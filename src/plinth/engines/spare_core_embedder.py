"""One embedding model on several single-thread llama.cpp engines: the cores nothing else wants.

Ingestion is bound by the embedder, which runs on one thread by default so
that it never starves the chat model (``llamacpp.embedding_threads``). Two
cores give an embedder on two OpenMP threads only ~1.5× (the threads wait for
each other at every op) and keep a second OpenMP team alive, which slows the
chat model's own threads. Texts are independent, so whole copies scale
better: the first copy ("primary") runs as before; each other copy ("spare")
is another one-thread llama.cpp server on the same GGUF (mmap'd, the weights'
pages are shared) whose threads run at nice 19, so the kernel gives them CPU
only when nothing at normal priority wants it: a chat request arriving takes
the core back at once, as in the batches' idle lane. A one-thread engine
never starts an OpenMP team, so the chat model's threads keep spinning.

**One text per copy at a time, from one queue.** Every call's texts wait in
one queue; a copy that is free takes the next text (the primary first when
several are free, so a lone search query is never handed to a spare that may
be starved). The next text comes from the call that has had the fewest
handed out, so a search query arriving during a large ingestion call waits
for the texts already running, not for the whole call, and calls in flight
together take turns. The rule before (a call went whole to the least busy
copy) let a copy sit idle while the other had two texts, and those two were
packed into one llama.cpp decode, where the attention runs over all tokens of
the batch (each sequence masked from the others): packing two ~165-token
windows cost ~7 % more engine CPU than one at a time with flash attention
(llama.cpp's default here), ~25 % more without (``benchmarks/results/
ingest_throughput.md``). A starved spare still holds up at most the one text
it took.

Texts are tokenized and length-checked once for the whole call first
(``token_ids``, where the copies have a tokenizer), so an over-long input is
refused with its own index, and the copies get token ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from plinth.engines.base import EmbeddingResult, Engine, Json

# The nice value of the spare copies' threads: the lowest priority there is.
SPARE_NICE = 19


@runtime_checkable
class TokenizesInputs(Protocol):
    """An engine that turns texts into the token ids it would run (checking lengths)."""

    async def token_ids(
        self, inputs: list[str] | list[list[int]]
    ) -> list[str] | list[list[int]]: ...


@dataclass(eq=False)
class _Call:
    """One ``embed`` call: its inputs, what came back so far, and its result."""

    inputs: list[str] | list[list[int]]
    done: asyncio.Future[EmbeddingResult]
    vectors: list[list[float]] = field(default_factory=list)
    tokens: int = 0
    next: int = 0  # the next input to hand out
    left: int = 0  # inputs not yet embedded

    def __post_init__(self) -> None:
        self.vectors = [[] for _ in self.inputs]
        self.left = len(self.inputs)


class SpareCoreEmbedder(Engine):
    is_local = True

    def __init__(self, primary: Engine, spares: Sequence[Engine]):
        super().__init__(primary.model_id, "embedding")
        self.copies: list[Engine] = [primary, *spares]
        # Texts each copy is embedding now (0 or 1).
        self.in_flight = [0] * len(self.copies)
        # Calls with texts not yet handed out, in turn order.
        self._waiting: list[_Call] = []
        self._running: set[asyncio.Task[None]] = set()
        # The primary's llama.cpp options (slots, context), read by the console.
        self.options = getattr(primary, "options", None)
        # The vectors' width where the primary knows it unloaded (vectorstores/build.py).
        self.dims = getattr(primary, "dims", None)

    async def start(self) -> None:
        await asyncio.gather(*(copy.start() for copy in self.copies))

    async def close(self) -> None:
        for copy in self.copies:
            await copy.close()

    async def health(self) -> None:
        await self.copies[0].health()

    def describe(self) -> Json:
        return {**self.copies[0].describe(), "spare_core_copies": len(self.copies) - 1}

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        primary = self.copies[0]
        if not inputs:
            return await primary.embed(inputs)  # the copy's own answer to an empty call
        if isinstance(primary, TokenizesInputs):
            inputs = await primary.token_ids(inputs)
        call = _Call(inputs, asyncio.get_running_loop().create_future())
        self._waiting.append(call)
        self._hand_out()
        try:
            return await asyncio.shield(call.done)
        finally:
            if not call.done.done():  # cancelled: its texts not yet handed out are dropped
                call.done.cancel()

    def _next_text(self) -> tuple[_Call, int] | None:
        """The next text to embed: from the call that has had the fewest handed out
        (the oldest of those), so a new call goes next and long calls take turns."""
        for call in [c for c in self._waiting if c.done.done()]:  # failed or cancelled
            self._waiting.remove(call)
        if not self._waiting:
            return None
        call = min(self._waiting, key=lambda c: c.next)  # min keeps the first of equals
        position = call.next
        call.next += 1
        if call.next == len(call.inputs):
            self._waiting.remove(call)
        return call, position

    def _hand_out(self) -> None:
        for index in range(len(self.copies)):  # the primary first
            if self.in_flight[index]:
                continue
            job = self._next_text()
            if job is None:
                return
            self.in_flight[index] = 1
            task = asyncio.ensure_future(self._embed_one(index, *job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _embed_one(self, index: int, call: _Call, position: int) -> None:
        try:
            result = await self.copies[index].embed(call.inputs[position : position + 1])
        except asyncio.CancelledError:
            call.done.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the call's caller
            if not call.done.done():
                call.done.set_exception(exc)  # the call's other texts are not handed out
        else:
            call.vectors[position] = result.vectors[0]
            call.tokens += result.prompt_tokens
            call.left -= 1
            if call.left == 0 and not call.done.done():
                call.done.set_result(EmbeddingResult(call.vectors, call.tokens))
        finally:
            self.in_flight[index] = 0
            self._hand_out()
