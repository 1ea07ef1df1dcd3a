"""Interactive latency while a Batch API batch runs, and how fast a line gives way.

    .venv/bin/python benchmarks/batches.py            # writes results/batches.{json,md}
    .venv/bin/python benchmarks/batches.py --quick    # short phases, to a temp dir

Latency: a real ``plinth serve`` (SQLite ledger, privacy screen on,
``[batches]`` at ``yield_at = 1``) in front of either the bundled SmolLM2 on
llama.cpp, batch lines decoding on the same CPU as interactive requests, or
the fixed-latency mock upstream (``mock``, 200 ms: a remote model). The
local scenarios differ in where batch lines run:

- ``local``: the idle lane (the default), a child llama.cpp server at
  ``SCHED_IDLE``;
- ``local-nice``: the idle lane at nice 19 below the server;
- ``local-inproc``: in-process, pre-empted at the next token
  (``lane = "in_process"``, ``preempt = true``).

One interactive client sends a chat request, waits a random 0.2-0.8 s (so a
batch has gaps to run in, and is interrupted when the next request arrives),
and repeats. One server per scenario, all started first; each repeat
(``--repeats``, default 3) runs every scenario's two sides in turn:

- ``idle``: no batch;
- ``batch``: a batch of many lines running (created at the phase's start,
  cancelled at its end).

The report gives each side's p50/p95 over all its requests, the p95 of each
repeat (its spread is the noise), the batch lines finished (also per minute
of batch phase) and pre-empted during the batch phases
(``plinth_batch_lines_preempted_total``), and the load average before each
phase.

Stop window (with any local scenario; in-process): how long llama.cpp goes
on decoding a batch line after an interactive request arrives: the time from
the runner's pre-emption to the engine having no batch stream left,
polled every millisecond on the app's event loop, over ``--window`` trials.

The development machine has 2 cores shared with other work: compare sides
within one run, and re-run it on a quiet machine for figures to quote.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
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
# llama.cpp's threads block instead of spinning unless told otherwise: on a
# shared 2-core machine (load ~15) a spinning server took 45 s for a request
# that takes 0.33 s blocking. OMP_WAIT_POLICY=active measures the spinning kind.
OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY", "passive")


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
    env["OMP_WAIT_POLICY"] = OMP_WAIT_POLICY
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
    base: str, body: dict[str, Any], seconds: float, seed: int
) -> tuple[list[float], int]:
    """Chat requests with a random 0.2-0.8 s pause after each, for ``seconds``:
    latencies (ms) and errors."""
    pause = random.Random(seed)
    latencies: list[float] = []
    errors = 0
    headers = {"authorization": f"Bearer {KEY}"}
    end = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        while time.monotonic() < end:
            start = time.perf_counter()
            response = await client.post("/v1/chat/completions", json=body)
            if response.status_code == 200:
                latencies.append((time.perf_counter() - start) * 1000)
            else:
                errors += 1
            await asyncio.sleep(pause.uniform(0.2, 0.8))
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


def preempted_total(base: str) -> float:
    """The server's ``plinth_batch_lines_preempted_total``."""
    for line in httpx.get(f"{base}/metrics", timeout=30).text.splitlines():
        if line.startswith("plinth_batch_lines_preempted_total"):
            return float(line.split()[-1])
    return 0.0


def wait_in_progress(base: str, batch_id: str) -> None:
    deadline = time.monotonic() + 60
    while batch_state(base, batch_id)["status"] != "in_progress":
        if time.monotonic() > deadline:
            raise RuntimeError("the batch never started")
        time.sleep(0.1)
    time.sleep(1.0)  # its first lines are running


def cancel(base: str, batch_id: str) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    httpx.post(f"{base}/v1/batches/{batch_id}/cancel", headers=headers, timeout=30)
    deadline = time.monotonic() + 120
    while batch_state(base, batch_id)["status"] != "cancelled":
        if time.monotonic() > deadline:
            raise RuntimeError("the batch did not cancel")
        time.sleep(0.2)


def phase(
    base: str, scenario: dict[str, Any], seconds: float, with_batch: bool, seed: int
) -> dict[str, Any]:
    load = os.getloadavg()[0]
    batch_id = None
    if with_batch:
        batch_id = create_batch(
            base, scenario["model"], scenario["batch_lines"], scenario["batch_max_tokens"]
        )
        wait_in_progress(base, batch_id)
        done_before = batch_state(base, batch_id)["request_counts"]["completed"]
        preempted_before = preempted_total(base)
    latencies, errors = asyncio.run(interactive(base, scenario["interactive"], seconds, seed))
    result: dict[str, Any] = {"load_average": round(load, 2), "errors": errors}
    result["latencies_ms"] = [round(x, 1) for x in latencies]
    if batch_id is not None:
        done = batch_state(base, batch_id)["request_counts"]["completed"]
        result["batch_lines_done"] = done - done_before
        result["batch_lines_preempted"] = int(preempted_total(base) - preempted_before)
        cancel(base, batch_id)
    return result


