"""A per-deployment circuit breaker.

After ``failure_threshold`` consecutive failures the breaker opens: the
deployment gets no traffic for ``cooldown_s``. Then it is half-open: one
request (or a passing health check) may try it; success closes the breaker,
failure opens it for another cooldown.
"""

from __future__ import annotations

import time
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(self, failure_threshold: int, cooldown_s: float):
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at < self.cooldown_s:
            return "open"
        return "half_open"

    def allows(self) -> bool:
        """Whether a request may go to this deployment now (without reserving it)."""
        state = self.state
        return state == "closed" or (state == "half_open" and not self._trial_in_flight)

    def begin(self) -> None:
        """A request is going out; in half-open state it is the one trial."""
        if self.state == "half_open":
            self._trial_in_flight = True

    def success(self) -> None:
        self.consecutive_failures = 0
        self.opened_at = None
        self._trial_in_flight = False

    def failure(self, *, hold_s: float | None = None) -> None:
        """Count a failure; ``hold_s`` (e.g. a Retry-After) opens it at once for that long."""
        self.consecutive_failures += 1
        self._trial_in_flight = False
        if self.state == "half_open" or self.consecutive_failures >= self.failure_threshold:
            self.opened_at = time.monotonic()
        if hold_s is not None and hold_s > 0:
            now = time.monotonic()
            # Open until at least now + hold_s.
            self.opened_at = max(self.opened_at or 0.0, now + hold_s - self.cooldown_s)

    def release(self) -> None:
        """A trial ended without a verdict (e.g. the client's own error)."""
        self._trial_in_flight = False

    def snapshot(self) -> dict[str, object]:
        remaining = None
        if self.state == "open" and self.opened_at is not None:
            remaining = round(self.cooldown_s - (time.monotonic() - self.opened_at), 3)
        return {
            "state": self.state,
            "consecutive_failures": self.consecutive_failures,
            "cooldown_remaining_s": remaining,
        }
