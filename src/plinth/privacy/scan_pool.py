"""Where a request's personal-data scan runs: inline, or on a small fair thread pool.

Detection is linear in the text, but its cost per character varies fifty-fold:
~0.1 us for English, ~1 us for Chinese prose, ~16 us for a run of surnames
(every character starts a name to score), ~25 us for surnames before a title
(邓顾董邓顾董…, the worst shape a search found). On the event loop a 32 K-character
run of surnames stopped every other request (and ``/health``) for half a
second, so only texts up to ``inline_limit`` characters (2,048: ~30 ms for a run
of surnames, ~50 ms at the worst shape) are scanned inline, where a hand-off to a thread would
cost more than the scan. Longer texts go to ``workers`` threads. A thread does
not run beside the event loop (detection holds the interpreter lock), but the
loop gets its turn every few milliseconds instead of after the whole scan.

The pool is shared by every key, so it is scheduled, not first-come
first-served (an executor's queue would let one key's burst delay every other
key behind it, and two 8 MiB bodies of Han surnames, ~50 s each, held both
workers):

- a scan starts only when a worker is free (the executor never queues); the
  next one is the oldest of the key served least recently (for that kind of
  scan, long or short), so a key that just had a scan started waits behind
  every other key that has one waiting;
- texts over ``queue_limit`` characters (seconds to a minute of CPU) run on at
  most ``workers - 1`` threads at once: one worker is always left for shorter
  scans (at most ~0.5 s each), which therefore never wait behind a long one;
- one key may hold (waiting or running) at most ``per_key`` long scans and
  ``per_key_short`` shorter ones; one more is refused at once with a 429
  (``RateLimited``, retry after a second) rather than queued, since a waiting
  scan holds its request's body in memory;
- a scan that has not started when its request is cancelled (the client hung
  up) leaves the queue; one that has started runs to its end (a thread cannot
  be stopped) and keeps its key's slot until then.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from plinth.errors import RateLimited

T = TypeVar("T")

INLINE_LIMIT = 2 * 1024  # characters scanned on the loop: ~30-50 ms at the worst rates
QUEUE_LIMIT = 32 * 1024  # longer texts are "long": capped per key, never on every worker
WORKERS = 2
PER_KEY = 2  # long scans one key may hold
PER_KEY_SHORT = 8  # shorter (pool) scans one key may hold


@dataclass(eq=False)
class _Scan(Generic[T]):
    owner: str
    long: bool
    work: Callable[[], T]
    loop: asyncio.AbstractEventLoop
    result: asyncio.Future[T]
    started: bool = field(default=False)


def _consume(result: asyncio.Future[Any]) -> None:
    if not result.cancelled():
        result.exception()


class ScanPool:
    """Scans of longer texts on ``workers`` threads, fairly among keys (see the module)."""

    def __init__(
        self,
        *,
        inline_limit: int = INLINE_LIMIT,
        queue_limit: int = QUEUE_LIMIT,
        workers: int = WORKERS,
        per_key: int = PER_KEY,
        per_key_short: int = PER_KEY_SHORT,
    ):
        self.inline_limit = inline_limit
        self.queue_limit = max(queue_limit, inline_limit)
        self.per_key = per_key
        self.per_key_short = per_key_short
        self._workers = workers
        self._long_workers = max(1, workers - 1)
        self._executor: ThreadPoolExecutor | None = None
        self._held: Counter[tuple[str, bool]] = Counter()  # (owner, long): waiting + running
        self._waiting: dict[str, deque[_Scan[Any]]] = {}  # per owner, oldest first
        # (owner, long) -> when its last such scan started; kept while it holds one.
        self._served: dict[tuple[str, bool], int] = {}
        self._ticks = itertools.count(1)
        self._running = 0
        self._running_long = 0

    async def run(self, size: int, key: str | None, work: Callable[[], T]) -> T:
        """``work()``, inline when ``size`` is small, otherwise on the pool in its turn."""
        if size <= self.inline_limit:
            return work()
        owner = key or "anonymous"
        long = size > self.queue_limit
        cap = self.per_key if long else self.per_key_short
        if self._held[owner, long] >= cap:
            kind = "large" if long else "long-text"
            raise RateLimited(
                f"This key already has {cap} {kind} requests being screened for personal "
                "data; retry when one has finished",
                retry_after_s=1.0,
            )
        loop = asyncio.get_running_loop()
        scan = _Scan(owner, long, work, loop, loop.create_future())
        self._held[owner, long] += 1
        self._waiting.setdefault(owner, deque()).append(scan)
        self._dispatch()
        try:
            # Shielded: a cancelled request does not cancel a scan under way.
            return await asyncio.shield(scan.result)
        except asyncio.CancelledError:
            if not scan.started:
                self._withdraw(scan)
            else:  # nobody awaits its end now: an error it raises is not worth a warning
                scan.result.add_done_callback(_consume)
            raise

    def _dispatch(self) -> None:
        """Start waiting scans while a worker is free, least recently served key first."""
        while self._running < self._workers:
            scan = self._next()
            if scan is None:
                return
            self._start(scan)

    def _next(self) -> _Scan[Any] | None:
        long_full = self._running_long >= self._long_workers
        best: str | None = None
        for owner, queue in self._waiting.items():
            if long_full and queue[0].long:
                continue  # its long scan waits; its shorter ones wait behind it (per key FIFO)
            if best is None or self._last(queue[0]) < self._last(self._waiting[best][0]):
                best = owner
        if best is None:
            return None
        queue = self._waiting[best]
        scan = queue.popleft()
        if not queue:
            del self._waiting[best]
        return scan

    def _last(self, scan: _Scan[Any]) -> int:
        """When the scan's key last had a scan of its kind started (0: not while it holds one):
        a key that has just had a short scan is not behind for a long one."""
        return self._served.get((scan.owner, scan.long), 0)

    def _start(self, scan: _Scan[Any]) -> None:
        scan.started = True
        self._served[scan.owner, scan.long] = next(self._ticks)
        self._running += 1
        self._running_long += scan.long
        future = scan.loop.run_in_executor(self._pool(), scan.work)
        future.add_done_callback(lambda done: self._finished(scan, done))

    def _finished(self, scan: _Scan[Any], done: asyncio.Future[Any]) -> None:
        self._running -= 1
        self._running_long -= scan.long
        self._release(scan)
        if not scan.result.done():
            if done.cancelled():  # the pool was closed under it
                scan.result.cancel()
            elif (error := done.exception()) is not None:
                scan.result.set_exception(error)
            else:
                scan.result.set_result(done.result())
        self._dispatch()

    def _withdraw(self, scan: _Scan[Any]) -> None:
        queue = self._waiting.get(scan.owner)
        if queue is not None and scan in queue:
            queue.remove(scan)
            if not queue:
                del self._waiting[scan.owner]
            self._release(scan)

    def _release(self, scan: _Scan[Any]) -> None:
        slot = (scan.owner, scan.long)
        self._held[slot] -= 1
        if self._held[slot] <= 0:
            del self._held[slot]
            self._served.pop(slot, None)  # nothing held: forgotten, so nothing grows per key

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="privacy-scan")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
