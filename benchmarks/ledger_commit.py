"""Ledger commit on the event loop (the old inline SQLite commit) vs on the database door.

    .venv/bin/python benchmarks/ledger_commit.py           # writes results/ledger_commit.{json,md}
    .venv/bin/python benchmarks/ledger_commit.py --quick   # fewer rows, prints only

In one process, on SQLite in a temporary folder, with the real ``UsageRecorder``:

- ``wait``: one request at a time (c=1), the time from ``record()`` until the
  row's future resolves, which is what a response waits for before its last
  bytes. ``inline`` commits on the event loop (what Plinth did for SQLite);
  ``door`` commits on :class:`plinth.store.door.Database`'s threads.
- ``stall``: another connection holds SQLite's write lock for ``--hold-ms``
  (what a ``plinth`` CLI command writing does) while one row is recorded; a
  ticker task on the loop reports the longest gap between its 1 ms ticks, i.e.
  how long every other request on the server would have been frozen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from plinth.metering.recorder import UsageRecorder
from plinth.store.database import open_database
from plinth.store.door import Database
from plinth.store.usage import UsageRecord, UsageStore

RESULTS = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


class OnTheLoop(Database):
    """The old behaviour: the blocking call runs right on the event loop."""

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)


def _row(n: int) -> UsageRecord:
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


async def _waits(recorder: UsageRecorder, rows: int) -> list[float]:
    """Milliseconds from record() to committed, one row at a time."""
    waits = []
    for n in range(rows):
        started = time.perf_counter()
        await recorder.record(_row(n))
        waits.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.001)  # requests arrive one by one, not back to back
    return waits


async def _stall(recorder: UsageRecorder, db_file: Path, hold_ms: float) -> float:
    """The longest event-loop gap (ms) while a row waits for a lock held elsewhere."""
    longest = 0.0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal longest
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            longest = max(longest, (time.perf_counter() - before) * 1000 - 1.0)

    holder = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(hold_ms / 1000, lambda: holder.execute("ROLLBACK")).start()
    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    await recorder.record(_row(-1))
    stop.set()
    await ticking
    holder.close()
    return longest


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(kind: str, rows: int, hold_ms: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        db_file = Path(folder) / "ledger.db"
        engine = open_database(f"sqlite:///{db_file}")
        db = OnTheLoop(engine) if kind == "inline" else Database(engine)
        recorder = UsageRecorder(UsageStore(engine), db)
        await recorder.start()
        await _waits(recorder, 20)  # warm-up: connections, statement cache
        waits = await _waits(recorder, rows)
        stall = await _stall(recorder, db_file, hold_ms)
        await recorder.close()
        db.close()
    return {
        "kind": kind,
        "rows": rows,
        "wait_p50_ms": round(statistics.median(waits), 3),
        "wait_p99_ms": round(_percentile(waits, 0.99), 3),
        "hold_ms": hold_ms,
        "longest_loop_stall_ms": round(stall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--hold-ms", type=float, default=300.0)
    parser.add_argument("--rounds", type=int, default=3, help="alternating inline/door rounds")
    parser.add_argument("--quick", action="store_true", help="300 rows, 1 round, no files")
    args = parser.parse_args()
    rows, rounds = (300, 1) if args.quick else (args.rows, args.rounds)
    results = []
    for _ in range(rounds):
        for kind in ("inline", "door"):
            result = asyncio.run(_measure(kind, rows, args.hold_ms))
            results.append(result)
            print(json.dumps(result))
    if args.quick:
        return
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "command": "benchmarks/ledger_commit.py",
    }
    (RESULTS / "ledger_commit.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    lines = [
        "# Ledger commit: on the event loop vs on the database door",
        "",
        f"{meta['when']}, Python {meta['python']}, {meta['cpus']} CPUs "
        f"(load average {meta['load_average_1m']} when it ended); {rows} rows per round, c=1; "
        f"the write lock held {args.hold_ms:.0f} ms by another connection for the stall.",
        "",
        "`wait`: from `record()` until the row is committed (what a response waits for). "
        "`stall`: the longest gap between a 1 ms ticker's ticks on the event loop while a "
        "row waited for the lock: every other request is frozen that long.",
        "",
        "| commit | wait p50 (ms) | wait p99 (ms) | longest loop stall (ms) |",
        "|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['kind']} | {r['wait_p50_ms']} | {r['wait_p99_ms']} "
            f"| {r['longest_loop_stall_ms']} |"
        )
    (RESULTS / "ledger_commit.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