def config(scenario: dict[str, Any], upstream: str | None) -> str:
    lines = ['log_level = "warning"', "[routing]", "health_interval_s = 0"]
    lines += ["[batches]", f"concurrency = {scenario['concurrency']}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in scenario.get("batches", {}).items()]
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


LOCAL: dict[str, Any] = {
    "model": LOCAL_MODEL,
    "concurrency": 2,
    "batch_lines": 2000,
    "batch_max_tokens": 48,
    "interactive": {
        "model": LOCAL_MODEL,
        "max_tokens": 16,
        "temperature": 0,
        "messages": [{"role": "user", "content": "Name one colour."}],
    },
}
SCENARIOS: dict[str, dict[str, Any]] = {
    # The defaults: lines in the idle lane's child process at SCHED_IDLE.
    "local": {**LOCAL, "batches": {"lane": "process", "lane_priority": "idle"}},
    # The idle lane at nice 19 (what a platform without SCHED_IDLE gets).
    "local-nice": {**LOCAL, "batches": {"lane": "process", "lane_priority": "nice"}},
    # No lane: lines in-process, pre-empted at the next token by interactive requests.
    "local-inproc": {**LOCAL, "batches": {"lane": "in_process", "preempt": True}},
    "mock": {
        "model": "mock-gpt",
        "concurrency": 4,
        "batch_lines": 5000,
        "batch_max_tokens": 16,
        "interactive": {
            "model": "mock-gpt",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "Hello there"}],
        },
    },
}


def run_scenarios(
    names: list[str], seconds: float, repeats: int, work: Path
) -> dict[str, dict[str, Any]]:
    """One server per scenario, all started first; then, each repeat, each scenario's
    sides in turn (idle, batch), so slow drifts in the machine's load hit all alike."""
    mock, upstream = start_mock(200) if "mock" in names else (None, None)
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    phases: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    try:
        for name in names:
            scenario = SCENARIOS[name]
            text = config(scenario, upstream if name == "mock" else None)
            servers[name] = start_plinth(work / name, text, work / f"serve-{name}.log")
        for name, (_, base) in servers.items():
            asyncio.run(interactive(base, SCENARIOS[name]["interactive"], 3, 0))  # warm-up
        for repeat in range(repeats):
            for name, (_, base) in servers.items():
                for side in ("idle", "batch"):
                    row = phase(base, SCENARIOS[name], seconds, side == "batch", seed=repeat)
                    row.update(side=side, repeat=repeat)
                    phases[name].append(row)
                    brief = {k: v for k, v in row.items() if k != "latencies_ms"}
                    print(name, brief, len(row["latencies_ms"]), "requests", flush=True)
    finally:
        for process, _ in servers.values():
            stop(process)
        if mock is not None:
            mock.kill()
    return {name: {"phases": rows, "sides": sides(rows, seconds)} for name, rows in phases.items()}


def sides(phases: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for side in ("idle", "batch"):
        rows = [row for row in phases if row["side"] == side]
        pooled = [x for row in rows for x in row["latencies_ms"]]
        out[side] = {
            "requests": len(pooled),
            "errors": sum(row["errors"] for row in rows),
            "p50_ms": round(percentile(pooled, 50), 1),
            "p95_ms": round(percentile(pooled, 95), 1),
            "p95_per_repeat_ms": [round(percentile(row["latencies_ms"], 95), 1) for row in rows],
            "p50_per_repeat_ms": [round(percentile(row["latencies_ms"], 50), 1) for row in rows],
            "load_average_before": [row["load_average"] for row in rows],
            "batch_lines_done": sum(row.get("batch_lines_done", 0) for row in rows),
            "batch_lines_preempted": sum(row.get("batch_lines_preempted", 0) for row in rows),
        }
        done = out[side]["batch_lines_done"]
        out[side]["batch_lines_per_min"] = round(done / (seconds * len(rows)) * 60, 1)
    return out


# --- the stop window, in-process --------------------------------------------------------


def stop_window(trials: int, data: Path) -> dict[str, Any]:
    """Seconds from a pre-emption to llama.cpp having no batch stream left."""
    os.environ["OMP_WAIT_POLICY"] = OMP_WAIT_POLICY  # read when llama.cpp loads, below
    from starlette.testclient import TestClient

    from plinth.app import create_app
    from plinth.engines.llamacpp import LlamaCppEngine
    from plinth.settings import Settings

    settings = Settings(
        data_dir=data,
        admin_key=KEY,
        llamacpp={"parallel_slots": 4, "context_per_slot": 1024},
        batches={"lane": "in_process"},  # the window is pre-emption's: no idle lane
    )
    windows: list[float] = []
    tokens_after: list[int] = []
    with TestClient(create_app(settings)) as client:
        client.headers["authorization"] = f"Bearer {KEY}"
        runner = client.app.state.batches  # type: ignore[attr-defined]
        engine = next(
            s.engine
            for s in runner.svc.gateway.router.states()
            if s.deployment.model == LOCAL_MODEL and isinstance(s.engine, LlamaCppEngine)
        )
        rows = [
            {
                "custom_id": f"w{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": LOCAL_MODEL,
                    "max_tokens": 200,
                    "messages": [{"role": "user", "content": "Count from 1 to 300."}],
                },
            }
            for i in range(trials * 4)
        ]
        data_bytes = "".join(json.dumps(row) + "\n" for row in rows).encode()
        file_id = client.post(
            "/v1/files", files={"file": ("w.jsonl", data_bytes)}, data={"purpose": "batch"}
        ).json()["id"]
        body = {"input_file_id": file_id, "endpoint": "/v1/chat/completions"}
        batch = client.post("/v1/batches", json={**body, "completion_window": "24h"}).json()
        chat = {
            "model": LOCAL_MODEL,
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "Hi"}],
        }

        async def watch(before: int) -> float:
            while runner.preempted == before:
                await asyncio.sleep(0.001)
            started = time.perf_counter()
            while engine.active_streams:
                await asyncio.sleep(0.001)
            return time.perf_counter() - started

        for _ in range(trials):
            deadline = time.monotonic() + 60
            while engine.active_streams < 1:
                if time.monotonic() > deadline:
                    raise RuntimeError("no batch line started")
                time.sleep(0.005)
            time.sleep(0.3)  # decoding, past its prompt
            before, cancelled = runner.preempted, engine.tokens_after_cancel
            future = client.portal.start_task_soon(watch, before)  # type: ignore[union-attr]
            assert client.post("/v1/chat/completions", json=chat).status_code == 200
            windows.append(future.result(timeout=60) * 1000)
            tokens_after.append(engine.tokens_after_cancel - cancelled)
        client.post(f"/v1/batches/{batch['id']}/cancel")
    return {
        "trials": trials,
        "stop_ms": [round(x, 1) for x in windows],
        "p50_ms": round(percentile(windows, 50), 1),
        "p95_ms": round(percentile(windows, 95), 1),
        "max_ms": round(max(windows), 1),
        "tokens_after_stop_max": max(tokens_after),
    }


