"""Routing strategies and the circuit breaker, on real state objects."""

from __future__ import annotations

import collections
from decimal import Decimal

import pytest

from plinth.deployment import Deployment
from plinth.engines.base import Engine
from plinth.errors import InvalidRequest, UpstreamRateLimited
from plinth.routing.state import CircuitBreaker, DeploymentState
from plinth.routing.strategies import STRATEGIES
from plinth.tokens import Estimate


class IdleEngine(Engine):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


def state(name: str, **fields: object) -> DeploymentState:
    deployment = Deployment.model_validate(
        {"id": name, "model": "m", "base_url": f"http://{name}.test/v1", **fields}
    )
    currency = str(fields.get("currency", "USD"))
    rate = {"USD": Decimal(1), "CNY": Decimal("0.14")}.get(currency)
    return DeploymentState(
        deployment,
        IdleEngine("m", "chat"),
        CircuitBreaker(3, 30.0),
        source="config",
        usd_per_unit=rate,
    )


ESTIMATE = Estimate({"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 100})


def firsts(strategy: str, states: list[DeploymentState], n: int = 2000) -> collections.Counter[str]:
    order = STRATEGIES[strategy]  # type: ignore[index]
    return collections.Counter(order(states, ESTIMATE)[0].id for _ in range(n))


def test_priority_prefers_the_lowest_level_and_keeps_the_rest_as_fallbacks() -> None:
    states = [state("backup", priority=1), state("main", priority=0), state("last", priority=5)]
    order = STRATEGIES["priority"](states, ESTIMATE)
    assert [s.id for s in order] == ["main", "backup", "last"]


def test_priority_spreads_by_weight_within_a_level() -> None:
    counts = firsts("priority", [state("a", weight=3), state("b", weight=1)])
    assert 0.68 < counts["a"] / 2000 < 0.82  # expected 0.75


def test_weighted_random_follows_the_weights() -> None:
    counts = firsts("weighted", [state("a", weight=1), state("b", weight=4)])
    assert 0.73 < counts["b"] / 2000 < 0.87  # expected 0.8


def test_least_outstanding_picks_the_idlest() -> None:
    busy, idle = state("busy"), state("idle")
    busy.outstanding, idle.outstanding = 7, 2
    assert [s.id for s in STRATEGIES["least_outstanding"]([busy, idle], ESTIMATE)] == [
        "idle",
        "busy",
    ]


def test_lowest_latency_uses_the_moving_average_and_measures_newcomers_first() -> None:
    fast, slow, new = state("fast"), state("slow"), state("new")
    for value in (0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1):  # EWMA, alpha 0.2: ends near 0.2
        fast.observe_ttft(value)
    slow.observe_ttft(0.3)
    assert fast.ttft_ewma_s is not None and fast.ttft_ewma_s < 0.3
    order = STRATEGIES["lowest_latency"]([slow, fast, new], ESTIMATE)
    assert [s.id for s in order] == ["new", "fast", "slow"]


def test_lowest_cost_converts_currencies_and_puts_unpriced_last() -> None:
    usd = state("usd", input_price_per_mtok="1.00", output_price_per_mtok="4.00")
    cny = state(
        "cny", input_price_per_mtok="2.00", output_price_per_mtok="8.00", currency="CNY"
    )  # 0.28 / 1.12 USD: cheaper
    unpriced = state("unpriced")
    order = STRATEGIES["lowest_cost"]([unpriced, usd, cny], ESTIMATE)
    assert [s.id for s in order] == ["cny", "usd", "unpriced"]
    # 100 prompt tokens (400 chars) and 100 completion tokens at 1 + 4 USD per 1M
    assert usd.expected_cost_usd(100, 100) == Decimal("0.0005")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=30, clock=clock)
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed" and breaker.allows()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allows()
    clock.now += 29.9
    assert breaker.state == "open"
    clock.now += 0.1
    assert breaker.state == "half_open" and breaker.allows()
    breaker.begin()
    assert not breaker.allows()  # one trial at a time
    breaker.failure()
    assert breaker.state == "open"  # a failed trial re-opens at once
    assert breaker.snapshot()["cooldown_remaining_s"] == 30
    clock.now += 30
    breaker.begin()
    breaker.success()
    assert breaker.state == "closed" and breaker.consecutive_failures == 0


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10)
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state == "closed"


def test_retry_after_holds_the_breaker_open_for_that_long() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=5, cooldown_s=5, clock=clock)
    breaker.failure(hold_s=60)
    assert breaker.state == "open"
    clock.now += 59.9
    assert breaker.state == "open"  # longer than the cooldown: the upstream asked
    clock.now += 0.1
    assert breaker.state == "half_open"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"engine": "openai"}, "needs a base_url"),
        ({"base_url": "ftp://x"}, "http:// or https://"),
        ({"base_url": "http://x/v1", "api_key_env": "has space"}, "pattern"),
        ({"base_url": "http://x/v1", "weight": 0}, "greater than 0"),
        ({"base_url": "http://x/v1", "api_key": "sk-123"}, "Extra inputs"),
    ],
)
def test_bad_deployments_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Deployment.model_validate({"model": "m", **fields})


def test_default_id_names_model_and_host() -> None:
    d = Deployment(model="deepseek-chat", base_url="https://api.deepseek.com/v1/")
    assert d.id == "deepseek-chat@api.deepseek.com"
    assert d.base_url == "https://api.deepseek.com/v1"
    assert d.target_model == "deepseek-chat"


def test_an_attempt_holds_its_deployment_until_closed_and_counts_a_success() -> None:
    s = state("a")
    with s.attempt() as attempt:
        assert s.outstanding == 1
    assert (s.outstanding, s.requests, s.failures) == (1, 1, 0)  # the answer is still going out
    attempt.close()
    attempt.close()  # idempotent
    assert s.outstanding == 0 and attempt.latency_ms >= 0


def test_a_failed_attempt_frees_its_deployment_and_feeds_the_breaker() -> None:
    s = state("a")
    with pytest.raises(UpstreamRateLimited), s.attempt():
        raise UpstreamRateLimited("slow down", retry_after_s=60)
    assert (s.outstanding, s.requests, s.failures) == (0, 0, 1)
    assert s.breaker.state == "open"  # the Retry-After holds it open at once
    assert not s.usable()


def test_an_attempt_ended_by_the_client_gives_no_verdict() -> None:
    s = state("a")
    s.breaker.opened_at = s.breaker.clock() - 31  # cooled down: half-open, one trial allowed
    with pytest.raises(InvalidRequest), s.attempt():
        assert not s.breaker.allows()  # the trial is taken
        raise InvalidRequest("the client's own mistake")
    assert (s.outstanding, s.requests, s.failures) == (0, 0, 0)
    assert s.breaker.state == "half_open" and s.breaker.allows()  # the trial is free again
