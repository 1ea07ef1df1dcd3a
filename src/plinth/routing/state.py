"""What the router knows about one deployment while it runs, and the attempts on it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from plinth.deployment import Deployment
from plinth.engines.base import Engine
from plinth.errors import UpstreamError
from plinth.routing.breaker import CircuitBreaker

_MILLION = Decimal(1_000_000)


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

    @contextmanager
    def attempt(self) -> Iterator[Attempt]:
        """One call to this deployment: ``with state.attempt() as attempt: await call()``.

        Leaving the block with an :class:`UpstreamError` counts a failure (and
        the breaker hears of it, with any Retry-After); with any other exception
        the attempt gave no verdict (e.g. the client's own error or a
        disconnect). Leaving it normally is a success, but the attempt stays in
        ``outstanding`` until :meth:`Attempt.close`: a response or stream still
        occupies the deployment after its call returned.
        """
        attempt = Attempt(self)
        try:
            yield attempt
        except UpstreamError as exc:
            attempt.failed(exc)
            raise
        except BaseException:
            attempt.abandoned()
            raise
        attempt.succeeded()

    def usable(self) -> bool:
        return self.healthy is not False and self.breaker.allows()

    def observe_ttft(self, seconds: float) -> None:
        if self.ttft_ewma_s is None:
            self.ttft_ewma_s = seconds
        else:
            self.ttft_ewma_s += self.ewma_alpha * (seconds - self.ttft_ewma_s)

    def expected_cost_usd(self, prompt_tokens: int, completion_tokens: int) -> Decimal | None:
        d = self.deployment
        if d.is_local:
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
