"""Idle RSS and local chat speed of the bundled chat model under KV-cache layouts.

    .venv/bin/python benchmarks/local_kv_cache.py    # -> results/local_kv_cache.{json,md}
    .venv/bin/python benchmarks/local_kv_cache.py --repeat 1 --requests 2   # quick look

Each configuration runs in a fresh subprocess (so its RSS is its own): the
bundled SmolLM2 engine is started with Plinth's ``LlamaCppEngine`` and the
options under test, its RSS is read once loaded and idle, then chat
completions run at concurrency 1, 4 and 8 (``--requests`` x concurrency
requests per level, temperature 0, ``--max-tokens`` tokens, ignore_eos so
every request decodes the same number of tokens): aggregate output tokens/s
and p50 latency. Last, ``--long`` requests at once each send a prompt of
~``--long-tokens`` tokens: with a unified cache smaller than their sum this
shows what llama.cpp does when the shared cache fills (requests that fail
are counted). Configurations are interleaved and their order reversed on
odd repeats; the load average is recorded next to each run, since the
development machine's cores are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle works to a child.",
    "List some ideas for a rainy weekend.",
    "Describe the water cycle in simple words.",
]
CONFIGS: dict[str, dict[str, Any]] = {
    "8 x 2048, f16 (old default)": {"parallel_slots": 8, "context_per_slot": 2048},
    "8 x 2048, q8_0": {"parallel_slots": 8, "context_per_slot": 2048, "kv_cache_type": "q8_0"},
    "8 slots, unified 4096, f16": {
        "parallel_slots": 8,
        "context_per_slot": 512,
        "kv_unified": True,
    },
    "8 slots, unified 4096, q8_0": {
        "parallel_slots": 8,
        "context_per_slot": 512,
        "kv_unified": True,
        "kv_cache_type": "q8_0",
    },
    "4 x 2048, f16": {"parallel_slots": 4, "context_per_slot": 2048},
    "4 x 2048, q8_0": {"parallel_slots": 4, "context_per_slot": 2048, "kv_cache_type": "q8_0"},
}


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def child(
    options: dict[str, Any], requests: int, max_tokens: int, long: int, long_tokens: int
) -> dict[str, Any]:
    from plinth.catalog.bundled import BUNDLED_MODELS
    from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions

    bundled = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    path = bundled.locate(Path("/nonexistent"), False)
    engine = LlamaCppEngine(bundled.id, "chat", path, LlamaCppOptions(**options))
    before = rss_mb()
    await engine.start()
    await asyncio.sleep(1)
    result: dict[str, Any] = {
        "rss_before_load_mb": round(before, 1),
        "rss_idle_mb": round(rss_mb(), 1),
    }

    async def one(i: int, content: str, tokens: int) -> tuple[float, int] | str:
        body = {
            "model": bundled.id,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": tokens,
            "temperature": 0,
            "ignore_eos": True,
        }
        started = time.perf_counter()
        try:
            answer = await engine._call("handle_chat_completions", body)
        except Exception as exc:  # noqa: BLE001 - counted, shown
            return f"{type(exc).__name__}: {exc}"[:200]
        return time.perf_counter() - started, int(answer["usage"]["completion_tokens"])

    levels = []
    for concurrency in (1, 4, 8):
        started = time.perf_counter()
        outcomes: list[tuple[float, int] | str] = []
        queue = list(range(requests * concurrency))

        async def worker(
            queue: list[int] = queue, outcomes: list[tuple[float, int] | str] = outcomes
        ) -> None:
            while queue:
                i = queue.pop()
                outcomes.append(await one(i, PROMPTS[i % len(PROMPTS)], max_tokens))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
        good = [o for o in outcomes if isinstance(o, tuple)]
        latencies = sorted(o[0] for o in good)
        levels.append(
            {
                "concurrency": concurrency,
                "tokens_per_s": round(sum(o[1] for o in good) / wall, 2),
                "latency_p50_s": round(latencies[len(latencies) // 2], 2) if latencies else None,
                "errors": len(outcomes) - len(good),
            }
        )
    result["levels"] = levels
    result["rss_after_chat_mb"] = round(rss_mb(), 1)
    filler = " ".join(f"item {i} is a word in a long list;" for i in range(long_tokens // 8))
    outcomes = await asyncio.gather(
        *(one(i, f"{filler} Summarise the list.", 32) for i in range(long))
    )
    failures = [o for o in outcomes if isinstance(o, str)]
    result["long"] = {"requests": long, "failed": len(failures), "first_error": failures[:1]}
    result["rss_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    await engine.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--requests", type=int, default=3, help="requests per level, x concurrency")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--long", type=int, default=8)
    parser.add_argument("--long-tokens", type=int, default=900)
    parser.add_argument("--only", nargs="*", help="configuration names (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        options = json.loads(args.child)
        out = asyncio.run(
            child(options, args.requests, args.max_tokens, args.long, args.long_tokens)
        )
        print(json.dumps(out))
        return
    names = args.only or list(CONFIGS)
    runs: list[dict[str, Any]] = []
    for repeat in range(args.repeat):
        for name in names if repeat % 2 == 0 else reversed(names):
            load = os.getloadavg()[0]
            cmd = [
                sys.executable,
                __file__,
                "--child",
                json.dumps(CONFIGS[name]),
                "--requests",
                str(args.requests),
                "--max-tokens",
                str(args.max_tokens),
                "--long",
                str(args.long),
                "--long-tokens",
                str(args.long_tokens),
            ]
            env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive")}
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            run = {
                "config": name,
                "repeat": repeat,
                "load_before": round(load, 2),
                "load_after": round(os.getloadavg()[0], 2),
                **json.loads(out.stdout.splitlines()[-1]),
            }
            print(json.dumps(run), flush=True)
            runs.append(run)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    (RESULTS / "local_kv_cache.json").write_text(
        json.dumps({"at": stamp, "args": vars(args), "runs": runs}, indent=1)
    )
    lines = [
        f"Run {stamp}, {os.cpu_count()} CPUs, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'passive')}; "
        f"{args.requests} x concurrency requests of {args.max_tokens} tokens per level.",
        "",
        "| configuration | repeat | load avg | idle RSS MB | tok/s c=1 | c=4 | c=8"
        " | p50 s c=1 | c=4 | c=8 | long: failed/sent | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        lv = r["levels"]
        lines.append(
            f"| {r['config']} | {r['repeat']} | {r['load_before']}–{r['load_after']}"
            f" | {r['rss_idle_mb']:.0f} | "
            + " | ".join(str(x["tokens_per_s"]) for x in lv)
            + " | "
            + " | ".join(str(x["latency_p50_s"]) for x in lv)
            + f" | {r['long']['failed']}/{r['long']['requests']} | {r['rss_peak_mb']:.0f} |"
        )
    (RESULTS / "local_kv_cache.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
