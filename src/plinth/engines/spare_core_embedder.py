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

A call goes whole to the copy with the fewest calls in flight (ties: the
primary, so a lone search query is never handed to a copy that may be
starved); a call of several texts with more than one copy free is shared out
text by text from one queue, so a starved spare holds up at most the one
text it took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from plinth.engines.base import EmbeddingResult, Engine, Json

# The nice value of the spare copies' threads: the lowest priority there is.
SPARE_NICE = 19


class SpareCoreEmbedder(Engine):
    is_local = True

    def __init__(self, primary: Engine, spares: Sequence[Engine]):
        super().__init__(primary.model_id, "embedding")
        self.copies: list[Engine] = [primary, *spares]
        self.in_flight = [0] * len(self.copies)
        # The primary's llama.cpp options (slots, context), read by the console.
        self.options = getattr(primary, "options", None)

    async def start(self) -> None:
        await asyncio.gather(*(copy.start() for copy in self.copies))

    async def close(self) -> None:
        for copy in self.copies:
            await copy.close()

    async def health(self) -> None:
        await self.copies[0].health()

    def describe(self) -> Json:
        return {**self.copies[0].describe(), "spare_core_copies": len(self.copies) - 1}

    async def _on(self, index: int, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        self.in_flight[index] += 1
        try:
            return await self.copies[index].embed(inputs)
        finally:
            self.in_flight[index] -= 1

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        free = [i for i, n in enumerate(self.in_flight) if n == 0]
        if len(inputs) < 2 or len(free) < 2:
            least = min(range(len(self.copies)), key=lambda i: (self.in_flight[i], i))
            return await self._on(least, inputs)
        return await self._shared_out(inputs, free)

    async def _shared_out(
        self, inputs: list[str] | list[list[int]], free: list[int]
    ) -> EmbeddingResult:
        """Each free copy takes the next text when it is done with its last one."""
        vectors: list[list[float]] = [[] for _ in inputs]
        tokens = 0
        pending = iter(range(len(inputs)))

        async def drain(copy: int) -> None:
            nonlocal tokens
            for position in pending:
                result = await self._on(copy, inputs[position : position + 1])
                vectors[position] = result.vectors[0]
                tokens += result.prompt_tokens

        tasks = [asyncio.ensure_future(drain(copy)) for copy in free]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()  # a failure (or our own cancellation) stops the others' next texts
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return EmbeddingResult(vectors, tokens)
