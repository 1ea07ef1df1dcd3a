"""The bench's ``rag_qa`` workload with and without the local sampling defaults.

    .venv/bin/python benchmarks/rag_qa_defaults.py   # -> results/rag_qa_defaults.{json,md}
    .venv/bin/python benchmarks/rag_qa_defaults.py --items 6  # quick look

Starts one ``plinth serve`` (fresh data dir, bundled models, OMP_WAIT_POLICY
passive), grounds every ``rag_qa`` item exactly as ``plinth bench run`` does
(``plinth.bench.rag.ground``: the corpus in a vector store, the top 3
passages in the bench's prompt), then asks the bundled chat model each
grounded prompt under three request shapes, interleaved item by item
(temperature 0, non-streamed), and scores the replies with the bench's own
scorers (``qa``: exact match, else token F1; ``qa_zh``: the same over
characters):

- ``no defaults, max_tokens 64``: ``frequency_penalty: 0`` (a client's own
  penalty: the server adds none, i.e. llama.cpp's default of no penalty),
  ``max_tokens`` 64: what Plinth did before its sampling defaults;
- ``penalty default, max_tokens 64``: the default repetition penalty;
- ``all defaults, no max_tokens``: neither field, as a client that sets no
  limit sends: the penalty and the default output limit both apply.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from plinth.bench.rag import ground
from plinth.bench.scorers import SCORERS
from plinth.bench.workloads import load_workload

RESULTS = Path(__file__).parent / "results"
KEY = "sk-plinth-bench-0123456789"
MODEL = "smollm2-135m-instruct"
VARIANTS: dict[str, dict[str, Any]] = {
    "no defaults, max_tokens 64": {"frequency_penalty": 0, "max_tokens": 64},
    "penalty default, max_tokens 64": {"max_tokens": 64},
    "all defaults, no max_tokens": {},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def ask(
    session: aiohttp.ClientSession, url: str, prompt: str, extra: dict[str, Any]
) -> dict[str, Any]:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0,
        **extra,
    }
    started = time.perf_counter()
    async with session.post(
        f"{url}/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}
    ) as r:
        answer = await r.json()
    if r.status != 200:
        return {
            "error": f"HTTP {r.status}: {answer}"[:300],
            "latency_s": time.perf_counter() - started,
        }
    choice = answer["choices"][0]
    return {
        "reply": choice["message"].get("content") or "",
        "finish_reason": choice.get("finish_reason"),
        "output_tokens": answer["usage"]["completion_tokens"],
        "latency_s": round(time.perf_counter() - started, 2),
    }


async def run(url: str, items: int) -> list[dict[str, Any]]:
    workload = load_workload("rag_qa")
    workload = replace(workload, items=workload.items[:items])
    timeout = aiohttp.ClientTimeout(total=1800)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        grounded = await ground(session, url, KEY, workload)
        rows = []
        for number, item in enumerate(grounded.items):
            names = list(VARIANTS) if number % 2 == 0 else list(reversed(VARIANTS))
            for name in names:
                out = await ask(session, url, item.prompt, VARIANTS[name])
                score = (
                    SCORERS[item.scorer](out.get("reply", ""), item.reference, None)
                    if "reply" in out
                    else 0.0
                )
                row = {
                    "item": item.id,
                    "variant": name,
                    "score": round(score, 3),
                    "load": round(os.getloadavg()[0], 2),
                    **out,
                }
                print(json.dumps(row, ensure_ascii=False), flush=True)
                rows.append(row)
    return rows


def summary(rows: list[dict[str, Any]], items: int, stamp: str) -> str:
    loads = [r["load"] for r in rows]
    lines = [
        f"Run {stamp}: {items} items, bundled SmolLM2-135M, temperature 0; load average "
        f"{min(loads):.1f}–{max(loads):.1f} (2 shared cores).",
        "",
        "| request shape | mean score | score 1 | mean output tokens | max"
        " | cut by the limit | errors | mean latency s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in VARIANTS:
        mine = [r for r in rows if r["variant"] == name]
        ok = [r for r in mine if "reply" in r]
        n = max(len(ok), 1)
        lines.append(
            f"| {name} | {sum(r['score'] for r in mine) / max(len(mine), 1):.3f} | "
            f"{sum(r['score'] == 1 for r in mine)} | "
            f"{sum(r['output_tokens'] for r in ok) / n:.1f} | "
            f"{max((r['output_tokens'] for r in ok), default=0)} | "
            f"{sum(r['finish_reason'] == 'length' for r in ok)} | {len(mine) - len(ok)} | "
            f"{sum(r['latency_s'] for r in mine) / max(len(mine), 1):.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=32)
    args = parser.parse_args()
    port, data = free_port(), tempfile.mkdtemp(prefix="plinth-ragqa-")
    env = {**os.environ, "PLINTH_ADMIN_KEY": KEY, "OMP_WAIT_POLICY": "passive"}
    log = open(Path(data) / "serve.log", "w")  # noqa: SIM115 - the server's lifetime
    server = subprocess.Popen(
        [sys.executable, "-m", "plinth", "serve", "--port", str(port), "--data-dir", data],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"plinth serve exited; see {data}/serve.log") from None
                time.sleep(1)
        time.sleep(2)
        rows = asyncio.run(run(url, args.items))
    finally:
        server.terminate()
        server.wait(30)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    (RESULTS / "rag_qa_defaults.json").write_text(
        json.dumps({"at": stamp, "rows": rows}, indent=1, ensure_ascii=False)
    )
    text = summary(rows, args.items, stamp)
    (RESULTS / "rag_qa_defaults.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
