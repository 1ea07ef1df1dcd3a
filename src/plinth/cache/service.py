""":class:`ResponseCache`: what the gateway asks before and tells after a model call.

The gateway calls :meth:`ResponseCache.lookup` after the privacy screen and
the budget and rate-limit reservation (a request its key's policy blocks, or
its limits refuse, never gets this far); a hit is booked in the ledger with
``usage_source = "cache_hit"`` and priced by the ``cache_hit:<model>`` price
row (no row: free), settling the reservation at that price. A miss is stored
by :meth:`store` once the answer is whole.

Which requests the cache may answer, and the key of one: the key is a hash of
the normalised request as the gateway sees it after the privacy screen: the
endpoint, the model, every parameter that changes the output (not ``stream``,
``stream_options`` or ``user``), the privacy policy's name and decision, and
the tenant (unless the cache is shared across tenants). Two keys whose
policies decide differently never share an entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from plinth.billing.prices import PriceBook
from plinth.cache.backends import CacheBackend, MemoryBackend, RedisBackend
from plinth.cache.replay import whole_from_stream
from plinth.cache.settings import ResponseCacheSettings
from plinth.engines.base import Json
from plinth.metering.accounting import Accounting
from plinth.store.door import Database

log = logging.getLogger(__name__)
HIT_SOURCE = "cache_hit"  # the ledger's usage_source of an answer served from the cache
HIT_PRICE_PREFIX = "cache_hit:"

# Parameters that do not change what the model answers.
IGNORED = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})


def opted_in(settings: ResponseCacheSettings, acct: Accounting, header: str | None) -> bool:
    """The request's own header decides first ('off' always wins), then key and tenant."""
    choice = (header or "").strip().lower()
    if choice in ("off", "no", "0", "false"):
        return False
    if choice in ("on", "yes", "1", "true") and settings.per_request:
        return True
    principal = acct.principal
    if settings.all_keys:
        return True
    if principal is None:
        return False
    return principal.key_id in settings.keys or (
        principal.tenant_id is not None and principal.tenant_id in settings.tenants
    )


def deterministic(body: dict[str, Any]) -> bool:
    """Temperature 0 or a seed: the same request gives the same answer."""
    return body.get("temperature") == 0 or body.get("seed") is not None


def cache_key(settings: ResponseCacheSettings, acct: Accounting, body: dict[str, Any]) -> str:
    normalised = {k: v for k, v in body.items() if k not in IGNORED}
    privacy = acct.privacy
    scope = {
        "endpoint": acct.endpoint,
        "tenant": None if settings.shared_across_tenants else _tenant(acct),
        "policy": (privacy.policy, privacy.action) if privacy is not None else None,
        "request": normalised,
    }
    text = json.dumps(scope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _tenant(acct: Accounting) -> str:
    principal = acct.principal
    if principal is None:
        return "-"
    # A key outside any tenant is its own tenant.
    return principal.tenant_id or f"key:{principal.key_id}"


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
        # Whether configuration opts some request in without a header (every key,
        # listed keys or tenants). If not, only a request that sends the header can
        # use the cache, and the gateway does not call it for any other.
        self.opted_in_by_config = bool(settings.all_keys or settings.keys or settings.tenants)

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
