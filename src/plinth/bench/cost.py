"""Cost per request from prices, monthly TCO at a stated volume, and break-even volumes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from plinth.bench.config import Candidate
from plinth.providers.catalog import load_catalog

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class Prices:
    input_per_mtok: float
    output_per_mtok: float
    currency: str
    source: str


def prices_for(candidate: Candidate) -> Prices:
    """The candidate's own prices, else its provider's catalog entry, else zero."""
    if candidate.input_price is not None or candidate.output_price is not None:
        return Prices(
            candidate.input_price or 0.0,
            candidate.output_price or 0.0,
            candidate.currency,
            "bench config",
        )
    if candidate.provider:
        provider = load_catalog().get(candidate.provider)
        model = provider.model(candidate.model) if provider else None
        if provider is not None and model is not None and model.priced:
            _, source = provider.price_provenance(model)
            return Prices(
                float(model.input or 0),
                float(model.output or 0),
                provider.currency,
                f"provider catalog ({source or provider.key})",
            )
    return Prices(0.0, 0.0, candidate.currency, "no price: treated as free per token")


@dataclass(frozen=True)
class CostEstimate:
    candidate: str
    currency: str
    price_source: str
    per_request: float  # token cost only
    per_1k_requests: float
    hardware_per_hour: float
    instances: int  # copies needed to carry the monthly volume at the measured capacity
    monthly_tokens: float
    monthly_hardware: float
    monthly_tco: float
    tco_per_1k_requests: float  # monthly TCO spread over the monthly volume

    def dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate(
    candidate: Candidate,
    mean_input_tokens: float,
    mean_output_tokens: float,
    capacity_rps: float,
    monthly_requests: int,
) -> CostEstimate:
    prices = prices_for(candidate)
    per_request = (
        mean_input_tokens * prices.input_per_mtok + mean_output_tokens * prices.output_per_mtok
    ) / 1e6
    instances = 0
    if candidate.hardware_cost_per_hour > 0:
        average_rps = monthly_requests / (HOURS_PER_MONTH * 3600)
        instances = max(1, math.ceil(average_rps / capacity_rps)) if capacity_rps > 0 else 1
    hardware = candidate.hardware_cost_per_hour * HOURS_PER_MONTH * instances
    tokens = per_request * monthly_requests
    return CostEstimate(
        candidate=candidate.name,
        currency=prices.currency,
        price_source=prices.source,
        per_request=per_request,
        per_1k_requests=per_request * 1000,
        hardware_per_hour=candidate.hardware_cost_per_hour,
        instances=instances,
        monthly_tokens=tokens,
        monthly_hardware=hardware,
        monthly_tco=tokens + hardware,
        tco_per_1k_requests=(tokens + hardware) / monthly_requests * 1000
        if monthly_requests
        else 0.0,
    )


def break_even(a: CostEstimate, b: CostEstimate) -> dict[str, Any]:
    """The monthly volume at which two candidates' TCO is equal (fixed + per-request cost)."""
    pair = {"a": a.candidate, "b": b.candidate}
    if a.currency != b.currency:
        return pair | {"requests_per_month": None, "note": "different currencies"}
    variable = a.per_request - b.per_request
    fixed = b.monthly_hardware - a.monthly_hardware
    if variable == 0 and fixed == 0:
        return pair | {"requests_per_month": None, "note": "equal cost at any volume"}
    if variable == 0 or fixed / variable <= 0:
        cheaper = a.candidate if a.monthly_tco <= b.monthly_tco else b.candidate
        return pair | {"requests_per_month": None, "note": f"{cheaper} is cheaper at any volume"}
    volume = fixed / variable
    low, high = (a, b) if variable > 0 else (b, a)
    note = f"{low.candidate} is cheaper below, {high.candidate} above (at today's instance count)"
    return pair | {"requests_per_month": volume, "note": note}
