"""What a bench run measures: candidates, workloads, load profile, SLOs, weights."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CRITERIA = (
    "performance",
    "cost",
    "usability",
    "scalability",
    "security_compliance",
    "ecosystem",
)
DEFAULT_WEIGHTS = {
    "performance": 0.25,
    "cost": 0.20,
    "usability": 0.20,
    "scalability": 0.15,
    "security_compliance": 0.10,
    "ecosystem": 0.10,
}


class Candidate(BaseModel):
    """One model to measure: a model name on this Plinth, or any OpenAI-compatible endpoint."""

    model_config = ConfigDict(extra="forbid")

    name: str
    model: str
    base_url: str | None = None  # None: the Plinth given by the run's base_url
    api_key: str | None = None
    api_key_env: str | None = None  # read the key from this environment variable
    provider: str | None = None  # a provider catalog key, for the recorded facts
    input_price: float | None = Field(None, ge=0, description="Per 1M input tokens.")
    output_price: float | None = Field(None, ge=0, description="Per 1M output tokens.")
    currency: str = "USD"
    hardware_cost_per_hour: float = Field(0.0, ge=0, description="For local models.")
    # Optional 0–5 ratings that replace the catalog-fact count for a criterion.
    ratings: dict[str, float] = Field(default_factory=dict)
    # Where the model is served: "local" scores security/compliance from that fact
    # (data never leaves the machine), not from provider-catalog entries it cannot have.
    locality: Literal["local", "cloud"] | None = None
    privacy_policy: str | None = None  # the policy its requests run under, for the report


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sequential", "concurrency", "poisson"] = "sequential"
    concurrency: list[int] = Field(default_factory=lambda: [1])
    rates: list[float] = Field(default_factory=lambda: [1.0])  # requests per second
    requests: int | None = Field(None, ge=1, description="Per point; default: every item once.")
    seed: int = 0

    def points(self) -> list[tuple[str, float]]:
        if self.kind == "sequential":
            return [("concurrency", 1)]
        if self.kind == "concurrency":
            return [("concurrency", c) for c in self.concurrency]
        return [("rate", r) for r in self.rates]


class Slo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float | None = None


class Judge(BaseModel):
    """A model that grades replies (LLM-as-judge); on the run's Plinth unless base_url is set."""

    model_config = ConfigDict(extra="forbid")

    model: str
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None


class BenchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key: str | None = None
    candidates: list[Candidate]
    workloads: list[str] = Field(default_factory=lambda: ["short_chat"])
    profile: Profile = Field(default_factory=Profile)
    slo: Slo = Field(default_factory=Slo)
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    max_tokens: int = Field(128, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    monthly_requests: int = Field(100_000, ge=0)
    judge: Judge | None = None

    @model_validator(mode="after")
    def _check(self) -> BenchConfig:
        unknown = set(self.weights) - set(CRITERIA)
        if unknown:
            raise ValueError(f"unknown criteria in weights: {sorted(unknown)}")
        if sum(self.weights.values()) <= 0:
            raise ValueError("weights must not all be zero")
        if len({c.name for c in self.candidates}) != len(self.candidates):
            raise ValueError("candidate names must be unique")
        return self

    def normalised_weights(self) -> dict[str, float]:
        total = sum(self.weights.get(c, 0.0) for c in CRITERIA)
        return {c: self.weights.get(c, 0.0) / total for c in CRITERIA}


def load_config(path: Path) -> dict[str, object]:
    """A config file as a dict (TOML or JSON), to merge with flags before validation."""
    text = path.read_text("utf-8")
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table/object at the top level")
    return data
