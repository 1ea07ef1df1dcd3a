"""Reserve-then-settle: budgets that concurrency cannot overspend, and rate limits.

Before a request goes upstream, one atomic step checks and reserves, for the
key and its tenant: the worst-case cost against each money budget (settled
spend + live reservations + this one ≤ limit), one request and the
worst-case tokens against the per-minute limits, and one in-flight slot.
When the request ends the reservation is settled to its true cost (or
released). A reservation whose process died expires after ``ttl_s`` and
stops counting.

Two backends with the same semantics: :class:`LocalMeter` (one process, in
memory) and :class:`RedisMeter` (shared by every replica; each step is one Lua
script, so replicas cannot interleave inside it). Settled spend is seeded
from the ledger the first time a counter is used, so a restart (or a Redis
without persistence) does not forget what was spent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from plinth.errors import Refused

#: Settled spend so far, read from the ledger through the database door.
SpentFromLedger = Callable[[], Awaitable[int]]
#: Seconds since the epoch: ``time.time``, or a test's clock (expiry without waiting).
Clock = Callable[[], float]


@dataclass(frozen=True)
class BudgetCheck:
    counter: str  # e.g. "tenant:ten_1:2026-11"
    limit_micros: int
    amount_micros: int
    seed: SpentFromLedger  # settled spend so far, from the ledger
    expire_at: float | None = None  # when the counter may be forgotten (period end)


@dataclass(frozen=True)
class RateCheck:
    subject: str
    requests_per_minute: int | None
    tokens_per_minute: int | None
    max_concurrent: int | None


@dataclass
class Demand:
    request_id: str
    budgets: list[BudgetCheck] = field(default_factory=list)
    rates: list[RateCheck] = field(default_factory=list)
    tokens: int = 0


@dataclass
class Reservation:
    demand: Demand
    minute: int
    settled: bool = False


class Meter(Protocol):
    ttl_s: float  # a reservation not settled within this stops counting

    async def reserve(self, demand: Demand) -> Reservation: ...

    async def settle(self, reservation: Reservation, cost_micros: int, tokens: int) -> None: ...


def _minute(now: float) -> int:
    return int(now // 60)


def _retry_after(now: float) -> float:
    return 60 - (now % 60)


# --- one process --------------------------------------------------------------------------


class LocalMeter:
    """In-memory reservations for a single process (SQLite deployments)."""

    def __init__(self, ttl_s: float, *, clock: Clock = time.time):
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._spent: dict[str, int] = {}
        self._held: dict[
            str, dict[str, tuple[int, float]]
        ] = {}  # counter → request → (amount, expiry)
        self._per_minute: dict[tuple[str, str, int], int] = {}
        self._in_flight: dict[str, dict[str, float]] = {}

    def _reserved(self, counter: str, now: float) -> int:
        held = self._held.setdefault(counter, {})
        for request, (_, expiry) in list(held.items()):
            if expiry <= now:
                del held[request]
        return sum(amount for amount, _ in held.values())

    async def reserve(self, demand: Demand) -> Reservation:
        for check in demand.budgets:  # seeding reads the ledger: outside the lock
            if check.counter not in self._spent:
                seeded = await check.seed()
                with self._lock:
                    self._spent.setdefault(check.counter, seeded)
        now = self._clock()
        minute, expiry = _minute(now), now + self.ttl_s
        with self._lock:
            for check in demand.budgets:
                total = self._spent[check.counter] + self._reserved(check.counter, now)
                if total + check.amount_micros > check.limit_micros:
                    raise Refused("budget", check.counter)
            for rate in demand.rates:
                if rate.requests_per_minute is not None:
                    used = self._per_minute.get((rate.subject, "req", minute), 0)
                    if used + 1 > rate.requests_per_minute:
                        raise Refused("requests", rate.subject, _retry_after(now))
                if rate.tokens_per_minute is not None:
                    used = self._per_minute.get((rate.subject, "tok", minute), 0)
                    if used + demand.tokens > rate.tokens_per_minute:
                        raise Refused("tokens", rate.subject, _retry_after(now))
                if rate.max_concurrent is not None:
                    flights = self._in_flight.setdefault(rate.subject, {})
                    for request, until in list(flights.items()):
                        if until <= now:
                            del flights[request]
                    if len(flights) >= rate.max_concurrent:
                        raise Refused("concurrency", rate.subject, 1.0)
            for check in demand.budgets:
                self._held[check.counter][demand.request_id] = (check.amount_micros, expiry)
            for rate in demand.rates:
                key = (rate.subject, "req", minute)
                self._per_minute[key] = self._per_minute.get(key, 0) + 1
                key = (rate.subject, "tok", minute)
                self._per_minute[key] = self._per_minute.get(key, 0) + demand.tokens
                if rate.max_concurrent is not None:
                    self._in_flight[rate.subject][demand.request_id] = expiry
            for key in [k for k in self._per_minute if k[2] < minute - 1]:
                del self._per_minute[key]
        return Reservation(demand, minute)

    async def settle(self, reservation: Reservation, cost_micros: int, tokens: int) -> None:
        if reservation.settled:
            return
        reservation.settled = True
        demand = reservation.demand
        with self._lock:
            for check in demand.budgets:
                self._held.get(check.counter, {}).pop(demand.request_id, None)
                self._spent[check.counter] = self._spent.get(check.counter, 0) + cost_micros
            for rate in demand.rates:
                key = (rate.subject, "tok", reservation.minute)
                if key in self._per_minute:
                    self._per_minute[key] += tokens - demand.tokens
                self._in_flight.get(rate.subject, {}).pop(demand.request_id, None)


# --- every replica: Redis -----------------------------------------------------------------

_RESERVE = """
local now, expiry, id, ntok = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local minute, nb, nr = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local i = 8
local budgets = {}
for b = 1, nb do
  local c, limit, amount = ARGV[i], tonumber(ARGV[i+1]), tonumber(ARGV[i+2])
  i = i + 3
  local spent = redis.call('GET', 'plinth:spent:' .. c)
  if not spent then return {-2, b} end
  local z, h, s = 'plinth:held:' .. c, 'plinth:heldamt:' .. c, 'plinth:heldsum:' .. c
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', now)) do
    local a = redis.call('HGET', h, m)
    if a then redis.call('DECRBY', s, a) end
    redis.call('HDEL', h, m)
    redis.call('ZREM', z, m)
  end
  local held = tonumber(redis.call('GET', s) or '0')
  if tonumber(spent) + held + amount > limit then return {-1, b} end
  budgets[b] = {z, h, s, amount}
