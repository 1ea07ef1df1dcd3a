"""What the router knows about one deployment while it runs: its attempts, counters,
latency, health and circuit breaker.

The circuit breaker: after ``failure_threshold`` consecutive failures it opens
and the deployment gets no traffic for ``cooldown_s``. Then it is half-open:
one request (or a passing health check) may try it; success closes the
breaker, failure opens it for another cooldown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from plinth.deployment import Deployment
from plinth.engines.base import Engine
from plinth.errors import UpstreamError

_MILLION = Decimal(1_000_000)

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        cooldown_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock = clock  # seconds; tests pass their own
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at < self.cooldown_s:
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
            self.opened_at = self.clock()
        if hold_s is not None and hold_s > 0:
            now = self.clock()
            # Open until at least now + hold_s.
            self.opened_at = max(self.opened_at or 0.0, now + hold_s - self.cooldown_s)

    def release(self) -> None:
        """A trial ended without a verdict (e.g. the client's own error)."""
        self._trial_in_flight = False

    def snapshot(self) -> dict[str, object]:
        remaining = None
        if self.state == "open" and self.opened_at is not None:
            remaining = round(self.cooldown_s - (self.clock() - self.opened_at), 3)
        return {
            "state": self.state,
            "consecutive_failures": self.consecutive_failures,
            "cooldown_remaining_s": remaining,
        }


class DeploymentState:
    def __init__(
        self,
        deployment: Deployment,
        engine: Engine,
        breaker: CircuitBreaker,
        *,
        source: str,
        usd_per_unit: Decimal | None,
        ewma_alpha: float = 0.2,
    ):
        self.deployment = deployment
        self.engine = engine
        self.breaker = breaker
        self.source = source  # "config", "api" or "catalog" (a local model)
        self.is_local = deployment.is_local  # fixed per deployment; asked on every request
        self.usd_per_unit = usd_per_unit  # the deployment's currency in USD; None if unknown
        self.ewma_alpha = ewma_alpha
        self.outstanding = 0
        self.ttft_ewma_s: float | None = None
        self.requests = 0
        self.failures = 0
        self.healthy: bool | None = None  # None: not probed (yet)
        self.last_health_error: str | None = None
        self.last_health_at: float | None = None

    @property
    def id(self) -> str:
        return self.deployment.id

    def attempt(self) -> Attempt:
        """One call to this deployment: ``with state.attempt() as attempt: await call()``.

        Leaving the block with an :class:`UpstreamError` counts a failure (and
        the breaker hears of it, with any Retry-After); with any other exception
        the attempt gave no verdict (e.g. the client's own error or a
        disconnect). Leaving it normally is a success, but the attempt stays in
        ``outstanding`` until :meth:`Attempt.close`: a response or stream still
        occupies the deployment after its call returned. (The :class:`Attempt` is
        its own context manager: a ``@contextmanager`` generator per request cost
        a few microseconds of the proxy path.)
        """
        return Attempt(self)

    def usable(self) -> bool:
        return self.healthy is not False and self.breaker.allows()

    def observe_ttft(self, seconds: float) -> None:
        if self.ttft_ewma_s is None:
            self.ttft_ewma_s = seconds
        else:
            self.ttft_ewma_s += self.ewma_alpha * (seconds - self.ttft_ewma_s)

    def expected_cost_usd(self, prompt_tokens: int, completion_tokens: int) -> Decimal | None:
        d = self.deployment
        if self.is_local:
            return Decimal(0)  # local compute: no per-token price
        if d.input_price_per_mtok is None or d.output_price_per_mtok is None:
            return None
        if self.usd_per_unit is None:
            return None
        native = (d.input_price_per_mtok * prompt_tokens) + (
            d.output_price_per_mtok * completion_tokens
        )
        return native / _MILLION * self.usd_per_unit

    def health_passed(self) -> None:
        self.healthy, self.last_health_error = True, None
        self.last_health_at = time.time()
        if self.breaker.state == "half_open":
            self.breaker.success()

    def health_failed(self, reason: str) -> None:
        self.healthy, self.last_health_error = False, reason
        self.last_health_at = time.time()

    def snapshot(self) -> dict[str, object]:
        d = self.deployment
        return {
            "id": d.id,
            "object": "deployment",
            "model": d.model,
            "source": self.source,
            "config": d.model_dump(mode="json"),
            "state": {
                "usable": self.usable(),
                "breaker": self.breaker.snapshot(),
                "healthy": self.healthy,
                "last_health_error": self.last_health_error,
                "last_health_at": self.last_health_at,
                "outstanding": self.outstanding,
                "ttft_ewma_ms": round(self.ttft_ewma_s * 1000, 3)
                if self.ttft_ewma_s is not None
                else None,
                "requests": self.requests,
                "failures": self.failures,
            },
        }


class Attempt:
    """One call to a deployment, counted in its ``outstanding`` until closed, and timed."""

    def __init__(self, state: DeploymentState):
        self.state = state
        self.started = time.perf_counter()
        self.ended: float | None = None  # when the verdict came
        self._open = True
        state.outstanding += 1
        state.breaker.begin()

    @property
    def latency_ms(self) -> float:
        """From sending to the verdict (or to now, before one)."""
        ended = self.ended if self.ended is not None else time.perf_counter()
        return round((ended - self.started) * 1000, 3)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        if exc is None:
            self.succeeded()
        elif isinstance(exc, UpstreamError):
            self.failed(exc)
        else:
            self.abandoned()

    def succeeded(self) -> None:
        self.ended = time.perf_counter()
        self.state.requests += 1
        self.state.breaker.success()

    def failed(self, exc: UpstreamError) -> None:
        self.ended = time.perf_counter()
        self.close()
        self.state.failures += 1
        self.state.breaker.failure(hold_s=exc.retry_after_s)

    def abandoned(self) -> None:
        self.ended = time.perf_counter()
        self.close()
        self.state.breaker.release()

    def close(self) -> None:
        """The deployment is done with this call (idempotent)."""
        if self._open:
            self._open = False
            self.state.outstanding -= 1
