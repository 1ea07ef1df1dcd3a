"""What a response waits for its ledger row: the local journal vs the database commit.

    .venv/bin/python benchmarks/ledger_commit.py            # writes results/ledger_commit.{json,md}
    .venv/bin/python benchmarks/ledger_commit.py --quick    # fewer requests, prints only

Two parts, each with both durability points, interleaved and repeated:

- ``recorder`` (in one process, SQLite in a temporary folder, the real
  ``UsageRecorder``): one row at a time, the time from ``record()`` until its
  future resolves, which is what a response waits for before its last bytes.
  ``commit``: no journal, the future resolves when the row's commit does (what
  Plinth did before the journal). ``journal``: the row is appended to the
  local journal, the commit follows in the background. ``lock``: the same
  while another connection holds SQLite's write lock (a ``plinth`` CLI
  command writing) for ``--hold-ms``. And the process CPU time per row
  (record, journal write, the commit in the background), less the same loop
  without rows: less sensitive to a busy machine than the waits.
- ``http`` (c=1, non-streamed chat, end to end): a mock upstream answering
  after 10 ms; the client asks it directly (``direct``) and through two
  ``plinth serve`` processes on SQLite, one as shipped (``journal``) and one
  with the journal switched off (``commit``); a client key, every answer's
  content checked. Per round and side, the p50 and the added p50 (side's p50
  minus the direct p50 of the same round), and the server's CPU per request.
  Bundled models are not loaded (the ledger is what differs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN = "sk-bench-ledger-admin-0123456789abcdef"
TICK = os.sysconf("SC_CLK_TCK")
ANSWER = "The quick brown fox."
CHAT = {"model": "mock-gpt", "messages": [{"role": "user", "content": "Say something short."}]}


# --- group size part ----------------------------------------------------------------------


def group_sizes(sizes: list[int], rows: int) -> list[dict[str, Any]]:
    """CPU per row of one group commit, by the group's size: ``UsageStore.append`` on
    SQLite, each row with the privacy audit row every request has."""
    from plinth.store.audit import AuditRecord
    from plinth.store.database import open_database
    from plinth.store.usage import UsageRecord, UsageStore

    def audited(n: int) -> UsageRecord:
        row = _row(n)
        row.audit = AuditRecord(
            request_id=row.request_id,
            created_at=row.created_at,
            key_id=row.key_id,
            endpoint=row.endpoint,
            model=row.model,
            policy="default",
            action="allow",
            entities={},
            value_hashes=[],
            deployment="m@upstream",
            locality="cloud",
            redacted=False,
        )
        return row

    out = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            store = UsageStore(open_database(f"sqlite:///{Path(folder) / 'ledger.db'}"))
            store.append([audited(-n - 1) for n in range(size)])  # warm-up
            groups = [[audited(g * size + n) for n in range(size)] for g in range(rows // size)]
            cpu = time.process_time()
            for group in groups:
                store.append(group)
            cpu = time.process_time() - cpu
        per_row = round(cpu * 1000 / (len(groups) * size), 3)
        out.append({"part": "group size", "rows_per_commit": size, "cpu_ms_per_row": per_row})
        print(json.dumps(out[-1]), flush=True)
    return out


# --- recorder part -----------------------------------------------------------------------


def _row(n: int) -> Any:
    from plinth.store.usage import UsageRecord

    return UsageRecord(
        request_id=f"req_{n}_{time.time_ns()}",
        created_at=datetime.now(UTC),
        key_id="key_bench",
        endpoint="chat.completions",
        model="m",
        status="ok",
        http_status=200,
        prompt_tokens=10,
        completion_tokens=10,
        latency_ms=1.0,
    )


async def _waits(recorder: Any, rows: int) -> list[float]:
    """Milliseconds from record() to resolved, one row at a time."""
    waits = []
    for n in range(rows):
        started = time.perf_counter()
        await recorder.record(_row(n))
        waits.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.002)  # requests arrive one by one, not back to back
    return waits


async def _recorder(kind: str, rows: int, hold_ms: float) -> dict[str, Any]:
    from plinth.metering.recorder import UsageRecorder
    from plinth.store.database import open_database
    from plinth.store.door import Database
    from plinth.store.usage import UsageStore

    with tempfile.TemporaryDirectory() as folder:
        db_file = Path(folder) / "ledger.db"
        engine = open_database(f"sqlite:///{db_file}")
        db = Database(engine)
        journal = Path(folder) / "journal" if kind == "journal" else None
        recorder = UsageRecorder(UsageStore(engine), db, journal=journal)
        await recorder.start()
        await _waits(recorder, 20)  # warm-up: connections, statement cache
        cpu = time.process_time()
        waits = await _waits(recorder, rows)
        await recorder.flush()  # what the rows cost includes their commits
        cpu = time.process_time() - cpu
        idle = time.process_time()
        for _ in range(rows):  # the same loop without rows: what is not the ledger's
            await asyncio.sleep(0.002)
        idle = time.process_time() - idle
        holder = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        threading.Timer(hold_ms / 1000, lambda: holder.execute("ROLLBACK")).start()
        started = time.perf_counter()
        await recorder.record(_row(-1))
        locked_wait = (time.perf_counter() - started) * 1000
        await asyncio.sleep(hold_ms / 1000 + 0.05)
        holder.close()
        await recorder.close()
        db.close()
    return {
        "part": "recorder",
        "side": kind,
        "rows": rows,
        "wait_p50_ms": round(statistics.median(waits), 4),
        "wait_p99_ms": round(_percentile(waits, 0.99), 4),
        "wait_with_lock_held_ms": round(locked_wait, 2),
        "cpu_ms_per_row": round((cpu - idle) * 1000 / rows, 3),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- http part: processes ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def mock_upstream(port: int, latency_ms: float) -> None:
    """An OpenAI-compatible chat upstream answering after ``latency_ms`` (subprocess)."""
    from aiohttp import web

    body = json.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "mock-gpt",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        }
    )

    async def chat(_: web.Request) -> web.Response:
        await asyncio.sleep(latency_ms / 1000)
        return web.Response(text=body, content_type="application/json")

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "mock-gpt"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_plinth(port: int, data: str, journal: bool) -> None:
    """``plinth serve``, with the ledger journal switched off if asked (subprocess)."""
    if not journal:
        from plinth.metering import recorder

        original = recorder.UsageRecorder.__init__

        def without_journal(self: Any, *args: Any, **kwargs: Any) -> None:
            kwargs["journal"] = None  # responses wait for their row's commit, as before
            original(self, *args, **kwargs)

        recorder.UsageRecorder.__init__ = without_journal  # type: ignore[method-assign]
    from plinth.cli import main as plinth

    sys.argv = ["plinth", "serve", "--port", str(port), "--data-dir", data]
    plinth()


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            request = urllib.request.Request(url, headers={"authorization": f"Bearer {ADMIN}"})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status < 500:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


def _client_key(base: str) -> str:
    request = urllib.request.Request(
        base + "/admin/keys",
        data=json.dumps({"name": "bench"}).encode(),
        headers={"authorization": f"Bearer {ADMIN}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["key"])


# --- http part: load ---------------------------------------------------------------------


async def _c1(url: str, key: str | None, requests: int) -> list[float]:
    """Milliseconds per request, one at a time on a kept-alive connection; content checked."""
    import aiohttp

    headers = {"authorization": f"Bearer {key}"} if key else {}
    times = []
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(requests):
            started = time.perf_counter()
            async with session.post(url, json=CHAT) as response:
                body = await response.json()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200 or body["choices"][0]["message"]["content"] != ANSWER:
                raise RuntimeError(f"bad answer {response.status}: {body}")
    return times


def _http(rounds: int, requests: int, latency_ms: float, work: Path) -> list[dict[str, Any]]:
    script = str(Path(__file__).resolve())
    running: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        out = (work / log).open("wb")
        proc = subprocess.Popen(
            [sys.executable, script, *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        running.append(proc)
        return proc

    results = []
    try:
        up_port = _free_port()
        start(["--mock-upstream", str(up_port), str(latency_ms)], {}, "mock.log")
        upstream = f"http://127.0.0.1:{up_port}"
        config = work / "plinth.toml"
        config.write_text(
            'load_bundled_models = false\nlog_level = "warning"\n'
            "[routing]\nhealth_interval_s = 0\n"
            f'[[deployments]]\nmodel = "mock-gpt"\nbase_url = "{upstream}/v1"\n'
            'api_key_env = "MOCK_UPSTREAM_API_KEY"\n'
        )
        env = {
            "PLINTH_CONFIG": str(config),
            "PLINTH_ADMIN_KEY": ADMIN,
            "MOCK_UPSTREAM_API_KEY": "x",
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive"),
        }
        sides: dict[str, tuple[str, str | None, int | None]] = {
            "direct": (upstream + "/v1/chat/completions", None, None)
        }
        for side in ("journal", "commit"):
            port = _free_port()
            args = ["--serve-plinth", str(port), str(work / f"data-{side}"), side]
            proc = start(args, env, f"plinth-{side}.log")
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base + "/health", proc)
            sides[side] = (base + "/v1/chat/completions", _client_key(base), proc.pid)
        for url, key, _ in sides.values():
            asyncio.run(_c1(url, key, 50))  # warm-up: connections, caches, the key
        order = list(sides)
        for r in range(rounds):
            order = order[1:] + order[:1]  # who goes first rotates
            direct_p50 = None
            measured = {}
            for side in order:
                url, key, pid = sides[side]
                cpu = _cpu_seconds(pid) if pid else 0.0
                times = asyncio.run(_c1(url, key, requests))
                cpu_ms = (_cpu_seconds(pid) - cpu) * 1000 / requests if pid else None
                measured[side] = (times, cpu_ms)
                if side == "direct":
                    direct_p50 = statistics.median(times)
            assert direct_p50 is not None
            for side, (times, cpu_ms) in measured.items():
                p50 = statistics.median(times)
                result = {
                    "part": "http",
                    "round": r + 1,
                    "side": side,
                    "requests": requests,
                    "p50_ms": round(p50, 3),
                    "p90_ms": round(_percentile(times, 0.9), 3),
                    "added_p50_ms": round(p50 - direct_p50, 3),
                    "server_cpu_ms_per_request": round(cpu_ms, 3) if cpu_ms is not None else None,
                    "load_average_1m": round(os.getloadavg()[0], 1),
                }
                results.append(result)
                print(json.dumps(result), flush=True)
    finally:
        for proc in running:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    return results


# --- report ------------------------------------------------------------------------------


def _report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# What a response waits for its ledger row: the journal vs the commit",
        "",
        f"{meta['when']}, Python {meta['python']}, {meta['cpus']} CPUs, {meta['machine']}; "
        f"load average {meta['load_before']} before, {meta['load_after']} after "
        "(1/5/15 min). Command: `" + meta["command"] + "`.",
        "",
        "`journal`: as shipped, the row is appended to the local journal (one `os.write`) "
        "before the response's last bytes, committed in the background. `commit`: the "
        "journal switched off, the response waits for its row's database commit (the "
        "previous behaviour). Sides interleaved, the first side rotating each round.",
        "",
        "## End to end, c=1, non-streamed chat (mock upstream answering after "
        f"{meta['latency_ms']:g} ms)",
        "",
        "Added p50 = the side's p50 minus the direct p50 of the same round.",
        "",
        "| round | side | p50 ms | p90 ms | added p50 ms | server CPU ms/request | load 1m |",
        "|---|---|---|---|---|---|---|",
    ]
    http = [r for r in results if r["part"] == "http"]
    for r in http:
        lines.append(
            f"| {r['round']} | {r['side']} | {r['p50_ms']} | {r['p90_ms']} "
            f"| {r['added_p50_ms']} | {r['server_cpu_ms_per_request']} | {r['load_average_1m']} |"
        )
    lines += ["", "Added p50 over the rounds (median, min–max):", ""]
    for side in ("journal", "commit"):
        added = [r["added_p50_ms"] for r in http if r["side"] == side]
        if added:
            lines.append(
                f"- {side}: {statistics.median(added):.3f} ms "
                f"({min(added):.3f}–{max(added):.3f}, {len(added)} rounds)"
            )
    lines += [
        "",
        "## The recorder alone (SQLite, one row at a time)",
        "",
        "| side | rows | wait p50 ms | wait p99 ms | wait while another process holds "
        "the write lock ms | CPU ms per row (record, journal, commit) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r["part"] == "recorder":
            lines.append(
                f"| {r['side']} | {r['rows']} | {r['wait_p50_ms']} | {r['wait_p99_ms']} "
                f"| {r['wait_with_lock_held_ms']} | {r['cpu_ms_per_row']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1000, help="recorder rows per round")
    parser.add_argument("--hold-ms", type=float, default=300.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400, help="http requests per side/round")
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="2 rounds, fewer requests, no files")
    parser.add_argument(
        "--group-sizes",
        help="only this part: CPU per row of a group commit of each size (e.g. 1,7,37,75,500), "
        "written to results/ledger_group_commit.json",
    )
    parser.add_argument("--mock-upstream", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--serve-plinth", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mock_upstream:
        mock_upstream(int(args.mock_upstream[0]), float(args.mock_upstream[1]))
        return
    if args.serve_plinth:
        port, data, side = args.serve_plinth
        serve_plinth(int(port), data, side == "journal")
        return
    if args.group_sizes:
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        found = group_sizes([int(n) for n in args.group_sizes.split(",")], args.rows * 2)
        meta = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "load_before": load,
            "load_after": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
            "command": f".venv/bin/python benchmarks/ledger_commit.py --group-sizes "
            f"{args.group_sizes}",
        }
        (RESULTS / "ledger_group_commit.json").write_text(
            json.dumps({"meta": meta, "results": found}, indent=2) + "\n"
        )
        return
    if args.quick:
        args.rounds, args.rows, args.requests = 2, 200, 150
    load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    results = []
    for _ in range(args.rounds):
        for kind in ("commit", "journal"):
            result = asyncio.run(_recorder(kind, args.rows, args.hold_ms))
            results.append(result)
            print(json.dumps(result), flush=True)
    with tempfile.TemporaryDirectory() as work:
        results += _http(args.rounds, args.requests, args.latency_ms, Path(work))
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "latency_ms": args.latency_ms,
        "command": ".venv/bin/python benchmarks/ledger_commit.py"
        + (f" --rounds {args.rounds}" if args.rounds != 5 else "")
        + (f" --requests {args.requests}" if args.requests != 400 else ""),
    }
    report = _report(results, meta)
    if args.quick:
        print(report)
        return
    (RESULTS / "ledger_commit.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    (RESULTS / "ledger_commit.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