end
local rates = {}
for r = 1, nr do
  local subject = ARGV[i]
  local rpm, tpm, conc = tonumber(ARGV[i+1]), tonumber(ARGV[i+2]), tonumber(ARGV[i+3])
  i = i + 4
  local rk = 'plinth:rpm:' .. subject .. ':' .. minute
  local tk = 'plinth:tpm:' .. subject .. ':' .. minute
  local ck = 'plinth:inflight:' .. subject
  if rpm >= 0 and tonumber(redis.call('GET', rk) or '0') + 1 > rpm then return {-3, r} end
  if tpm >= 0 and tonumber(redis.call('GET', tk) or '0') + ntok > tpm then return {-4, r} end
  if conc >= 0 then
    redis.call('ZREMRANGEBYSCORE', ck, '-inf', now)
    if redis.call('ZCARD', ck) >= conc then return {-5, r} end
  end
  rates[r] = {rk, tk, ck, conc}
end
for _, b in pairs(budgets) do
  redis.call('ZADD', b[1], expiry, id)
  redis.call('HSET', b[2], id, b[4])
  redis.call('INCRBY', b[3], b[4])
end
for _, r in pairs(rates) do
  redis.call('INCR', r[1]); redis.call('EXPIRE', r[1], 120)
  redis.call('INCRBY', r[2], ntok); redis.call('EXPIRE', r[2], 120)
  if r[4] >= 0 then redis.call('ZADD', r[3], expiry, id) end
