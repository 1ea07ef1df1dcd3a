"""Routing strategies: each orders a public model's usable deployments.

The first deployment in the order gets the request; the rest are the
fallbacks, tried in order if it fails before any output reached the client.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Literal

from plinth.routing.state import DeploymentState
from plinth.tokens import Estimate

Strategy = Literal["priority", "weighted", "least_outstanding", "lowest_latency", "lowest_cost"]
# One generator for the process: seeding a new one per request reads os.urandom.
_RNG = random.Random()

Order = Callable[[Sequence[DeploymentState], Estimate], list[DeploymentState]]


def _weighted_shuffle(
    states: Sequence[DeploymentState], rng: random.Random
) -> list[DeploymentState]:
    # Efraimidis–Spirakis: sort by u^(1/w); a weighted sample without replacement.
    return sorted(states, key=lambda s: rng.random() ** (1.0 / s.deployment.weight), reverse=True)


def priority(states: Sequence[DeploymentState], _: Estimate) -> list[DeploymentState]:
    """Lowest ``priority`` first; weighted random among equals."""
    ordered: list[DeploymentState] = []
    for level in sorted({s.deployment.priority for s in states}):
        group = [s for s in states if s.deployment.priority == level]
        ordered += _weighted_shuffle(group, _RNG)
    return ordered


def weighted(states: Sequence[DeploymentState], _: Estimate) -> list[DeploymentState]:
    return _weighted_shuffle(states, _RNG)


def least_outstanding(states: Sequence[DeploymentState], _: Estimate) -> list[DeploymentState]:
    """Fewest requests in flight first; ties broken at random so load spreads."""
    shuffled = list(states)
    _RNG.shuffle(shuffled)
    return sorted(shuffled, key=lambda s: s.outstanding / s.deployment.weight)


def lowest_latency(states: Sequence[DeploymentState], _: Estimate) -> list[DeploymentState]:
    """Lowest moving-average time to first token; unmeasured ones first, to measure them."""
    shuffled = list(states)
    _RNG.shuffle(shuffled)
    return sorted(shuffled, key=lambda s: s.ttft_ewma_s if s.ttft_ewma_s is not None else -1.0)


def lowest_cost(states: Sequence[DeploymentState], estimate: Estimate) -> list[DeploymentState]:
    """Cheapest expected cost in USD first; deployments without prices last."""
    shuffled = list(states)
    _RNG.shuffle(shuffled)

    def cost(state: DeploymentState) -> Decimal:
        value = state.expected_cost_usd(estimate.prompt_tokens, estimate.completion_tokens)
        return value if value is not None else Decimal("Infinity")

    return sorted(shuffled, key=cost)


STRATEGIES: dict[Strategy, Order] = {
    "priority": priority,
    "weighted": weighted,
    "least_outstanding": least_outstanding,
    "lowest_latency": lowest_latency,
    "lowest_cost": lowest_cost,
}
