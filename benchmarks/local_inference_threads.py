"""CPU per output token, by thread, of Plinth and of a lone bare xllamacpp server.

At c=1 on a machine whose cores llama.cpp's threads fill, every other thread
of the serving process takes its CPU from them: what Plinth spends per token
outside llama.cpp's compute threads (the worker thread's callback, the event
loop's hand-off, shaping, the SSE frame and its write, the ledger) is what
its throughput loses against the lone server (whose own HTTP thread does the
same job in C++). This script measures that, per side, from
``/proc/<pid>/task/*/schedstat`` and ``status`` around one c=1 level: CPU ms per
output token of the ``threads`` busiest threads (llama.cpp's compute team)
and of all the others together ("serving"), and the voluntary context
switches per token of both groups. CPU time does not depend on how loaded
the machine is as much as tokens/s do, so with ``--threads 1`` the numbers
mean something on a busy machine too. The sides run one after the other,
alternating over the rounds (A-B, B-A), with the same requests as
``local_inference.py`` (``request_body``: the same tokens on both sides).

    .venv/bin/python benchmarks/local_inference_threads.py --data-dir DIR --threads 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_inference as li

RESULTS = Path(__file__).parent / "results"


def thread_counters(pid: int) -> dict[str, tuple[float, int]]:
    """Per thread id: CPU seconds (user + system) and voluntary context switches."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            # schedstat's first field: time on a CPU in nanoseconds (stat's utime
            # and stime count 10 ms ticks: a thread's ~50 ms per level read as 40-60).
            schedstat = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        cpu = int(schedstat.split()[0]) / 1e9
        switches = next(
            int(line.split()[1])
            for line in status.splitlines()
            if line.startswith("voluntary_ctxt_switches")
        )
        out[tid] = (cpu, switches)
    return out


def per_token(
    before: dict[str, tuple[float, int]],
    after: dict[str, tuple[float, int]],
    tokens: int,
    compute_threads: int,
) -> dict[str, float]:
    """The level's CPU ms and voluntary switches per token: compute team vs the rest."""
    deltas = []
    for tid, (cpu, switches) in after.items():
        cpu0, switches0 = before.get(tid, (0.0, 0))
        deltas.append((cpu - cpu0, switches - switches0))
    deltas.sort(reverse=True)
    compute, serving = deltas[:compute_threads], deltas[compute_threads:]
    return {
        "compute_cpu_ms": round(sum(c for c, _ in compute) * 1000 / tokens, 3),
        "serving_cpu_ms": round(sum(c for c, _ in serving) * 1000 / tokens, 3),
        "compute_switches": round(sum(s for _, s in compute) / tokens, 2),
        "serving_switches": round(sum(s for _, s in serving) / tokens, 2),
        "serving_threads_used": sum(1 for c, _ in serving if c > 0),
    }


async def side(name: str, args: Any, data_dir: Path) -> dict[str, Any]:
    port = li.free_port()
    start = li.start_lone_bare if name == "lone" else li.start_plinth
    process = start(args, data_dir, port)
    try:
        base_url = f"http://127.0.0.1:{port}"
        await li.wait_ready(base_url, process)
        async with li.http_client(base_url, name) as client:
            await li.ready_request(name, client, process)
            driver = li.http_driver(name, client, args.max_tokens, process)
            await li.run_level(name, 2, 2, driver)  # warm-up, as the sweeps do
            before = thread_counters(process.pid)
            level = await li.run_level(name, 1, args.requests, driver)
            after = thread_counters(process.pid)
    finally:
        li.stop(process)
    row = {"side": name, "tokens": level.output_tokens, "tokens_per_s": level.tokens_per_s}
    row |= per_token(before, after, level.output_tokens, args.threads or os.cpu_count() or 1)
    print(f"  {json.dumps(row)}", file=sys.stderr)
    return row


async def main(args: Any) -> list[dict[str, Any]]:
    data_dir = Path(args.data_dir)
    rows = []
    for round_ in range(args.rounds):
        for name in ("lone", "plinth") if round_ % 2 == 0 else ("plinth", "lone"):
            rows.append({"round": round_ + 1} | await side(name, args, data_dir))
    return rows


def report(args: Any, rows: list[dict[str, Any]], load_start: list[float]) -> None:
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/local_inference_threads.py " + " ".join(sys.argv[1:]),
        "load_average_at_start": load_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
    }
    out_dir = args.out_dir or RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{args.name}.json").write_text(
        json.dumps({"facts": facts, "rows": rows}, indent=2) + "\n"
    )
    lines = [
        "# CPU per output token by thread: Plinth and a lone bare server, c=1",
        "",
        f"- date: {facts['date']}; command: `{facts['command']}`",
        f"- load average at the start {load_start}, at the end "
        f"{facts['load_average_at_end']} on {facts['cores']} cores",
        f"- {args.requests} streamed requests x max_tokens {args.max_tokens} per side per "
        f"round, one at a time; llama.cpp threads {args.threads or 'all cores'}; "
        "compute = the busiest threads (as many as llama.cpp's), serving = every other thread",
        "",
        "| round | side | tokens | tok/s | compute CPU ms/token | serving CPU ms/token "
        "| compute switches/token | serving switches/token |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['round']} | {r['side']} | {r['tokens']} | {r['tokens_per_s']} "
            f"| {r['compute_cpu_ms']} | {r['serving_cpu_ms']} | {r['compute_switches']} "
            f"| {r['serving_switches']} |"
        )
    (out_dir / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def parse_args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--name", default="local_inference_threads")
    parser.add_argument("--out-dir", type=Path)
    args = parser.parse_args()
    args.lone_verbosity = 0
    return args


if __name__ == "__main__":
    parsed = parse_args()
    load = [round(x, 2) for x in os.getloadavg()]
    report(parsed, asyncio.run(main(parsed)), load)
