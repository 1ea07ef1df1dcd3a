"""Aggregates over one profile point's records (definitions: docs/bench-metrics.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from plinth.bench.client import RequestRecord
from plinth.bench.config import Slo

PERCENTILES = (50, 95, 99)


def _stats(name: str, values: Sequence[float]) -> dict[str, float | None]:
    """Mean and percentiles in milliseconds (numpy's linear interpolation, as vLLM)."""
    out: dict[str, float | None] = {}
    array = np.asarray(values, dtype=float)
    out[f"mean_{name}_ms"] = float(array.mean() * 1000) if array.size else None
    for p in PERCENTILES:
        out[f"p{p}_{name}_ms"] = float(np.percentile(array, p) * 1000) if array.size else None
    return out


def meets_slo(record: RequestRecord, slo: Slo) -> bool:
    """Completed and within every target set (a one-token reply has no TPOT to miss)."""
    if not record.ok:
        return False
    if slo.ttft_s is not None and (record.ttft_s is None or record.ttft_s > slo.ttft_s):
        return False
    tpot = record.tpot_s
    if slo.tpot_s is not None and tpot is not None and tpot > slo.tpot_s:
        return False
    return slo.e2e_s is None or (record.e2e_s is not None and record.e2e_s <= slo.e2e_s)


def summarise(records: Sequence[RequestRecord], duration_s: float, slo: Slo) -> dict[str, Any]:
    done = [r for r in records if r.ok]
    duration = max(duration_s, 1e-9)
    output_tokens = sum(r.output_tokens or 0 for r in done)
    scores = [r.score for r in done if r.score is not None]
    judged = [r.judge_score for r in done if r.judge_score is not None]
    summary: dict[str, Any] = {
        "requests": len(records),
        "completed": len(done),
        "errors": len(records) - len(done),
        "error_rate": (len(records) - len(done)) / len(records) if records else 0.0,
        "duration_s": duration_s,
        "requests_per_s": len(done) / duration,
        "output_tokens_per_s": output_tokens / duration,
        "total_input_tokens": sum(r.prompt_tokens or 0 for r in done),
        "total_output_tokens": output_tokens,
        "goodput_rps": sum(meets_slo(r, slo) for r in done) / duration,
        "mean_score": sum(scores) / len(scores) if scores else None,
        "mean_judge_score": sum(judged) / len(judged) if judged else None,
    }
    summary |= _stats("ttft", [r.ttft_s for r in done if r.ttft_s is not None])
    summary |= _stats("tpot", [t for r in done if (t := r.tpot_s) is not None])
    summary |= _stats("itl", [gap for r in done for gap in r.itl_s])
    summary |= _stats("e2el", [r.e2e_s for r in done if r.e2e_s is not None])
    return summary
