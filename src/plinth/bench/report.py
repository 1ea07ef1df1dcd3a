"""A stored run as a self-contained HTML page (inline SVG, no CDN), Markdown or JSON."""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from typing import Any

from plinth.bench import charts
from plinth.bench.config import CRITERIA

POINT_COLUMNS = (
    ("requests_per_s", "req/s"),
    ("output_tokens_per_s", "out tok/s"),
    ("goodput_rps", "goodput req/s"),
    ("error_rate", "error rate"),
    ("p50_ttft_ms", "TTFT p50 ms"),
    ("p95_ttft_ms", "TTFT p95 ms"),
    ("p99_ttft_ms", "TTFT p99 ms"),
    ("p50_tpot_ms", "TPOT p50 ms"),
    ("p95_tpot_ms", "TPOT p95 ms"),
    ("p99_tpot_ms", "TPOT p99 ms"),
    ("p50_itl_ms", "ITL p50 ms"),
    ("p95_itl_ms", "ITL p95 ms"),
    ("p99_itl_ms", "ITL p99 ms"),
    ("p95_e2el_ms", "E2E p95 ms"),
    ("mean_score", "quality"),
    ("mean_judge_score", "judge"),
)


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _series(points: list[dict[str, Any]], metric: str) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p in points:
        if p.get(metric) is not None:
            series[f"{p['candidate']} / {p['workload']}"].append((p["value"], p[metric]))
    return dict(series)


def chart_svgs(summary: dict[str, Any]) -> dict[str, str]:
    points = summary["points"]
    axis = "concurrency" if all(p["kind"] == "concurrency" for p in points) else "rate (req/s)"
    costs = {c["candidate"]: c for c in summary["costs"]}
    quality = {
        name: (costs[name]["tco_per_1k_requests"], fig["quality"])
        for name, fig in summary["candidates"].items()
        if name in costs
    }
    return {
        "latency": charts.line_chart(
            f"p95 end-to-end latency vs {axis}", axis, "ms", _series(points, "p95_e2el_ms")
        ),
        "throughput": charts.line_chart(
            f"Output throughput vs {axis}", axis, "tokens/s", _series(points, "output_tokens_per_s")
        ),
        "quality_cost": charts.scatter(
            "Quality vs cost", "TCO per 1K requests at the monthly volume", "quality (0–1)", quality
        ),
        "radar": charts.radar(
            "Selection matrix",
            list(CRITERIA),
            {row["candidate"]: row["scores"] for row in summary["matrix"]},
        ),
    }


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _points_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["candidate", "workload", "point"] + [label for _, label in POINT_COLUMNS]
    rows = [
        [p["candidate"], p["workload"], f"{p['kind']}={p['value']:g}"]
        + [_num(p.get(key)) for key, _ in POINT_COLUMNS]
        for p in summary["points"]
    ]
    return headers, rows


def _matrix_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    weights = summary["weights"]
    headers = ["rank", "candidate", "total"] + [f"{c} ({weights[c]:.0%})" for c in CRITERIA]
    rows = [
        [str(i), row["candidate"], f"{row['total']:.3f}"]
        + [f"{row['scores'][c]:.2f}" for c in CRITERIA]
        for i, row in enumerate(summary["matrix"], 1)
    ]
    return headers, rows


def _cost_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = [
        "candidate",
        "per request",
        "per 1K",
        "hardware/h",
        "instances",
        "monthly TCO",
        "prices from",
    ]
    rows = [
        [
            c["candidate"],
            f"{c['per_request']:.6f} {c['currency']}",
            f"{c['per_1k_requests']:.4f}",
            f"{c['hardware_per_hour']:.2f}",
            str(c["instances"]),
            f"{c['monthly_tco']:.2f} {c['currency']}",
            c["price_source"],
        ]
        for c in summary["costs"]
    ]
    return headers, rows


CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}"
    "th{background:#f4f4f4}.charts svg{margin:0 1em 1em 0}"
)


def _source(row: dict[str, Any], criterion: str) -> str:
    """Where a score came from (runs stored before sources were recorded have none)."""
    source = (row.get("sources") or {}).get(criterion)
    return f" (from {source})" if source else ""


def render_html(run: dict[str, Any]) -> str:
    summary = run["summary"]
    svgs = chart_svgs(summary)
    reasons = []
    for row in summary["matrix"]:
        items = "".join(
            f"<li><b>{escape(c)}</b> {row['scores'][c]:.2f}"
            + escape(_source(row, c))
            + ": "
            + escape("; ".join(row["reasons"].get(c, [])))
            + "</li>"
            for c in CRITERIA
        )
        reasons.append(f"<h3>{escape(row['candidate'])}</h3><ul>{items}</ul>")
    breaks = "".join(
        f"<li>{escape(b['a'])} vs {escape(b['b'])}: "
        f"{_num(b['requests_per_month'])} requests/month. {escape(b['note'])}</li>"
        for b in summary["break_even"]
    )
    config = escape(json.dumps(run["config"], indent=2, ensure_ascii=False))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Plinth selection bench {escape(run["id"])}</title><style>{CSS}</style></head>
<body>
<h1>Selection bench: {escape(run.get("name") or run["id"])}</h1>
<p>Run <code>{escape(run["id"])}</code>, {escape(str(run["created_at"]))}.
Recommendation: <b>{escape(str(summary["recommendation"]))}</b>.
{escape(summary["sensitivity"]["note"])}</p>
<h2>Selection matrix</h2>{_table(*_matrix_rows(summary))}
<div class="charts">{svgs["radar"]}{svgs["quality_cost"]}</div>
<h2>Reasons</h2>{"".join(reasons)}
<h2>Load</h2><div class="charts">{svgs["latency"]}{svgs["throughput"]}</div>
{_table(*_points_rows(summary))}
<h2>Cost and TCO</h2>{_table(*_cost_rows(summary))}<ul>{breaks}</ul>
<p>Metric definitions: docs/bench-metrics.md (vLLM benchmark_serving conventions).</p>
<h2>Config</h2><pre>{config}</pre>
</body></html>
"""


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(run: dict[str, Any]) -> str:
    summary = run["summary"]
    parts = [
        f"# Selection bench: {run.get('name') or run['id']}",
        "",
        f"Run `{run['id']}`, {run['created_at']}. Recommendation: **{summary['recommendation']}**. "
        + summary["sensitivity"]["note"],
        "",
        "## Selection matrix",
        "",
        _md_table(*_matrix_rows(summary)),
        "",
        "## Reasons",
    ]
    for row in summary["matrix"]:
        parts += ["", f"### {row['candidate']}", ""]
        parts += [
            f"- **{c}** {row['scores'][c]:.2f}: " + "; ".join(row["reasons"].get(c, []))
            for c in CRITERIA
        ]
    parts += ["", "## Load", "", _md_table(*_points_rows(summary)), ""]
    parts += ["## Cost and TCO", "", _md_table(*_cost_rows(summary)), ""]
    parts += [
        f"- {b['a']} vs {b['b']}: {_num(b['requests_per_month'])} requests/month. {b['note']}"
        for b in summary["break_even"]
    ]
    return "\n".join(parts) + "\n"


def render_json(run: dict[str, Any]) -> str:
    return json.dumps(run, indent=2, ensure_ascii=False, default=str) + "\n"
