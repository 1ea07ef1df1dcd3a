"""The one place vector stores run CPU-heavy work (parsing, chunking, term analysis).

Parsing an upload or chunking its text can take seconds; on the event loop
that would stall every request. A small pool of its own keeps it off the
loop and bounds how many files are parsed at once (each is bounded in
memory by the upload limits, so two at a time bounds the total too).
Database work never runs here: it goes through ``Database.run``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class CpuWork:
    def __init__(self, threads: int = 2):
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="plinth-cpu")

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
