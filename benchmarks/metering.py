"""Metering cost: reserve + settle latency, settled requests/s on one and two replicas.

    .venv/bin/python benchmarks/metering.py            # writes results/metering.{md,json}
    .venv/bin/python benchmarks/metering.py --quick    # 3 s points, prints only

A fast mock engine (``gateway_mock_upstream.py`` with 0 ms latency) behind
``plinth serve``; the load generator is an aiohttp client in this process.

1. SQLite, one replica: the same requests with a key that has no limits and
   with a key that has a price, a spend budget and per-minute limits (so
   every request reserves and settles), one client at a time: the difference
   of the p50 latencies is what reserve + settle add. Then settled requests/s
   for the metered key at 32 concurrent clients.
2. PostgreSQL + Redis, two replicas (a fresh database on the machine's
   PostgreSQL, the machine's Redis): settled requests/s for a metered key at
   64 concurrent clients split across both, and the ledger rows counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
ADMIN = "sk-bench-metering-0123456789abcdef"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
BODY = json.dumps(
    {"model": "mock-gpt", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def admin(base: str, method: str, path: str, **body: Any) -> Any:
    response = httpx.request(
        method,
        base + path,
        json=body or None,
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


async def load(urls: list[str], key: str, concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        end = time.perf_counter() + seconds

        async def worker(index: int) -> None:
            url = urls[index % len(urls)]
            while (started := time.perf_counter()) < end:
                async with session.post(url, data=BODY, headers=headers) as response:
                    await response.read()
                    codes[response.status] = codes.get(response.status, 0) + 1
                if response.status == 200:
                    latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    ok = len(latencies)
    return {
        "settled_per_s": round(ok / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3) if latencies else None,
        "codes": codes,
    }


def plinth_env(config: Path, **extra: str) -> dict[str, str]:
    return {"PLINTH_CONFIG": str(config), "PLINTH_ADMIN_KEY": ADMIN, **extra}


def setup_keys(base: str) -> tuple[str, str]:
    plain = admin(base, "POST", "/admin/keys", name="plain")["key"]
    admin(base, "POST", "/admin/tenants", name="bench")
    metered = admin(base, "POST", "/admin/keys", name="metered", tenant="bench")
    admin(base, "POST", "/admin/prices", model="mock-gpt", input_per_mtok="1", output_per_mtok="2")
    admin(
        base,
        "PUT",
        f"/admin/limits/key:{metered['id']}",
        spend="1000000",
        spend_period="month",
        requests_per_minute=10_000_000,
        tokens_per_minute=10_000_000_000,
        max_concurrent=10_000,
    )
    admin(base, "PUT", "/admin/limits/tenant:bench", spend="1000000", spend_period="day")
    return plain, metered["key"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    work = Path(tempfile.mkdtemp(prefix="metering-bench-"))
    mock_port = free_port()
    mock = start(
        [
            sys.executable,
            str(HERE / "gateway_mock_upstream.py"),
            "--port",
            str(mock_port),
            "--latency-ms",
            "0",
        ],
        {},
        work / "mock.log",
    )
    results: dict[str, Any] = {}
    processes = [mock]
    try:
        wait_ready(f"http://127.0.0.1:{mock_port}/v1/models", mock)
        config = work / "plinth.toml"
        config.write_text(
            'load_bundled_models = false\nlog_level = "warning"\n[routing]\nhealth_interval_s = 0\n'
            f'[[deployments]]\nmodel = "mock-gpt"\nbase_url = "http://127.0.0.1:{mock_port}/v1"\n'
        )
        # 1. SQLite, one replica.
        port = free_port()
        one = start(
            [str(BIN / "plinth"), "serve", "--port", str(port), "--data-dir", str(work / "sqlite")],
            plinth_env(config),
            work / "sqlite.log",
        )
        processes.append(one)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/health", one)
        plain, metered = setup_keys(base)
        url = [base + "/v1/chat/completions"]
        asyncio.run(load(url, plain, 4, 1.0))  # warm-up
        runs = {"plain": [], "metered": []}  # type: dict[str, list[float]]
        for _ in range(3):  # alternate, so drift hits both alike
            for name, key in (("plain", plain), ("metered", metered)):
                runs[name].append(asyncio.run(load(url, key, 1, seconds / 3))["p50_ms"])
        plain_p50 = statistics.median(runs["plain"])
        metered_p50 = statistics.median(runs["metered"])
        results["sqlite_one_replica"] = {
            "plain_p50_ms": plain_p50,
            "metered_p50_ms": metered_p50,
            "added_p50_ms": round(metered_p50 - plain_p50, 3),
            "metered_c32": asyncio.run(load(url, metered, 32, seconds)),
            "plain_c32": asyncio.run(load(url, plain, 32, seconds)),
        }
        stop(one)
        # 2. PostgreSQL + Redis, two replicas.
        import psycopg

        name = "plinth_bench_" + uuid.uuid4().hex[:8]
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            env = plinth_env(
                config,
                PLINTH_DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}",
                PLINTH_REDIS_URL=REDIS,
                PLINTH_PRIVACY__AUDIT_KEY="bench-shared-audit-key",
            )
            bases = []
            for index in (1, 2):
                port = free_port()
                proc = start(
                    [
                        str(BIN / "plinth"),
                        "serve",
                        "--port",
                        str(port),
                        "--data-dir",
                        str(work / f"pg{index}"),
                    ],
                    env,
                    work / f"pg{index}.log",
                )
                processes.append(proc)
                wait_ready(f"http://127.0.0.1:{port}/health", proc)
                bases.append(f"http://127.0.0.1:{port}")
            _, metered = setup_keys(bases[0])
            urls = [b + "/v1/chat/completions" for b in bases]
            asyncio.run(load(urls, metered, 8, 1.0))
            run = asyncio.run(load(urls, metered, 64, seconds))
            time.sleep(0.5)
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
                rows = conn.execute("SELECT count(*) FROM usage WHERE status = 'ok'").fetchone()
            results["postgres_two_replicas"] = {**run, "ledger_ok_rows": rows[0] if rows else 0}
            for proc in processes[2:]:
                stop(proc)
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        for proc in processes:
            stop(proc)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "command": "python benchmarks/metering.py " + " ".join(sys.argv[1:]),
        "mock": "gateway_mock_upstream.py, 0 ms latency",
    }
    print(json.dumps({"meta": meta, **results}, indent=2))
    if args.quick:
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "metering.json").write_text(json.dumps({"meta": meta, **results}, indent=2) + "\n")
    one = results["sqlite_one_replica"]
    two = results["postgres_two_replicas"]
    lines = [
        "# Metering: reserve + settle cost, settled requests/s",
        "",
        *[f"- {k}: {v}" for k, v in meta.items()],
        "",
        "| measurement | value | target |",
        "| --- | --- | --- |",
        f"| SQLite, c=1: p50 without limits / with price + budgets + rate limits | "
        f"{one['plain_p50_ms']} ms / {one['metered_p50_ms']} ms | |",
        f"| SQLite: added p50 of reserve + settle | {one['added_p50_ms']} ms | ≤ 1 ms: "
        f"{'pass' if one['added_p50_ms'] <= 1 else 'FAIL'} |",
        f"| SQLite, c=32: settled requests/s, metered / unmetered key | "
        f"{one['metered_c32']['settled_per_s']} / {one['plain_c32']['settled_per_s']} | |",
        f"| PostgreSQL + Redis, two replicas, c=64: settled requests/s | "
        f"{two['settled_per_s']} (ledger ok rows {two['ledger_ok_rows']}) | ≥ 1000: "
        f"{'pass' if two['settled_per_s'] >= 1000 else 'FAIL'} |",
        "",
        "Both replicas, the mock and the load generator share the machine's 2 cores.",
    ]
    (RESULTS / "metering.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
