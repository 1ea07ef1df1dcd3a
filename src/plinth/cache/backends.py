"""Where cached answers live: in this process (LRU, TTL, bounded) or in Redis.

Both store opaque bytes under a key with a time to live. The in-process one
is bounded by entries and bytes and drops the least recently used first; the
Redis one is shared by every replica (its memory bound is Redis's own
``maxmemory`` policy; each entry still expires after the TTL).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

REDIS_PREFIX = "plinth:rc:"


class CacheBackend(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def close(self) -> None: ...


class MemoryBackend:
    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        if len(value) > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (self._clock() + ttl_s, value)
        self.bytes += len(value)
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))  # the least recently used

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self.bytes -= len(value)

    async def close(self) -> None:
        self._entries.clear()
        self.bytes = 0


class RedisBackend:
    def __init__(self, url: str):
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url)

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(REDIS_PREFIX + key)
        return bytes(value) if value is not None else None

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        await self._redis.set(REDIS_PREFIX + key, value, px=max(1, int(ttl_s * 1000)))

    async def close(self) -> None:
        await self._redis.aclose()
