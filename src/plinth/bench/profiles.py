"""Load profiles: a fixed number of requests in flight, or Poisson arrivals at a rate."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
Job = Callable[[], Awaitable[T]]


async def at_concurrency(jobs: Sequence[Job[T]], concurrency: int) -> list[T]:
    """Run ``jobs`` with at most ``concurrency`` in flight (1 = sequential)."""
    queue = list(reversed(jobs))
    results: list[T] = []

    async def worker() -> None:
        while queue:
            job = queue.pop()
            results.append(await job())

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return results


async def poisson(jobs: Sequence[Job[T]], rate: float, seed: int = 0) -> list[T]:
    """Start jobs at exponentially distributed gaps (mean 1/rate), however many are in flight."""
    rng = random.Random(seed)
    tasks: list[asyncio.Task[T]] = []
    for index, job in enumerate(jobs):
        if index:
            await asyncio.sleep(rng.expovariate(rate))
        tasks.append(asyncio.create_task(job()))  # type: ignore[arg-type]
    return list(await asyncio.gather(*tasks))
