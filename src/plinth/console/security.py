"""The console's per-app state: users, sessions, the sign-in rate limiter.

Sign-in attempts are limited per user name and per client address with a
sliding window kept in memory (one process serves the console; replicas each
keep their own window, which still bounds guessing per replica).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from plinth.services import Services
from plinth.store.console_users import ConsoleUserStore, SessionStore

SESSION_COOKIE = "plinth_session"
IDLE = timedelta(hours=2)
ABSOLUTE = timedelta(hours=12)


@dataclass
class SignInLimiter:
    """At most ``per_user`` failures per name and ``per_ip`` per address in ``window_s``."""

    per_user: int = 5
    per_ip: int = 20
    window_s: float = 900.0
    _failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def retry_after(self, name: str, ip: str) -> int:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        now = time.monotonic()
        waits = []
        for key, most in ((f"user:{name.lower()}", self.per_user), (f"ip:{ip}", self.per_ip)):
            times = self._recent(key, now)
            if len(times) >= most:
                waits.append(int(self.window_s - (now - times[0])) + 1)
        return max(waits, default=0)

    def failed(self, name: str, ip: str) -> None:
        now = time.monotonic()
        self._failures[f"user:{name.lower()}"].append(now)
        self._failures[f"ip:{ip}"].append(now)

    def succeeded(self, name: str) -> None:
        self._failures.pop(f"user:{name.lower()}", None)


class ConsoleState:
    def __init__(self, svc: Services):
        self.svc = svc
        engine = svc.db.engine
        self.users = ConsoleUserStore(engine)
        self.sessions = SessionStore(engine, idle=IDLE, absolute=ABSOLUTE)
        self.limiter = SignInLimiter()
        self._zones: dict[str, tuple[float, str]] = {}

    async def tenant_timezone(self, tenant_id: str) -> str:
        """The tenant's time zone: its plan's, else its limits', else UTC (cached a minute)."""
        cached = self._zones.get(tenant_id)
        if cached and time.monotonic() - cached[0] < 60:
            return cached[1]
        name = await self.svc.db.run(self._lookup_zone, tenant_id)
        self._zones[tenant_id] = (time.monotonic(), name)
        return name

    def _lookup_zone(self, tenant_id: str) -> str:
        term = self.svc.billing.plans.term_at(tenant_id, datetime.now(UTC))
        if term is not None:
            return term.plan.timezone
        limits = self.svc.billing.limits.get("tenant:" + tenant_id)
        return limits.timezone if limits is not None else "UTC"


def console_state(app: Any, svc: Services) -> ConsoleState:
    state = getattr(app.state, "console", None)
    if state is None or state.svc is not svc:
        state = ConsoleState(svc)
        app.state.console = state
    return state
