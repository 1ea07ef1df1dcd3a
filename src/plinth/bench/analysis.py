"""From measured points to the run's summary: per-candidate figures, costs, the matrix."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from statistics import fmean
from typing import Any

from plinth.bench import cost, matrix
from plinth.bench.config import BenchConfig
from plinth.bench.runner import PointResult


def _candidate_figures(config: BenchConfig, points: list[PointResult]) -> dict[str, dict[str, Any]]:
    by_candidate: dict[str, list[PointResult]] = defaultdict(list)
    for point in points:
        by_candidate[point.candidate].append(point)
    slo_set = any(v is not None for v in config.slo.model_dump().values())
    speed_key = "goodput_rps" if slo_set else "requests_per_s"
    figures = {}
    for name, mine in by_candidate.items():
        per_workload: dict[str, list[PointResult]] = defaultdict(list)
        for point in mine:
            per_workload[point.workload].append(point)
        quality = {}
        for workload, wpoints in per_workload.items():
            scores = [r.score for p in wpoints for r in p.records if r.score is not None]
            quality[workload] = fmean(scores) if scores else 0.0
        done = [r for p in mine for r in p.records if r.ok]
        judged = [r.judge_score for r in done if r.judge_score is not None]
        figures[name] = {
            "quality_by_workload": quality,
            "quality": fmean(quality.values()) if quality else 0.0,
            "judge_quality": fmean(judged) if judged else None,
            "speed_metric": speed_key,
            # Peak over the profile points, averaged over workloads.
            "speed_rps": fmean(max(p.summary[speed_key] for p in w) for w in per_workload.values()),
            "error_rate": (
                sum(p.summary["errors"] for p in mine)
                / max(1, sum(p.summary["requests"] for p in mine))
            ),
            "mean_input_tokens": fmean([r.prompt_tokens or 0 for r in done]) if done else 0.0,
            "mean_output_tokens": fmean([r.output_tokens or 0 for r in done]) if done else 0.0,
        }
    return figures


def analyse(config: BenchConfig, points: list[PointResult]) -> dict[str, Any]:
    figures = _candidate_figures(config, points)
    weights = config.normalised_weights()
    estimates = []
    measured = []
    for candidate in config.candidates:
        fig = figures.get(candidate.name)
        if fig is None:
            continue
        est = cost.estimate(
            candidate,
            fig["mean_input_tokens"],
            fig["mean_output_tokens"],
            fig["speed_rps"],
            config.monthly_requests,
        )
        estimates.append(est)
        measured.append(
            matrix.Measured(
                candidate, fig["quality"], fig["speed_rps"], est.monthly_tco, est.currency
            )
        )
    rows = matrix.score(measured, weights)
    return {
        "points": [
            {"candidate": p.candidate, "workload": p.workload, "kind": p.kind, "value": p.value}
            | p.summary
            for p in points
        ],
        "candidates": figures,
        "costs": [e.dict() for e in estimates],
        "break_even": [cost.break_even(a, b) for a, b in combinations(estimates, 2)],
        "weights": weights,
        "matrix": [
            {
                "candidate": r.candidate,
                "total": r.total,
                "scores": r.scores,
                "reasons": r.reasons,
                "sources": r.sources,
            }
            for r in rows
        ],
        "sensitivity": matrix.sensitivity(rows, weights),
        "recommendation": rows[0].candidate if rows else None,
    }
