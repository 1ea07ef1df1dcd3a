"""Response cache: hit latency and throughput against misses, in-process and on Redis.

    .venv/bin/python benchmarks/response_cache.py            # writes results/response_cache.*
    .venv/bin/python benchmarks/response_cache.py --quick    # shorter, to a temp dir

A real ``plinth serve`` with the response cache on for every key, in front of
the 200 ms mock upstream (``gateway_mock_upstream.py``) or the bundled
SmolLM2 (local, on the CPU). Per backend (in-process LRU; Redis at
127.0.0.1:6379 when it answers) and upstream:

- ``miss``: distinct deterministic requests one after another (each one goes
  to the model and is stored): latency p50/p99;
- ``hit``: one request repeated one after another: latency p50/p99;
- ``hit, 16 clients``: the same request from 16 closed-loop clients for a
  few seconds: requests/s.

The load generator (httpx, this process) shares the 2-core machine with the
server and with other work, so the requests/s is a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batches import (  # the sibling benchmark's server helpers
    KEY,
    LOCAL_MODEL,
    RESULTS,
    percentile,
    start_mock,
    start_plinth,
    stop,
)

REDIS = "redis://127.0.0.1:6379/0"


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


def config(upstream: str | None, redis: bool) -> str:
    lines = ['log_level = "warning"']
    if redis:
        lines.append(f'redis_url = "{REDIS}"')
    if upstream is not None:
        lines.insert(0, "load_bundled_models = false")
    lines += ["[routing]", "health_interval_s = 0", "[response_cache]", "all_keys = true"]
    if upstream is None:
        lines += ["[llamacpp]", "parallel_slots = 4", "context_per_slot = 1024"]
    else:
        lines += [
            "[[deployments]]",
            'model = "mock-gpt"',
            f'base_url = "{upstream}"',
            'api_key_env = "MOCK_UPSTREAM_API_KEY"',
        ]
    return "\n".join(lines) + "\n"


def body(model: str, text: str) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 16,
        "temperature": 0,
        "messages": [{"role": "user", "content": text}],
    }


async def sequential(base: str, bodies: list[dict[str, Any]]) -> tuple[list[float], list[str]]:
    latencies, verdicts = [], []
    headers = {"authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        for item in bodies:
            start = time.perf_counter()
            response = await client.post("/v1/chat/completions", json=item)
            latencies.append((time.perf_counter() - start) * 1000)
            verdicts.append(response.headers.get("x-plinth-cache", "-"))
    return latencies, verdicts


async def closed_loop(base: str, item: dict[str, Any], clients: int, seconds: float) -> int:
    done = 0
    headers = {"authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=clients)
    end = time.monotonic() + seconds
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=120, limits=limits
    ) as client:

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < end:
                response = await client.post("/v1/chat/completions", json=item)
                done += response.headers.get("x-plinth-cache") == "hit"

        await asyncio.gather(*(loop() for _ in range(clients)))
    return done


def stats(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


def measure(base: str, model: str, count: int, seconds: float, tag: str) -> dict[str, Any]:
    misses = [body(model, f"{tag} distinct question number {i}") for i in range(count)]
    miss_lat, miss_verdicts = asyncio.run(sequential(base, misses))
    repeated = [misses[0]] * count
    hit_lat, hit_verdicts = asyncio.run(sequential(base, repeated))
    hits = asyncio.run(closed_loop(base, misses[0], 16, seconds))
    return {
        "miss": {**stats(miss_lat), "verdicts": sorted(set(miss_verdicts))},
        "hit": {**stats(hit_lat), "verdicts": sorted(set(hit_verdicts))},
        "hit_16_clients_rps": round(hits / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, seconds = (20, 3.0) if args.quick else (100, 10.0)
    backends = ["memory"] + (["redis"] if redis_up() else [])
    results: dict[str, Any] = {}
    mock, upstream = start_mock(200)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, up, model in (("mock", upstream, "mock-gpt"), ("local", None, LOCAL_MODEL)):
                for backend in backends:
                    data = Path(tmp) / f"{name}-{backend}"
                    process, base = start_plinth(
                        data, config(up, backend == "redis"), Path(tmp) / "serve.log"
                    )
                    try:
                        tag = f"{time.time_ns()}"  # fresh keys in a Redis that outlives runs
                        row = measure(base, model, count, seconds, tag)
                    finally:
                        stop(process)
                    results[f"{name} / {backend}"] = row
                    print(name, backend, row, flush=True)
    finally:
        mock.kill()
    report = {
        "command": "python benchmarks/response_cache.py" + (" --quick" if args.quick else ""),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_at_end": round(os.getloadavg()[0], 1),
        "requests_per_latency_series": count,
        "closed_loop_seconds": seconds,
        "results": results,
    }
    out_dir = Path(tempfile.mkdtemp()) if args.quick else RESULTS
    (out_dir / "response_cache.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Response cache: hits against misses",
        "",
        f"`{report['command']}`, {report['date']}; {count} sequential requests per latency "
        f"series, {seconds} s for the 16-client run. 2-core machine shared with other work "
        f"(load average {report['load_average_at_end']} at the end); the load generator runs "
        "on it too.",
        "",
        "| upstream / backend | miss p50 ms | miss p99 ms | hit p50 ms | hit p99 ms "
        "| hits/s, 16 clients |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, row in results.items():
        lines.append(
            f"| {label} | {row['miss']['p50_ms']} | {row['miss']['p99_ms']} "
            f"| {row['hit']['p50_ms']} | {row['hit']['p99_ms']} | {row['hit_16_clients_rps']} |"
        )
    (out_dir / "response_cache.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