# --- report -----------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    out = [
        "# Interactive latency while a batch runs",
        "",
        f"`{report['command']}` on {report['machine']}, {report['date']}; "
        f"{report['seconds']} s per phase, {report['repeats']} repeats of each side, "
        f"interleaved; the run took {report['run_s']} s. Load average (1 min) before the "
        "phases is listed; the machine was shared with other work.",
        "",
        "| upstream | side | requests | p50 ms | p95 ms | p95 vs idle | p95 per repeat "
        "| load avg per repeat | lines done | lines/min | lines pre-empted |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in report["scenarios"].items():
        idle = result["sides"]["idle"]["p95_ms"]
        for side, row in result["sides"].items():
            delta = f"{(row['p95_ms'] / idle - 1) * 100:+.1f} %" if side != "idle" else ""
            per = ", ".join(str(x) for x in row["p95_per_repeat_ms"])
            load = ", ".join(str(x) for x in row["load_average_before"])
            lines = (
                (row["batch_lines_done"], row["batch_lines_per_min"], row["batch_lines_preempted"])
                if side != "idle"
                else ("", "", "")
            )
            out.append(
                f"| {name} | {side} | {row['requests']} | {row['p50_ms']} | {row['p95_ms']} "
                f"| {delta} | {per} | {load} | {lines[0]} | {lines[1]} | {lines[2]} |"
            )
    window = report.get("stop_window")
    if window:
        out += [
            "",
            "## Stop window (local model, in-process)",
            "",
            f"From the pre-emption of a decoding batch line to llama.cpp having no batch "
            f"stream left, over {window['trials']} interactive arrivals: p50 "
            f"{window['p50_ms']} ms, p95 {window['p95_ms']} ms, max {window['max_ms']} ms; "
            f"at most {window['tokens_after_stop_max']} token(s) decoded after a stop.",
        ]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=int, default=20, help="stop-window trials (0: none)")
    parser.add_argument("--scenarios", default="local,mock")
    parser.add_argument("--out", type=Path, default=None, help="results folder [results/]")
    args = parser.parse_args()
    seconds, repeats = (8.0, 2) if args.quick else (args.seconds, args.repeats)
    out_dir = args.out or (Path(tempfile.mkdtemp()) if args.quick else RESULTS)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        scenarios = run_scenarios(args.scenarios.split(","), seconds, repeats, Path(tmp))
        window = None
        if args.window and any(name.startswith("local") for name in scenarios):
            window = stop_window(5 if args.quick else args.window, Path(tmp) / "window")
    command = "python benchmarks/batches.py" + (" --quick" if args.quick else "")
    if not args.quick:
        command += f" --seconds {seconds:g} --repeats {repeats} --window {args.window}"
        command += f" --scenarios {args.scenarios}"
    report = {
        "command": command,
        "machine": f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end, "
        f"OMP_WAIT_POLICY={OMP_WAIT_POLICY}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": seconds,
        "repeats": repeats,
        "run_s": round(time.monotonic() - started),
        "scenarios": scenarios,
        "stop_window": window,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "batches.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "batches.md").write_text(markdown(report))
    print(markdown(report))
    print("written to", out_dir)


if __name__ == "__main__":
    main()
