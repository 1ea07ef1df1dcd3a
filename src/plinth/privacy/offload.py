"""Running large privacy inspections off the event loop, a few at a time per key.

Detection is linear in the text, but an 8 MiB body still takes seconds of CPU.
Done on the event loop that would stop every other request (and ``/health``)
for that long, so texts above ``inline_limit`` characters are inspected in a
small thread pool. Small prompts stay inline: handing a 2 KB prompt to a
thread costs more than scanning it.

One key may have at most ``per_key`` large inspections in flight; another one
is refused at once with a 429 (``RateLimited``, retry after a second) rather
than queued, so one key cannot fill the pool and the queue behind it. Waiting
would hold the request's body in memory for as long as the queue is long.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from plinth.errors import RateLimited

T = TypeVar("T")

INLINE_LIMIT = 32 * 1024  # characters: ~10 ms of scanning at most on the loop
WORKERS = 2
PER_KEY = 2


class ScanPool:
    def __init__(
        self, *, inline_limit: int = INLINE_LIMIT, workers: int = WORKERS, per_key: int = PER_KEY
    ):
        self.inline_limit = inline_limit
        self.per_key = per_key
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._active: Counter[str] = Counter()

    async def run(self, size: int, key: str | None, work: Callable[[], T]) -> T:
        """``work()``, inline when ``size`` is small, otherwise in the pool."""
        if size <= self.inline_limit:
            return work()
        owner = key or "anonymous"
        if self._active[owner] >= self.per_key:
            raise RateLimited(
                f"This key already has {self.per_key} large requests being screened for "
                "personal data; retry when one has finished",
                retry_after_s=1.0,
            )
        self._active[owner] += 1
        future = asyncio.get_running_loop().run_in_executor(self._pool(), work)
        # Released when the scan ends, not when the request does: a client that
        # hangs up does not stop the thread, so it must not free the slot early.
        future.add_done_callback(lambda _: self._release(owner))
        return await asyncio.shield(future)

    def _release(self, owner: str) -> None:
        self._active[owner] -= 1
        if not self._active[owner]:
            del self._active[owner]

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="privacy-scan")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
