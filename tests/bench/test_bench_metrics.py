"""Per-request and aggregate metrics, cost, the matrix and its sensitivity."""

from __future__ import annotations

import pytest

from plinth.bench import cost, matrix
from plinth.bench.client import RequestRecord
from plinth.bench.config import DEFAULT_WEIGHTS, Candidate, Slo
from plinth.bench.metrics import meets_slo, summarise


def _record(ttft: float, e2e: float, out: int, error: str | None = None) -> RequestRecord:
    gaps = [(e2e - ttft) / (out - 1)] * (out - 1) if out > 1 else []
    return RequestRecord("c", "w", "concurrency=1", "i", 0.0, ttft, e2e, gaps, 10, out, 1.0, error)


def test_tpot_follows_vllm() -> None:
    assert _record(0.1, 1.1, 11).tpot_s == pytest.approx(0.1)
    assert _record(0.1, 0.1, 1).tpot_s is None


def test_summary_percentiles_throughput_and_goodput() -> None:
    records = [_record(0.1 * i, 0.1 * i + 1.0, 11) for i in range(1, 11)]
    records.append(_record(0.0, 0.0, 0, error="HTTP 500"))
    summary = summarise(records, duration_s=10.0, slo=Slo(ttft_s=0.55))
    assert summary["completed"] == 10 and summary["errors"] == 1
    assert summary["error_rate"] == pytest.approx(1 / 11)
    assert summary["p50_ttft_ms"] == pytest.approx(550.0)
    assert summary["p99_ttft_ms"] == pytest.approx(991.0)
    assert summary["mean_tpot_ms"] == pytest.approx(100.0)
    assert summary["p50_itl_ms"] == pytest.approx(100.0)
    assert summary["output_tokens_per_s"] == pytest.approx(11.0)
    assert summary["requests_per_s"] == pytest.approx(1.0)
    assert summary["goodput_rps"] == pytest.approx(0.5)  # ttft 0.1 … 0.5 meet the SLO


def test_slo_checks() -> None:
    assert meets_slo(_record(0.2, 1.0, 5), Slo(ttft_s=0.3, tpot_s=0.3, e2e_s=1.0))
    assert not meets_slo(_record(0.2, 1.0, 5), Slo(tpot_s=0.1))
    assert meets_slo(_record(0.2, 0.2, 1), Slo(tpot_s=0.1))  # no TPOT to miss
    assert not meets_slo(_record(0.2, 1.0, 5, error="boom"), Slo())


def test_cost_tco_and_break_even() -> None:
    cloud = Candidate(name="cloud", model="m", input_price=1.0, output_price=2.0)
    local = Candidate(name="local", model="l", hardware_cost_per_hour=1.0)
    a = cost.estimate(cloud, 1000, 500, capacity_rps=10, monthly_requests=100_000)
    assert a.per_request == pytest.approx(0.002)
    assert a.monthly_tco == pytest.approx(200.0)
    b = cost.estimate(local, 1000, 500, capacity_rps=10, monthly_requests=100_000)
    assert b.monthly_tco == pytest.approx(730.0) and b.instances == 1
    assert b.tco_per_1k_requests == pytest.approx(7.30)
    even = cost.break_even(a, b)
    assert even["requests_per_month"] == pytest.approx(365_000)
    assert even["note"].startswith("cloud is cheaper below")
    assert cost.break_even(b, b)["note"] == "equal cost at any volume"


def test_catalog_prices_are_used() -> None:
    prices = cost.prices_for(Candidate(name="x", model="deepseek-chat", provider="deepseek"))
    assert prices.input_per_mtok > 0 and "catalog" in prices.source


def _measured(name: str, quality: float, speed: float, tco: float, provider: str | None = None):  # type: ignore[no-untyped-def]
    return matrix.Measured(
        Candidate(name=name, model=name, provider=provider), quality, speed, tco, "USD"
    )


def test_matrix_ranks_with_sourced_facts_and_sensitivity() -> None:
    weights = dict(DEFAULT_WEIGHTS)
    rows = matrix.score(
        [_measured("fast", 0.5, 10.0, 100.0, "openai"), _measured("slow", 1.0, 2.0, 0.0)], weights
    )
    by_name = {r.candidate: r for r in rows}
    assert by_name["slow"].scores["cost"] == 1.0
    assert by_name["fast"].scores["cost"] == 0.0
    assert by_name["fast"].scores["performance"] == pytest.approx(0.75)
    assert by_name["slow"].scores["performance"] == pytest.approx(0.6)
    assert by_name["fast"].scores["ecosystem"] == 1.0
    assert any("http" in reason for reason in by_name["fast"].reasons["ecosystem"])
    assert by_name["slow"].reasons["usability"] == ["no recorded facts in the provider catalog"]
    expected = sum(weights[c] * by_name["fast"].scores[c] for c in weights)
    assert by_name["fast"].total == pytest.approx(expected)
    result = matrix.sensitivity(rows, weights)
    assert result["winner"] == rows[0].candidate
    assert isinstance(result["stable"], bool) and result["note"]


def test_sensitivity_detects_a_flip() -> None:
    weights = dict(DEFAULT_WEIGHTS)
    # Nearly tied: moving weight towards cost favours the free one.
    rows = matrix.score([_measured("a", 1.0, 1.0, 10.0), _measured("b", 0.9, 0.9, 9.0)], weights)
    result = matrix.sensitivity(rows, weights)
    assert rows[0].candidate == "a"
    assert not result["stable"]
    assert {"criterion": "cost", "delta": 0.1, "winner": "b"} in result["flips"]
