"""The console's server-drawn SVG charts: axis labels a reader can take at face value."""

from __future__ import annotations

import re

from plinth.console.charts import line_chart


def _y_labels(svg: str) -> list[str]:
    return re.findall(r'class="yl">([^<]*)</text>', svg)


def test_latency_axis_past_a_second_reads_in_seconds() -> None:
    svg = str(line_chart("latency", ["a", "b"], {"p95": [1200.0, 2400.0]}, unit="ms"))
    labels = _y_labels(svg)
    assert labels == ["0ms", "1.25 s", "2.5 s"]
    assert not any("kms" in label for label in labels)


def test_short_latencies_stay_in_milliseconds() -> None:
    svg = str(line_chart("latency", ["a", "b"], {"p50": [12.0, 40.0]}, unit="ms"))
    assert _y_labels(svg) == ["0ms", "25ms", "50ms"]


def test_counts_use_k_and_m_suffixes() -> None:
    svg = str(line_chart("requests", ["a"], {"n": [1_800_000.0]}))
    assert _y_labels(svg)[-1] == "2M"
