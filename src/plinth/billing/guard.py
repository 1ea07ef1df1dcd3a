"""Billing in the request path: what to reserve before a request, what to charge after.

The worst case reserved is the price of the estimated prompt (with a margin:
the estimate is not a tokenizer) plus ``max_tokens`` of output (or
``billing.assumed_max_tokens`` when the request sets none), plus the request
fee, plus the per-second price for the longest a request may be held
(the reservation TTL). The charge is computed from the counted usage and the
same price row. Zero-priced models are never held back by money limits;
request and token limits still apply to them.

A tenant on a subscription plan is not held to its wallet (it is invoiced);
a hard-stop plan adds one more budget to the same atomic reservation: the
plan period's included usage, so concurrent requests cannot spend past it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from plinth.auth import Principal
from plinth.billing.accounts import (
    Limits,
    LimitStore,
    WalletStore,
    period_bounds,
    period_end,
    spent_since,
)
from plinth.billing.meter import (
    BudgetCheck,
    Demand,
    Meter,
    RateCheck,
    Reservation,
    SpentFromLedger,
)
from plinth.billing.plans import PlanStore, PlanTerm
from plinth.billing.prices import Price, PriceBook
from plinth.errors import InsufficientFunds, PlinthError, RateLimited, Refused
from plinth.store.door import Database

_CACHE_TTL_S = 2.0


class Billing:
    def __init__(
        self,
        db: Database,
        meter: Meter,
        prices: PriceBook,
        *,
        assumed_max_tokens: int,
        prompt_margin: float = 1.25,
        longest_request_s: float | None = None,
    ):
        self.db = db
        self.engine = engine = db.engine
        self.meter = meter
        self.prices = prices
        self.limits = LimitStore(engine)
        self.wallets = WalletStore(engine)
        self.plans = PlanStore(engine)
        # Serving time is only known at the end: hold the per-second price for the
        # longest a reservation counts (a request outliving it stops counting anyway).
        self.longest_request_ms = int(1000 * (longest_request_s or meter.ttl_s))
        self.assumed_max_tokens = assumed_max_tokens
        self.prompt_margin = prompt_margin
        # key → (the load's future, when it goes stale). Concurrent requests that
        # find an entry stale or missing share one load: without that, every
        # request in flight when an entry expires queried the database at once.
        self._cache: dict[str, tuple[asyncio.Future[Any], float]] = {}
        self._prices_reread: asyncio.Future[Any] | None = None

    async def _cached(self, key: str, load: Callable[[], Any]) -> Any:
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and (hit[1] > now or not hit[0].done()):
            return await asyncio.shield(hit[0])
        if hit is not None and hit[0].exception() is None:
            # Stale: answered from the cache at once and reloaded behind this request,
            # so no request waits on a database round trip before it is forwarded
            # (a key read every 2 s cost every other streamed request one).
            self._reload_behind(key, load, hit[0], now)
            return hit[0].result()
        future: asyncio.Future[Any] = asyncio.ensure_future(self.db.run(load))
        self._cache[key] = (future, now + _CACHE_TTL_S)
        try:
            return await asyncio.shield(future)
        except Exception:
            if self._cache.get(key, (None,))[0] is future:
                del self._cache[key]  # a failed load is retried by the next request
            raise

    def _reload_behind(
        self, key: str, load: Callable[[], Any], current: asyncio.Future[Any], now: float
    ) -> None:
        """Load ``key`` again in the background; the entry turns to it once loaded."""
        fresh: asyncio.Future[Any] = asyncio.ensure_future(self.db.run(load))
        self._cache[key] = (current, now + _CACHE_TTL_S)  # one reload at a time

        def loaded(done: asyncio.Future[Any]) -> None:
            if done.cancelled() or done.exception() is not None:
                if self._cache.get(key, (None,))[0] is current:
                    self._cache[key] = (current, 0.0)  # the next request tries again
                return
            if self._cache.get(key, (None,))[0] is current:  # not forgotten meanwhile
                self._cache[key] = (done, time.monotonic() + _CACHE_TTL_S)

        fresh.add_done_callback(loaded)

    def _reread_prices_behind(self) -> None:
        """One background re-read of the price rows at a time (no request waits on it)."""
        if self._prices_reread is not None and not self._prices_reread.done():
            return
        reread = asyncio.ensure_future(self.db.run(self.prices.all))
        # A failed re-read is retried by the next request that finds the rows stale.
        reread.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._prices_reread = reread

    def forget(self) -> None:
        """Drop cached limits and wallet funds (after the admin API changed them)."""
        self._cache.clear()

    async def reserve(
        self,
        request_id: str,
        principal: Principal | None,
        model: str,
        prompt_tokens_estimate: int | Callable[[], int],
        max_tokens: int | None,
        units: tuple[str, int] | None = None,
    ) -> tuple[Reservation | None, Price | None]:
        """Hold the worst case; ``units`` is a pass-through request's (unit, most units).
        ``prompt_tokens_estimate`` may be a function: it is called only if a limit applies."""
        if not self.prices.read_once:  # read off the event loop before the first answer
            await self.db.run(self.prices.all)
        elif self.prices.stale:  # re-read behind this request (prices a few seconds old)
            self._reread_prices_behind()
        price = self.prices.cached_price_for(model)
        if principal is None:
            return None, price
        subjects = [f"key:{principal.key_id}"]
        if principal.tenant_id:
            subjects.append(f"tenant:{principal.tenant_id}")
        limited: list[tuple[str, Limits]] = []
        for subject in subjects:
            limits: Limits | None = await self._cached(
                "limits:" + subject, functools.partial(self.limits.get, subject)
            )
            if limits is not None:
                limited.append((subject, limits))
        if not limited and not principal.tenant_id:
            # A key with no limits and no tenant (most keys): nothing to hold, so the
            # worst case is not worked out (its arithmetic was ~2 % of a proxied request).
            return None, price
        if callable(prompt_tokens_estimate):
            prompt_tokens_estimate = prompt_tokens_estimate()
        prompt = int(prompt_tokens_estimate * self.prompt_margin) + 16
        output = max_tokens if max_tokens is not None else self.assumed_max_tokens
        worst = 0
        if price is not None:
            worst = price.cost(prompt, output) + price.compute_cost(self.longest_request_ms)
            if units is not None:
                worst += price.unit_cost(*units)
        demand = Demand(request_id, tokens=prompt + output)
        now = datetime.now(UTC)
        for subject, limits in limited:
            if limits.spend_micros is not None and worst > 0:
                period_id, start = period_bounds(limits.spend_period, limits.timezone, now)
                end = period_end(limits.spend_period, limits.timezone, now)
                demand.budgets.append(
                    BudgetCheck(
                        counter=f"{subject}:{period_id}",
                        limit_micros=limits.spend_micros,
                        amount_micros=worst,
                        seed=self._spent(subject, start),
                        expire_at=end.timestamp() if end else None,
                    )
                )
            if (
                limits.requests_per_minute is not None
                or limits.tokens_per_minute is not None
                or limits.max_concurrent is not None
            ):
                demand.rates.append(
                    RateCheck(
                        subject,
                        limits.requests_per_minute,
                        limits.tokens_per_minute,
                        limits.max_concurrent,
                    )
                )
        term = None
        if principal.tenant_id:
            term = await self._plan_term(principal.tenant_id, now)
        if principal.tenant_id and worst > 0 and term is not None:
            tenant = f"tenant:{principal.tenant_id}"
            if term.plan.overage == "stop":
                demand.budgets.append(
                    BudgetCheck(
                        counter=f"{tenant}:plan:{term.subscription_id}:{term.period_id}",
                        limit_micros=term.plan.included_micros,
                        amount_micros=worst,
                        seed=self._spent(tenant, term.starts),
                        expire_at=term.ends.timestamp(),
                    )
                )
        elif principal.tenant_id and worst > 0:
            tenant = f"tenant:{principal.tenant_id}"
            funds = await self._cached(
                "wallet:" + tenant, lambda: self.wallets.funds(principal.tenant_id or "")
            )
            if funds is not None:
                demand.budgets.append(
                    BudgetCheck(
                        counter=f"{tenant}:wallet",
                        limit_micros=funds,
                        amount_micros=worst,
                        seed=self._spent(tenant, datetime(1970, 1, 1, tzinfo=UTC)),
                    )
                )
        if not demand.budgets and not demand.rates:
            return None, price
        try:
            return await self.meter.reserve(demand), price
        except Refused as refused:
            raise _refusal(refused, model, term) from None

    def _spent(self, subject: str, since: datetime) -> SpentFromLedger:
        """Read ``subject``'s settled spend since ``since`` from the ledger, via the door."""
        return lambda: self.db.run(spent_since, self.engine, subject, since)

    async def _plan_term(self, tenant_id: str, now: datetime) -> PlanTerm | None:
        term: PlanTerm | None = await self._cached(
            "plan:" + tenant_id, lambda: self.plans.term_at(tenant_id, now)
        )
        if term is not None and term.ends <= now:  # cached across a period boundary
            self._cache.pop("plan:" + tenant_id, None)
            term = await self._cached(
                "plan:" + tenant_id, lambda: self.plans.term_at(tenant_id, now)
            )
        return term

    async def close(self) -> None:
        close = getattr(self.meter, "close", None)
        if close is not None:
            await close()

    async def settle(self, reservation: Reservation | None, cost_micros: int, tokens: int) -> None:
        if reservation is not None:
            await self.meter.settle(reservation, cost_micros, tokens)


def _refusal(refused: Refused, model: str, term: PlanTerm | None) -> PlinthError:
    who = refused.subject.split(":")[0]
    if refused.kind == "budget" and term is not None and ":plan:" in refused.subject:
        return InsufficientFunds(
            f"The included usage of plan '{term.plan.name}' for this period is used up "
            f"(model '{model}'); requests are refused until the next period starts at "
            f"{term.ends.isoformat()}",
            code="included_usage_exhausted",
        )
    if refused.kind == "budget":
        what = "wallet" if refused.subject.endswith(":wallet") else "spend budget"
        return InsufficientFunds(
            f"This request could cost more than the {who}'s remaining {what} allows "
            f"(model '{model}'); top up, raise the limit, or lower max_tokens",
        )
    limit = {
        "requests": "requests per minute",
        "tokens": "tokens per minute",
        "concurrency": "concurrent requests",
    }[refused.kind]
    return RateLimited(
        f"Rate limit reached: the {who}'s {limit}; retry later",
        retry_after_s=refused.retry_after_s,
    )
