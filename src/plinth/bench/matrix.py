"""The weighted selection matrix: six criteria, normalised across candidates, ranked.

Performance (quality and speed) and cost come from the run's measurements;
usability, scalability, security/compliance and ecosystem from facts recorded
in the provider catalog, each with its source (or a 0–5 rating in the config).
A local candidate's security/compliance comes from its locality: prompts and
answers never leave the machine. ``Row.sources`` names where each score came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plinth.bench.config import CRITERIA, Candidate
from plinth.providers.catalog import load_catalog

FACT_CRITERIA = ("usability", "scalability", "security_compliance", "ecosystem")


@dataclass
class Measured:
    """One candidate's measurements, already reduced across workloads and profile points."""

    candidate: Candidate
    quality: float  # mean score in [0, 1]
    speed: float  # peak goodput (or requests/s without SLOs), requests per second
    monthly_tco: float
    currency: str


@dataclass
class Row:
    candidate: str
    scores: dict[str, float]
    reasons: dict[str, list[str]] = field(default_factory=dict)
    # Per criterion: "measured in this run", "bench config rating", "provider catalog"
    # or "local deployment".
    sources: dict[str, str] = field(default_factory=dict)
    total: float = 0.0


def _higher_better(values: list[float]) -> list[float]:
    top = max(values, default=0.0)
    return [v / top if top > 0 else 0.0 for v in values]


def _lower_better(values: list[float]) -> list[float]:
    low = min(values, default=0.0)
    return [1.0 if v <= low else (low / v if v > 0 else 1.0) for v in values]


def _facts(candidate: Candidate, criterion: str) -> list[str]:
    provider = load_catalog().get(candidate.provider or "")
    if provider is None:
        return []
    return [f"{f.text} [{f.source}]" for f in provider.facts if f.criterion == criterion]


def _local_reason(candidate: Candidate) -> str:
    policy = f"; privacy policy '{candidate.privacy_policy}'" if candidate.privacy_policy else ""
    return "served on this machine: prompts and answers never leave it" + policy


def score(measured: list[Measured], weights: dict[str, float]) -> list[Row]:
    """Rows ranked by weighted total (weights already sum to 1)."""
    quality = _higher_better([m.quality for m in measured])
    speed = _higher_better([m.speed for m in measured])
    cost = _lower_better([m.monthly_tco for m in measured])
    rows = []
    for i, m in enumerate(measured):
        row = Row(m.candidate.name, {})
        row.scores["performance"] = (quality[i] + speed[i]) / 2
        row.reasons["performance"] = [
            f"quality {m.quality:.2f} (normalised {quality[i]:.2f})",
            f"speed {m.speed:.2f} req/s (normalised {speed[i]:.2f})",
        ]
        row.scores["cost"] = cost[i]
        row.reasons["cost"] = [f"monthly TCO {m.monthly_tco:.2f} {m.currency}"]
        row.sources.update(performance="measured in this run", cost="measured in this run")
        rows.append(row)
    for criterion in FACT_CRITERIA:
        counts = [float(len(_facts(m.candidate, criterion))) for m in measured]
        normalised = _higher_better(counts)
        for i, m in enumerate(measured):
            rating = m.candidate.ratings.get(criterion)
            if rating is not None:
                rows[i].scores[criterion] = max(0.0, min(rating, 5.0)) / 5
                rows[i].reasons[criterion] = [f"rated {rating}/5 in the bench config"]
                rows[i].sources[criterion] = "bench config rating"
                continue
            if criterion == "security_compliance" and m.candidate.locality == "local":
                rows[i].scores[criterion] = 1.0
                rows[i].reasons[criterion] = [_local_reason(m.candidate)]
                rows[i].sources[criterion] = "local deployment"
                continue
            facts = _facts(m.candidate, criterion)
            rows[i].sources[criterion] = "provider catalog"
            rows[i].scores[criterion] = normalised[i]
            rows[i].reasons[criterion] = facts or ["no recorded facts in the provider catalog"]
    for row in rows:
        row.total = sum(weights.get(c, 0.0) * row.scores[c] for c in CRITERIA)
    return sorted(rows, key=lambda r: r.total, reverse=True)


def _shifted(weights: dict[str, float], criterion: str, delta: float) -> dict[str, float]:
    """Move ``delta`` of weight onto one criterion, taken from the others in proportion."""
    new = min(1.0, max(0.0, weights[criterion] + delta))
    rest = sum(w for c, w in weights.items() if c != criterion)
    scale = (1.0 - new) / rest if rest > 0 else 0.0
    return {c: (new if c == criterion else w * scale) for c, w in weights.items()}


def sensitivity(rows: list[Row], weights: dict[str, float], step: float = 0.10) -> dict[str, Any]:
    """Would the winner change if any one weight moved by ±``step`` (absolute)?"""
    if not rows:
        return {"winner": None, "stable": True, "flips": [], "note": "no candidates"}
    winner = rows[0].candidate
    flips = []
    for criterion in CRITERIA:
        for delta in (step, -step):
            shifted = _shifted(weights, criterion, delta)
            totals = {r.candidate: sum(shifted[c] * r.scores[c] for c in CRITERIA) for r in rows}
            best = max(totals, key=lambda name: totals[name])
            if best != winner:
                flips.append({"criterion": criterion, "delta": delta, "winner": best})
    if flips:
        moves = ", ".join(f"{f['criterion']} {f['delta']:+.0%} → {f['winner']}" for f in flips)
        note = f"The winner {winner} changes under: {moves}."
    else:
        note = f"{winner} stays first under every ±{step:.0%} shift of a single weight."
    return {"winner": winner, "stable": not flips, "flips": flips, "note": note}
