"""A whole bench through the CLI against fake OpenAI-compatible upstreams: run, store, report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from plinth.cli import main
from upstreamfake import FakeUpstream, Fault


def _config(path: Path, quick: FakeUpstream, slow: FakeUpstream) -> Path:
    path.write_text(
        f"""
name = "fake pair"
workloads = ["short_chat", "closed_qa"]
monthly_requests = 1000000
max_tokens = 32

[profile]
kind = "concurrency"
concurrency = [1, 3]
requests = 6

[slo]
ttft_s = 0.1

[[candidates]]
name = "quick"
model = "fake-model"
base_url = "{quick.base_url}"
api_key = "sk-never-stored"
input_price = 0.5
output_price = 1.5

[[candidates]]
name = "slow"
model = "fake-model"
base_url = "{slow.base_url}"
hardware_cost_per_hour = 0.2
""",
        "utf-8",
    )
    return path


def test_bench_run_list_show_and_report(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    with FakeUpstream() as quick, FakeUpstream(reply="Paris") as slow:
        slow.always(Fault.latency(0.15))
        config = _config(tmp_path / "bench.toml", quick, slow)
        out = tmp_path / "report"
        result = runner.invoke(
            main, ["bench", "run", "--config", str(config), "--out", str(out), *data]
        )
        assert result.exit_code == 0, result.output
        assert len(quick.generation_requests()) == 2 * 2 * 6
        assert quick.generation_requests()[0].body["stream"] is True

    runs = json.loads(runner.invoke(main, ["bench", "list", "--json", *data]).output)
    assert len(runs) == 1 and runs[0]["status"] == "done" and runs[0]["requests"] == 48
    shown = runner.invoke(
        main, ["bench", "show", runs[0]["id"], "--format", "json", "--records", *data]
    )
    run = json.loads(shown.output)
    assert "sk-never-stored" not in shown.output
    records = run["records"]
    assert len(records) == 48 and all(r["error"] is None for r in records)
    assert all(r["reply"] for r in records if r["candidate"] == "quick")
    assert all(r["ttft_s"] is not None and r["e2e_s"] >= r["ttft_s"] for r in records)
    slow_ttft = [r["ttft_s"] for r in records if r["candidate"] == "slow"]
    assert min(slow_ttft) >= 0.15  # the injected latency is seen by the client

    summary = run["summary"]
    assert len(summary["points"]) == 2 * 2 * 2
    quick_qa = next(
        p for p in summary["points"] if p["candidate"] == "quick" and p["workload"] == "closed_qa"
    )
    assert quick_qa["total_output_tokens"] > 0 and quick_qa["goodput_rps"] > 0
    slow_points = [p for p in summary["points"] if p["candidate"] == "slow"]
    assert all(p["goodput_rps"] == 0 for p in slow_points)  # every TTFT misses 0.1 s
    # The slow fake answers "Paris": right on the capital-of-France item only.
    assert 0 < summary["candidates"]["slow"]["quality_by_workload"]["closed_qa"] < 0.5
    costs = {c["candidate"]: c for c in summary["costs"]}
    assert costs["quick"]["per_request"] > 0 and costs["slow"]["monthly_hardware"] == 0.2 * 730
    assert summary["recommendation"] == summary["matrix"][0]["candidate"]
    assert summary["sensitivity"]["winner"] == summary["recommendation"]

    html = (out / "report.html").read_text("utf-8")
    assert "<script" not in html and "cdn" not in html.lower()
    assert html.count("<svg") == 4
    _assert_charts_carry(html, summary)
    markdown = (out / "report.md").read_text("utf-8")
    assert "| rank | candidate |" in markdown and summary["recommendation"] in markdown
    assert json.loads((out / "report.json").read_text("utf-8"))["id"] == run["id"]


def _chart(html: str, label_start: str) -> str:
    match = re.search(rf'<svg[^>]*aria-label="{label_start}[^"]*".*?</svg>', html, re.S)
    assert match, label_start
    return match.group(0)


def _points_of(svg: str) -> set[tuple[str, str, str]]:
    found = re.findall(r'data-series="([^"]+)" data-x="([^"]+)" data-value="([^"]+)"', svg)
    return set(found)


def _assert_charts_carry(html: str, summary: dict) -> None:  # type: ignore[type-arg]
    def fmt(v: float) -> str:
        return f"{v:.4g}"

    latency = _points_of(_chart(html, "p95 end-to-end latency"))
    throughput = _points_of(_chart(html, "Output throughput"))
    for p in summary["points"]:
        series = f"{p['candidate']} / {p['workload']}"
        assert (series, fmt(p["value"]), fmt(p["p95_e2el_ms"])) in latency
        assert (series, fmt(p["value"]), fmt(p["output_tokens_per_s"])) in throughput
    scatter = _points_of(_chart(html, "Quality vs cost"))
    costs = {c["candidate"]: c for c in summary["costs"]}
    for name, fig in summary["candidates"].items():
        assert (name, fmt(costs[name]["tco_per_1k_requests"]), fmt(fig["quality"])) in scatter
    radar = _points_of(_chart(html, "Selection matrix"))
    for row in summary["matrix"]:
        for criterion, value in row["scores"].items():
            assert (row["candidate"], criterion, fmt(value)) in radar
    assert f"{summary['matrix'][0]['total']:.3f}" in html


def test_llm_as_judge_grades_every_reply(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    with FakeUpstream() as model, FakeUpstream(reply="Grade: 8") as judge:
        config = tmp_path / "bench.json"
        config.write_text(
            json.dumps(
                {
                    "workloads": ["closed_qa"],
                    "profile": {"requests": 3},
                    "candidates": [{"name": "m", "model": "x", "base_url": model.base_url}],
                    "judge": {"model": "j", "base_url": judge.base_url, "api_key": "sk-judge"},
                }
            ),
            "utf-8",
        )
        result = runner.invoke(main, ["bench", "run", "--config", str(config), *data])
        assert result.exit_code == 0, result.output
        graded = [r.body for r in judge.generation_requests()]
    assert len(graded) == 3
    assert "What is the capital of France?" in graded[0]["messages"][0]["content"]
    run_id = json.loads(runner.invoke(main, ["bench", "list", "--json", *data]).output)[0]["id"]
    shown = runner.invoke(main, ["bench", "show", run_id, "--format", "json", "--records", *data])
    run = json.loads(shown.output)
    assert "sk-judge" not in shown.output
    assert [r["judge_score"] for r in run["records"]] == [0.8, 0.8, 0.8]
    assert run["summary"]["candidates"]["m"]["judge_quality"] == pytest.approx(0.8)


def test_parse_grade() -> None:
    from plinth.bench.judge import parse_grade

    assert parse_grade("10") == 1.0 and parse_grade("I'd say 7/10") == 0.7
    assert parse_grade("no idea") is None
