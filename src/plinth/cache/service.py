""":class:`ResponseCache`: what the gateway asks before and tells after a model call.

The gateway calls :meth:`ResponseCache.lookup` after the privacy screen and
the budget and rate-limit reservation (a request its key's policy blocks, or
its limits refuse, never gets this far); a hit is booked in the ledger with
``usage_source = "cache_hit"`` and priced by the ``cache_hit:<model>`` price
row (no row: free), settling the reservation at that price. A miss is stored
by :meth:`store` once the answer is whole.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from plinth.billing.prices import PriceBook
from plinth.cache.backends import CacheBackend, MemoryBackend, RedisBackend
from plinth.cache.keys import cache_key, deterministic, opted_in
from plinth.cache.replay import whole_from_stream
from plinth.cache.settings import ResponseCacheSettings
from plinth.engines.base import Json
from plinth.metering.accounting import Accounting
from plinth.store.door import Database

log = logging.getLogger(__name__)
HIT_SOURCE = "cache_hit"  # the ledger's usage_source of an answer served from the cache
HIT_PRICE_PREFIX = "cache_hit:"


def hit_price_model(model: str) -> str:
    """The price-book row that prices cache hits of ``model``."""
    return HIT_PRICE_PREFIX + model


class ResponseCache:
    def __init__(
        self,
        settings: ResponseCacheSettings,
        backend: CacheBackend,
        prices: PriceBook,
        db: Database,
    ):
        self.settings, self.backend, self.prices, self.db = settings, backend, prices, db

    def _key(self, acct: Accounting, body: Json) -> str | None:
        if not opted_in(self.settings, acct, acct.cache_opt_in):
            return None
        if self.settings.deterministic_only and not deterministic(body):
            return None
        return cache_key(self.settings, acct, body)

    async def lookup(self, acct: Accounting, body: Json) -> Json | None:
        """The cached answer (booked as a hit on ``acct``), or None (a miss, or not cached)."""
        key = self._key(acct, body)
        if key is None:
            return None
        acct.cache = "miss"
        try:
            raw = await self.backend.get(key)
        except Exception:  # a cache that is down is a miss, not an error
            log.exception("response cache lookup failed")
            return None
        if raw is None:
            return None
        answer: Json = json.loads(raw)
        await self._book_hit(acct, answer)
        return answer

    async def _book_hit(self, acct: Accounting, answer: Json) -> None:
        acct.cache = "hit"
        acct.take_usage(answer.get("usage"), HIT_SOURCE)
        acct.first_token()
        choices = answer.get("choices") or [{}]
        acct.finish_reason = choices[0].get("finish_reason")
        acct.price = await self.db.run(self.prices.price_for, hit_price_model(acct.model))
        prefix = "chatcmpl-" if answer.get("object") == "chat.completion" else "cmpl-"
        answer["id"] = prefix + acct.request_id
        answer["created"] = int(time.time())

    async def store(self, acct: Accounting, body: Json, answer: Json) -> None:
        """Keep a whole answer of a request that missed (errors are logged, not raised)."""
        if acct.cache != "miss" or acct.finish_reason not in ("stop", "length", "tool_calls"):
            return
        key = self._key(acct, body)
        if key is None:
            return
        value = json.dumps(answer, separators=(",", ":")).encode()
        if len(value) > self.settings.max_entry_bytes:
            return
        try:
            await self.backend.put(key, value, self.settings.ttl_s)
        except Exception:  # a failed store costs a later miss, nothing more
            log.exception("response cache store failed")

    async def store_stream(self, acct: Accounting, body: Json, is_chat: bool, text: str) -> None:
        """Keep a finished stream's answer, in the whole form (text-only streams)."""
        if body.get("tools") or (body.get("n") or 1) != 1:
            return  # tool calls and several choices are not rebuilt from a stream
        usage: Json = {
            "prompt_tokens": acct.prompt_tokens,
            "completion_tokens": acct.completion_tokens,
            "total_tokens": acct.prompt_tokens + acct.completion_tokens,
        }
        if acct.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": acct.cached_tokens}
        answer = whole_from_stream(is_chat, acct.model, text, acct.finish_reason, usage)
        answer["id"] = ("chatcmpl-" if is_chat else "cmpl-") + acct.request_id
        answer["created"] = int(time.time())
        await self.store(acct, body, answer)

    async def close(self) -> None:
        await self.backend.close()


def build_response_cache(
    settings: ResponseCacheSettings, redis_url: str | None, prices: PriceBook, db: Database
) -> ResponseCache:
    """Shared through Redis when the server has one, else in this process."""
    backend: Any = (
        RedisBackend(redis_url)
        if redis_url
        else MemoryBackend(max_entries=settings.max_entries, max_bytes=settings.max_bytes)
    )
    return ResponseCache(settings, backend, prices, db)
