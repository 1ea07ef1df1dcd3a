"""The README's Performance tables, rendered from benchmarks/results/*.json.

    .venv/bin/python benchmarks/render_performance.py             # results/performance.md + README
    .venv/bin/python benchmarks/render_performance.py --no-readme # results/performance.md only

``benchmarks/performance.sh`` runs it after the benchmarks (with ``--run``,
which also writes ``performance_run.json``: the command, date, commit,
versions, machine, load average and each step's duration and exit status).
Each table says which results file and which run (date, load average) it
comes from. In the README, each table sits between ``<!-- performance:NAME -->``
and ``<!-- /performance:NAME -->``; only what is between the markers changes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README = ROOT / "README.md"


def _load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return dict(json.loads(path.read_text())) if path.exists() else None


def _source(name: str, meta: dict[str, Any]) -> str:
    date = meta.get("date", "date not recorded")
    load = meta.get("load average at the end") or meta.get("load_average_at_end")
    if isinstance(load, list):
        load = " ".join(str(x) for x in load)
    where = f"`benchmarks/results/{name}.md`, run {date}"
    return f"*From {where}" + (f", load average at its end {load}" if load else "") + ".*"


def _range(low: float, high: float) -> str:
    return f"{low:g}–{high:g}"


def local_inference(data: dict[str, Any]) -> list[str]:
    lines = [
        _source("local_inference", data["facts"]),
        "",
        "| concurrency | lone bare tok/s (min–max) | Plinth tok/s (min–max) | Plinth / lone "
        "[90 % interval] | TTFT p50 overhead vs lone [90 % interval] | co-hosted bare tok/s "
        "| engine only tok/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in data["levels"]:
        spread = row.get("spread_tokens_per_s", {})
        lone, plinth = row["lone_bare"], row["plinth"]
        ratio = f"{row['lone_ratio_pct']} %"
        if "lone_ratio_interval_90_pct" in row:  # since the blocked runs
            low, high = row["lone_ratio_interval_90_pct"]
            ratio += f" [{low}, {high}]"
        overhead = f"{row['lone_ttft_p50_overhead_ms']:+} ms"
        if "lone_ttft_p50_overhead_interval_90_ms" in row:
            low, high = row["lone_ttft_p50_overhead_interval_90_ms"]
            overhead += f" [{low:+}, {high:+}]"
        lines.append(
            f"| {row['concurrency']} | {lone['tokens_per_s']} "
            f"({_range(*spread.get('lone', [lone['tokens_per_s']] * 2))}) "
            f"| {plinth['tokens_per_s']} "
            f"({_range(*spread.get('plinth', [plinth['tokens_per_s']] * 2))}) "
            f"| {ratio} | {overhead} "
            f"| {row.get('bare', {}).get('tokens_per_s', '–')} "
            f"| {row.get('engine', {}).get('tokens_per_s', '–')} |"
        )
    met = [
        row["lone_ratio_pct"] >= 95 and row["lone_ttft_p50_overhead_ms"] <= 5
        for row in data["levels"]
    ]
    lines += [
        "",
        f"Target (≥ 95 % of a lone bare server's tokens/s and ≤ 5 ms TTFT p50 overhead at "
        f"every level): {'met' if all(met) else 'not met'} by the pooled figures of this run.",
    ]
    return lines


def gateway_overhead(data: dict[str, Any]) -> list[str]:
    points = data["points"]
    if points and "rps_min" not in points[0]:
        raise KeyError("rps_min")  # before rounds and spreads: an earlier script version
    levels = sorted({p["concurrency"] for p in points})
    lines = [
        _source("gateway_overhead", data["meta"]),
        "",
        "Requests/s, median over the rounds (min–max):",
        "",
        "| | " + " | ".join(f"c={c}" for c in levels) + " | added p50 at c=1 | CPU per request |",
        "| --- | " + " | ".join("---" for _ in levels) + " | --- | --- |",
    ]
    sides = [
        s for s in ("plinth", "litellm", "bare", "direct") if any(p["side"] == s for p in points)
    ]
    for stream in (False, True):
        for side in sides:
            mine = {
                p["concurrency"]: p for p in points if p["side"] == side and p["stream"] == stream
            }
            if not mine:
                continue
            cells = []
            for c in levels:
                p = mine.get(c)
                if p is None:
                    cells.append("–")
                else:
                    cells.append(f"{p['rps']:g} ({_range(p['rps_min'], p['rps_max'])})")
            one = mine.get(1, {})
            added = one.get("added_p50_ms")
            cpu = [
                round(p["gateway_cpu_ms_per_req"], 2)
                for p in mine.values()
                if p.get("gateway_cpu_ms_per_req")
            ]
            name = f"{side}, {'streamed' if stream else 'non-streamed'}"
            lines.append(
                f"| {name} | "
                + " | ".join(cells)
                + f" | {'–' if added is None else f'{added:g} ms'}"
                + f" | {_range(min(cpu), max(cpu)) + ' ms' if cpu else '–'} |"
            )
    lines += ["", "Targets in this run:", ""]
    lines += [f"- {v}" for v in _gateway_verdicts(points)]
    failed = data["meta"].get("sides that did not complete")
    if failed:
        lines += [
            "",
            "Sides that did not complete: " + "; ".join(f"{k}: {v}" for k, v in failed.items()),
        ]
    return lines


def _gateway_verdicts(points: list[dict[str, Any]]) -> list[str]:
    def get(side: str, stream: bool, c: int) -> dict[str, Any] | None:
        return next(
            (p for p in points if (p["side"], p["stream"], p["concurrency"]) == (side, stream, c)),
            None,
        )

    out = []
    for stream in (False, True):
        kind = "streamed" if stream else "non-streamed"
        for c in sorted({p["concurrency"] for p in points}):
            plinth, bare, litellm = (
                get("plinth", stream, c),
                get("bare", stream, c),
                get("litellm", stream, c),
            )
            if plinth and bare and bare["rps"]:
                share = plinth["rps"] / bare["rps"]
                out.append(
                    f"{kind}, c={c}: Plinth at {share:.0%} of the bare pass-through's requests/s "
                    f"(target ≥ 60 %): {'met' if share >= 0.6 else 'not met'}"
                )
            if plinth and litellm and litellm["rps"]:
                ratio = plinth["rps"] / litellm["rps"]
                out.append(f"{kind}, c={c}: Plinth at {ratio:.1f}× LiteLLM's requests/s")
        one = get("plinth", stream, 1)
        if one and one.get("added_p50_ms") is not None:
            added = one["added_p50_ms"]
            out.append(
                f"{kind}, c=1: Plinth adds {added:.2f} ms at p50 (target ≤ 1 ms): "
                f"{'met' if added <= 1 else 'not met'}"
            )
    return out


def gateway_stream_cost(data: dict[str, Any]) -> list[str]:
    chunk, clients = data["per_chunk"], data["client_libraries"]
    lines = [
        _source("gateway_stream_cost", data["meta"]),
        "",
        "| measurement | median | min–max |",
        "| --- | --- | --- |",
    ]
    for name, s in chunk["us_per_chunk"].items():
        label = "byte path" if name == "bytes" else "decoding path"
        spread = _range(s["min"], s["max"])
        lines.append(f"| CPU per streamed chunk, {label} | {s['median']} µs | {spread} µs |")
    for name, s in clients["cpu_ms_per_request"].items():
        lines.append(
            f"| CPU per streamed request reading the upstream, {name} | {s['median']} ms "
            f"| {_range(s['min'], s['max'])} ms |"
        )
    return lines


def local_inference_openmp(data: dict[str, Any]) -> list[str]:
    variants: dict[str, list[dict[str, Any]]] = {}
    for run in data["runs"]:
        variants.setdefault(run["variant"], []).append(run)
    lines = [
        _source("local_inference_openmp", data["facts"]),
        "",
        "| variant | voluntary switches / token | tokens/s | load average (1 min) |",
        "| --- | --- | --- | --- |",
    ]
    for variant, runs in variants.items():
        switches = [r["voluntary_switches_per_token"] for r in runs]
        rates = [r["tokens_per_s"] for r in runs]
        loads = [r["load_average_1m"] for r in runs]
        lines.append(
            f"| {variant} | {_range(min(switches), max(switches))} "
            f"| {_range(min(rates), max(rates))} | {_range(min(loads), max(loads))} |"
        )
    return lines


def metering(data: dict[str, Any]) -> list[str]:
    one, two = data["sqlite_one_replica"], data.get("postgres_two_replicas") or {}
    lines = [
        _source("metering", data["meta"]),
        "",
        "| measurement | result | target |",
        "| --- | --- | --- |",
        "| SQLite, one client: added p50 of reserve + settle (a key with a price, a spend "
        f"budget and rate limits vs one without) | {one['added_p50_ms']} ms | ≤ 1 ms |",
        "| SQLite, 32 clients: settled requests/s, metered / unmetered key | "
        f"{one['metered_c32']['settled_per_s']:,} / {one['plain_c32']['settled_per_s']:,} | |",
    ]
    if two:
        lines.append(
            "| PostgreSQL + Redis, two replicas, 64 clients: settled requests/s | "
            f"{two['settled_per_s']:,} (one ledger row per request) | ≥ 1,000 |"
        )
    return lines


SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "local_inference": local_inference,
    "local_inference_openmp": local_inference_openmp,
    "gateway_overhead": gateway_overhead,
    "gateway_stream_cost": gateway_stream_cost,
    "metering": metering,
}


def render(results: Path) -> dict[str, str]:
    out = {}
    for name, make in SECTIONS.items():
        data = _load(results, name)
        if data is None:
            out[name] = f"*No `{name}.json` in this run.*"
            continue
        try:
            out[name] = "\n".join(make(data))
        except (KeyError, TypeError, ValueError) as exc:  # a results file in an older format
            out[name] = (
                f"*`benchmarks/results/{name}.json` was written by an earlier version of its "
                f"script (no {exc}); `benchmarks/performance.sh` regenerates it.*"
            )
    return out


def into_readme(tables: dict[str, str], readme: Path) -> list[str]:
    text, missing = readme.read_text(), []
    for name, table in tables.items():
        pattern = re.compile(
            rf"(<!-- performance:{name} -->\n)(?:.*?\n)?(<!-- /performance:{name} -->)", re.S
        )
        if not pattern.search(text):
            missing.append(name)
            continue
        text = pattern.sub(lambda m, t=table: m[1] + t + "\n" + m[2], text)
    readme.write_text(text)
    return missing


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def run_record(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from gateway_overhead import cpu_model, litellm_version

    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    steps = []
    tsv = args.run / "performance_steps.tsv"
    if tsv.exists():
        for line in tsv.read_text().splitlines():
            name, seconds, rc, command = line.split("\t", 3)
            steps.append(
                {"step": name, "seconds": int(seconds), "exit_status": int(rc), "command": command}
            )
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    return {
        "command": args.command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": int(time.time()) - args.started if args.started else None,
        "commit": git("rev-parse", "HEAD"),
        "uncommitted changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": round(int(memory) / 1024**2, 1),
            "kernel": f"{platform.system()} {platform.release()}",
        },
        "load average": {
            "before": args.load_before,
            "after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        },
        "versions": {
            "python": platform.python_version(),
            **{
                name: _version(name)
                for name in (
                    "plinth",
                    "xllamacpp",
                    "aiohttp",
                    "uvicorn",
                    "starlette",
                    "uvloop",
                    "httptools",
                    "httpx",
                )
            },
            "litellm (its own venv)": litellm_version(),
        },
        "steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, help="a performance.sh run's results folder")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--command", default="")
    parser.add_argument("--started", type=int, default=0)
    parser.add_argument("--load-before", default="")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    results = args.run or args.results
    tables = render(results)
    lines = ["# Performance figures, as in the README's Performance section", ""]
    if args.run:
        record = run_record(args)
        (results / "performance_run.json").write_text(json.dumps(record, indent=2) + "\n")
        lines += [
            f"- command: `{record['command']}`",
            f"- date: {record['date']}, {record['seconds']} s",
            f"- commit: {record['commit']}"
            + (" (with uncommitted changes)" if record["uncommitted changes"] else ""),
            f"- machine: {record['machine']}",
            f"- load average before / after: {record['load average']['before']} / "
            f"{record['load average']['after']}",
            f"- versions: {record['versions']}",
            "",
        ]
        lines += [
            f"- step {s['step']}: {s['seconds']} s, exit status {s['exit_status']}"
            for s in record["steps"]
        ] + [""]
    for name, table in tables.items():
        lines += [f"## {name}", "", table, ""]
    (results / "performance.md").write_text("\n".join(lines))
    print("wrote", results / "performance.md")
    if not args.no_readme:
        missing = into_readme(tables, README)
        print(
            "README tables updated" + (f"; no markers for {', '.join(missing)}" if missing else "")
        )


if __name__ == "__main__":
    main()
