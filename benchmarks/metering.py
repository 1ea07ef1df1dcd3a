"""Metering cost: reserve + settle latency, settled requests/s on one and two replicas.

    .venv/bin/python benchmarks/metering.py            # writes results/metering.{md,json}
    .venv/bin/python benchmarks/metering.py --quick    # 3 s points, prints only

Each replica is ``metering_replica.py``: the app ``plinth serve`` runs, with
a fast in-process mock chat engine (no upstream process, no HTTP hop); the
load generator is a minimal keep-alive HTTP/1.1 client on uvloop in this
process. All of it shares the machine's cores with PostgreSQL and Redis.

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

import httpx
import uvloop

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


async def _client(
    url: str, request: bytes, end: float, latencies: list[float], codes: dict[int, int]
) -> None:
    """One keep-alive connection sending ``request`` until ``end``.

    A minimal HTTP/1.1 client on asyncio streams: a fraction of aiohttp's CPU
    per request, which on two shared cores is left to the replicas.
    """
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        while (started := time.perf_counter()) < end:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            codes[status] = codes.get(status, 0) + 1
            if status == 200:
                latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def load(urls: list[str], key: str, concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    end = time.perf_counter() + seconds
    clients = []
    for index in range(concurrency):
        url = urls[index % len(urls)]
        host_port = url.split("//", 1)[1].split("/", 1)[0]
        path = "/" + url.split("//", 1)[1].split("/", 1)[1]
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {host_port}\r\nauthorization: Bearer {key}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY
        clients.append(_client(url, request, end, latencies, codes))
    await asyncio.gather(*clients)
    ok = len(latencies)
    return {
        "settled_per_s": round(ok / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3) if latencies else None,
        "codes": codes,
    }


def replica(port: int, data_dir: Path) -> list[str]:
    return [
        sys.executable,
        str(HERE / "metering_replica.py"),
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]


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
    results: dict[str, Any] = {}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        config = work / "plinth.toml"
        config.write_text('log_level = "warning"\n[routing]\nhealth_interval_s = 0\n')
        # 1. SQLite, one replica.
        port = free_port()
        one = start(
            replica(port, work / "sqlite"),
            plinth_env(config),
            work / "sqlite.log",
        )
        processes.append(one)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/health", one)
        plain, metered = setup_keys(base)
        url = [base + "/v1/chat/completions"]
        uvloop.run(load(url, plain, 4, 1.0))  # warm-up
        runs = {"plain": [], "metered": []}  # type: dict[str, list[float]]
        for _ in range(3):  # alternate, so drift hits both alike
            for name, key in (("plain", plain), ("metered", metered)):
                runs[name].append(uvloop.run(load(url, key, 1, seconds / 3))["p50_ms"])
        plain_p50 = statistics.median(runs["plain"])
        metered_p50 = statistics.median(runs["metered"])
        results["sqlite_one_replica"] = {
            "plain_p50_ms": plain_p50,
            "metered_p50_ms": metered_p50,
            "added_p50_ms": round(metered_p50 - plain_p50, 3),
            "metered_c32": uvloop.run(load(url, metered, 32, seconds)),
            "plain_c32": uvloop.run(load(url, plain, 32, seconds)),
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
                    replica(port, work / f"pg{index}"),
                    env,
                    work / f"pg{index}.log",
                )
                processes.append(proc)
                wait_ready(f"http://127.0.0.1:{port}/health", proc)
                bases.append(f"http://127.0.0.1:{port}")
            _, metered = setup_keys(bases[0])
            urls = [b + "/v1/chat/completions" for b in bases]
            uvloop.run(load(urls, metered, 8, 1.0))
            run = uvloop.run(load(urls, metered, 64, seconds))
            time.sleep(0.5)
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
                rows = conn.execute("SELECT count(*) FROM usage WHERE status = 'ok'").fetchone()
            results["postgres_two_replicas"] = {**run, "ledger_ok_rows": rows[0] if rows else 0}
            for proc in processes[1:]:
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
        "engine": "metering_replica.py: in-process mock chat engine, instant replies",
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
        "Both replicas, PostgreSQL, Redis and the load generator share the machine's cores.",
    ]
    (RESULTS / "metering.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