end
return {1, 0}
"""

_SETTLE = """
local id, cost, dtok, minute = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local nb, nr = tonumber(ARGV[5]), tonumber(ARGV[6])
local i = 7
for b = 1, nb do
  local c = ARGV[i]
  i = i + 1
  local z, h, s = 'plinth:held:' .. c, 'plinth:heldamt:' .. c, 'plinth:heldsum:' .. c
  local a = redis.call('HGET', h, id)
  if a then
    redis.call('DECRBY', s, a)
    redis.call('HDEL', h, id)
    redis.call('ZREM', z, id)
  end
  if cost > 0 then redis.call('INCRBY', 'plinth:spent:' .. c, cost) end
end
for r = 1, nr do
  local subject = ARGV[i]
  i = i + 1
  local tk = 'plinth:tpm:' .. subject .. ':' .. minute
  if dtok ~= 0 and redis.call('EXISTS', tk) == 1 then redis.call('INCRBY', tk, dtok) end
  redis.call('ZREM', 'plinth:inflight:' .. subject, id)
end
return 1
"""


class RedisMeter:
    """Reservations shared by every replica, in Redis."""

    def __init__(self, url: str, ttl_s: float, *, clock: Clock = time.time):
        import redis.asyncio as aioredis

        self.ttl_s = ttl_s
        self._clock = clock  # the script's "now" comes from here, not from Redis
        self._redis: Any = aioredis.from_url(url)
        self._reserve = self._redis.register_script(_RESERVE)
        self._settle = self._redis.register_script(_SETTLE)

    async def close(self) -> None:
        await self._redis.aclose()

    async def _seed(self, check: BudgetCheck) -> None:
        key = "plinth:spent:" + check.counter
        seeded = await check.seed()
        await self._redis.set(key, seeded, nx=True)
        if check.expire_at is not None:
            await self._redis.expireat(key, int(check.expire_at) + 86400 * 35)

    async def reserve(self, demand: Demand) -> Reservation:
        now = self._clock()
        minute = _minute(now)
        argv: list[Any] = [now, now + self.ttl_s, demand.request_id, demand.tokens, minute]
        argv += [len(demand.budgets), len(demand.rates)]
        for check in demand.budgets:
            argv += [check.counter, check.limit_micros, check.amount_micros]
        for rate in demand.rates:
            argv += [rate.subject] + [
                -1 if v is None else v
                for v in (rate.requests_per_minute, rate.tokens_per_minute, rate.max_concurrent)
            ]
        for _ in range(len(demand.budgets) + 1):
            code, index = await self._reserve(args=argv)
            if code != -2:
                break
            await self._seed(demand.budgets[int(index) - 1])  # a counter not seen yet
        if code == 1:
            return Reservation(demand, minute)
        if code == -1:
            raise Refused("budget", demand.budgets[int(index) - 1].counter)
        kind = {-3: "requests", -4: "tokens", -5: "concurrency"}[int(code)]
        retry = 1.0 if kind == "concurrency" else _retry_after(now)
        raise Refused(kind, demand.rates[int(index) - 1].subject, retry)

    async def settle(self, reservation: Reservation, cost_micros: int, tokens: int) -> None:
        if reservation.settled:
            return
        reservation.settled = True
        demand = reservation.demand
        argv: list[Any] = [
            demand.request_id,
            cost_micros,
            tokens - demand.tokens,
            reservation.minute,
            len(demand.budgets),
            len(demand.rates),
        ]
        argv += [check.counter for check in demand.budgets]
        argv += [rate.subject for rate in demand.rates]
        await self._settle(args=argv)
