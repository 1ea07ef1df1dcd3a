"""Large request bodies are parsed off the event loop, at most two per key at once.

Decoding, bounding and validating an 8 MiB JSON body is linear but takes tens
of milliseconds (more under load); on the event loop that would stall every
other client for as long, and a key sending many at once would stall them for
longer. Bodies of :data:`OFF_LOOP_BYTES` and more go to a small thread pool
instead (the loop keeps running between the interpreter's thread switches),
and a key with :data:`PER_KEY` such bodies in progress gets a 429 for the next
one. Small bodies, nearly all, are parsed inline: a thread hop would cost more.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pydantic import BaseModel

from plinth.api.http import parse_json, peek_model
from plinth.errors import PlinthError, RateLimited

M = TypeVar("M", bound=BaseModel)

OFF_LOOP_BYTES = 256 * 1024
PER_KEY = 2
WORKERS = 2


def _peek_and_parse(raw: bytes, model: type[M]) -> tuple[str | None, M | PlinthError]:
    try:
        return peek_model(raw), parse_json(raw, model)
    except PlinthError as exc:
        return peek_model(raw), exc


class BodyParser:
    """One per app: its threads start on the first large body."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="plinth-body")
        self._in_progress: Counter[str] = Counter()

    async def parse(
        self, raw: bytes, model: type[M], owner: str
    ) -> tuple[str | None, M | PlinthError]:
        """The body's ``model`` name (for the ledger, even if refused) and the request
        or the client error it is; the 429 for a busy key is raised."""
        if len(raw) < OFF_LOOP_BYTES:
            return _peek_and_parse(raw, model)
        if self._in_progress[owner] >= PER_KEY:
            raise RateLimited(
                f"At most {PER_KEY} large request bodies per key are read at once; retry shortly",
                retry_after_s=1,
            )
        self._in_progress[owner] += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, _peek_and_parse, raw, model)
        finally:
            self._in_progress[owner] -= 1
            if not self._in_progress[owner]:
                del self._in_progress[owner]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
