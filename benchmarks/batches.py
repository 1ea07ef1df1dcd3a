"""Interactive latency while a Batch API batch runs, with and without the yield.

    .venv/bin/python benchmarks/batches.py            # writes results/batches.{json,md}
    .venv/bin/python benchmarks/batches.py --quick    # 6 s phases, to a temp dir

A real ``plinth serve`` (SQLite ledger, privacy screen on) in front of either
the fixed-latency mock upstream (``gateway_mock_upstream.py``, 200 ms: a
remote model) or the bundled SmolLM2 on llama.cpp (a local model sharing the
CPU). An interactive client sends chat requests back to back (closed loop,
``--clients`` at once) for a phase; its latencies are compared across three
phases on the same server kind:

- ``idle``: no batch;
- ``batch``: a batch of many lines running, with the default yield
  (``batches.yield_at = 1``: no line is dispatched while an interactive
  request is in flight; ``batches.concurrency`` lines at most);
- ``batch, no yield``: the same batch on a server started with
  ``batches.yield_at = 1000`` (lines dispatched whatever interactive traffic
  is doing), to show what the yield buys;
- ``batch, idle_s 0.5``: a server with ``batches.idle_s = 0.5``: a line starts
  only after interactive traffic has been idle for half a second, so under
  this closed-loop load only the lines started before the load began run.

Each phase also reports how many batch lines finished during it. The batch
is cancelled at the end of its phase. The development machine has 2 cores
shared with other work, so absolute numbers move between runs; the
comparison within one run is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
KEY = "sk-bench-batches-0123456789abcdef"
LOCAL_MODEL = "smollm2-135m-instruct"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], within_s: float = 180) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready in {within_s} s")


def start_mock(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, str(HERE / "gateway_mock_upstream.py"), "--port", str(port)]
    process = subprocess.Popen([*command, "--latency-ms", str(latency_ms)])
    base = f"http://127.0.0.1:{port}/v1"
    wait_healthy(f"{base}/models", process)
    return process, base


def start_plinth(data: Path, config: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    data.mkdir(parents=True, exist_ok=True)
    (data / "plinth.toml").write_text(config)
    port = free_port()
    env = {**os.environ, "PLINTH_ADMIN_KEY": KEY, "PLINTH_CONFIG": str(data / "plinth.toml")}
    env["MOCK_UPSTREAM_API_KEY"] = "sk-mock"
    command = [sys.executable, "-m", "plinth", "serve", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(f"{base}/health", process)
    return process, base


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def interactive(
    base: str, body: dict[str, Any], seconds: float, clients: int
) -> tuple[list[float], int]:
    """Closed-loop chat requests for ``seconds``: latencies (ms) and errors."""
    latencies: list[float] = []
    errors = 0
    headers = {"authorization": f"Bearer {KEY}"}
    end = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:

        async def loop() -> None:
            nonlocal errors
            while time.monotonic() < end:
                start = time.perf_counter()
                response = await client.post("/v1/chat/completions", json=body)
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - start) * 1000)
                else:
                    errors += 1

        await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies, errors


def create_batch(base: str, model: str, lines: int, max_tokens: int) -> str:
    rows = [
        {
            "custom_id": f"line-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": model,
                "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": f"Write a short note about item {i}."}],
            },
        }
        for i in range(lines)
    ]
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    headers = {"authorization": f"Bearer {KEY}"}
    uploaded = httpx.post(
        f"{base}/v1/files",
        headers=headers,
        files={"file": ("batch.jsonl", data)},
        data={"purpose": "batch"},
        timeout=60,
    ).json()
    batch = httpx.post(
        f"{base}/v1/batches",
        headers=headers,
        json={
            "input_file_id": uploaded["id"],
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
        timeout=60,
    ).json()
    return str(batch["id"])


def batch_state(base: str, batch_id: str) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {KEY}"}
    return dict(httpx.get(f"{base}/v1/batches/{batch_id}", headers=headers, timeout=30).json())


def wait_running(base: str, batch_id: str) -> None:
    deadline = time.monotonic() + 60
    while batch_state(base, batch_id)["request_counts"]["completed"] < 1:
        if time.monotonic() > deadline:
            raise RuntimeError("the batch never started")
        time.sleep(0.1)


def summary(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / seconds, 2),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


def phase(base: str, scenario: dict[str, Any], seconds: float, with_batch: bool) -> dict[str, Any]:
    batch_id = None
    if with_batch:
        batch_id = create_batch(
            base, scenario["model"], scenario["batch_lines"], scenario["batch_max_tokens"]
        )
        wait_running(base, batch_id)
        before = batch_state(base, batch_id)["request_counts"]["completed"]
    latencies, errors = asyncio.run(
        interactive(base, scenario["interactive"], seconds, scenario["clients"])
    )
    result = summary(latencies, errors, seconds)
    if batch_id is not None:
        after = batch_state(base, batch_id)["request_counts"]["completed"]
        result["batch_lines_done"] = after - before
        httpx.post(
            f"{base}/v1/batches/{batch_id}/cancel",
            headers={"authorization": f"Bearer {KEY}"},
            timeout=30,
        )
        deadline = time.monotonic() + 120
        while batch_state(base, batch_id)["status"] != "cancelled":
            if time.monotonic() > deadline:
                raise RuntimeError("the batch did not cancel")
            time.sleep(0.2)
    return result


def config(scenario: dict[str, Any], yield_at: int, idle_s: float, upstream: str | None) -> str:
    lines = ['log_level = "warning"', "[routing]", "health_interval_s = 0"]
    lines += ["[batches]", f"concurrency = {scenario['concurrency']}", f"yield_at = {yield_at}"]
    lines.append(f"idle_s = {idle_s}")
    if upstream is None:
        lines += ["[llamacpp]", "parallel_slots = 4", "context_per_slot = 1024"]
    else:
        lines.insert(0, "load_bundled_models = false")
        lines += [
            "[[deployments]]",
            'model = "mock-gpt"',
            f'base_url = "{upstream}"',
            'api_key_env = "MOCK_UPSTREAM_API_KEY"',
        ]
    return "\n".join(lines) + "\n"


SCENARIOS: dict[str, dict[str, Any]] = {
    "mock": {
        "model": "mock-gpt",
        "clients": 2,
        "concurrency": 4,
        "batch_lines": 5000,
        "batch_max_tokens": 16,
        "interactive": {
            "model": "mock-gpt",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "Hello there"}],
        },
    },
    "local": {
        "model": LOCAL_MODEL,
        "clients": 1,
        "concurrency": 2,
        "batch_lines": 2000,
        "batch_max_tokens": 48,
        "interactive": {
            "model": LOCAL_MODEL,
            "max_tokens": 16,
            "temperature": 0,
            "messages": [{"role": "user", "content": "Name one colour."}],
        },
    },
}


def run_scenario(name: str, seconds: float, work: Path) -> dict[str, Any]:
    scenario = SCENARIOS[name]
    mock = None
    upstream = None
    if name == "mock":
        mock, upstream = start_mock(200)
    results: dict[str, Any] = {}
    try:
        for label, yield_at, idle_s, with_batch in (
            ("idle", 1, 0.0, False),
            ("batch", 1, 0.0, True),
            ("batch, no yield", 1000, 0.0, True),
            ("batch, idle_s 0.5", 1, 0.5, True),
        ):
            if label != "batch":  # idle and batch share one server; the others have their own
                data = work / f"{name}-{yield_at}-{idle_s}"
                process, base = start_plinth(
                    data, config(scenario, yield_at, idle_s, upstream), work / "serve.log"
                )
            try:
                asyncio.run(interactive(base, scenario["interactive"], 2, 1))  # warm-up
                results[label] = phase(base, scenario, seconds, with_batch)
                print(name, label, results[label], flush=True)
            finally:
                if label != "idle":
                    stop(process)
    finally:
        if mock is not None:
            mock.kill()
    return results


def markdown(report: dict[str, Any]) -> str:
    out = [
        "# Interactive latency while a batch runs",
        "",
        f"`{report['command']}` on {report['machine']}, {report['date']}; "
        f"{report['seconds']} s per phase. The machine was shared with other work.",
        "",
        "| upstream | phase | requests | rps | p50 ms | p95 ms | p99 ms | p95 vs idle "
        "| batch lines done |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, phases in report["scenarios"].items():
        idle = phases["idle"]["p95_ms"]
        for label, row in phases.items():
            delta = f"{(row['p95_ms'] / idle - 1) * 100:+.1f} %" if label != "idle" else ""
            out.append(
                f"| {name} | {label} | {row['requests']} | {row['rps']} | {row['p50_ms']} "
                f"| {row['p95_ms']} | {row['p99_ms']} | {delta} "
                f"| {row.get('batch_lines_done', '')} |"
            )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scenarios", default="mock,local")
    args = parser.parse_args()
    seconds = 6.0 if args.quick else args.seconds
    out_dir = Path(tempfile.mkdtemp()) if args.quick else RESULTS
    with tempfile.TemporaryDirectory() as tmp:
        scenarios = {
            name: run_scenario(name, seconds, Path(tmp)) for name in args.scenarios.split(",")
        }
    report = {
        "command": "python benchmarks/batches.py" + (" --quick" if args.quick else ""),
        "machine": f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": seconds,
        "scenarios": scenarios,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "batches.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "batches.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
