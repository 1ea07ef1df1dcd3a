"""What the console's rollup trigger costs one recorder-sized ledger batch.

For each database, on a fresh ledger seeded with ``--seed`` rows spread over
90 days (bulk, then the rollup's backfill): the milliseconds (wall, and this
process's CPU) of ``UsageStore.append`` of one 100-row batch, with rows
stamped now (what the recorder writes: the same current-hour and current-day
rollup rows) and spread over the 90 days (a rollup row each: the worst case),
under each way of keeping the rollup:

- ``row``: a trigger per ledger row (SQLite's; PostgreSQL's before migration 34),
- ``statement``: PostgreSQL's trigger per INSERT statement (migration 34),
- ``none``: no trigger (the ledger alone; its rows are deleted afterwards).

The variants are interleaved round by round; medians are reported with the
load average, and on PostgreSQL (local) the CPU time its backends spent
per batch, read from /proc, which the machine's load does not inflate. At
the end the rollup's request count must equal the ledger's.

    .venv/bin/python benchmarks/ledger_rollup.py [--rounds 5] [--db sqlite postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text

sys.path.insert(0, str(Path(__file__).parent))
from console import POSTGRES, World, bulk_load
from plinth.store.console_rollup import drop_triggers, install_triggers
from plinth.store.database import open_database
from plinth.store.schema import usage, usage_rollup
from plinth.store.usage import UsageRecord, UsageStore

RESULTS = Path(__file__).parent / "results"
VARIANTS = {"sqlite": ("row", "none"), "postgresql": ("row", "statement", "none")}


def install(engine: Engine, variant: str) -> None:
    with engine.begin() as conn:
        if variant == "none":
            drop_triggers(conn)
        else:
            install_triggers(conn, per_row=variant == "row")


def server_cpu_ms(pids: set[int]) -> float:
    """CPU time (user + system) of these PostgreSQL backends so far: the server is local."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a backend that ended (its time is lost: reported as such)
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def measure(engine: Engine, world: World, rounds: int, batches: int, size: int) -> dict[str, Any]:
    store, base = UsageStore(engine), 10_000_000_000
    samples: dict[str, tuple[list[float], list[float]]] = {}
    server: dict[str, float] = {}  # summed backend CPU ms per case (ticks: 10 ms apart)
    pids: set[int] = set()
    if engine.dialect.name == "postgresql":
        engine.dispose()  # connections from now on are seen, with their backend's pid
        event.listen(engine, "connect", lambda conn, _: pids.add(conn.info.backend_pid))
    untracked: list[str] = []  # written without a trigger: not in the rollup
    for _ in range(rounds):
        for variant in VARIANTS[engine.dialect.name]:
            install(engine, variant)
            for when in ("now", "spread"):
                wall, cpu = samples.setdefault(f"{variant}_{when}", ([], []))
                for _ in range(batches):
                    rows = world.rows(size, start=base)
                    base += size
                    if when == "now":
                        stamp = datetime.now(UTC)
                        for row in rows:
                            row["created_at"] = stamp
                    records = [UsageRecord(**r) for r in rows]
                    if variant == "none":
                        untracked += [r.request_id for r in records]
                    server_before = server_cpu_ms(pids)
                    started, started_cpu = time.perf_counter(), time.process_time()
                    store.append(records)
                    wall.append((time.perf_counter() - started) * 1000)
                    cpu.append((time.process_time() - started_cpu) * 1000)
                    server[f"{variant}_{when}"] = server.get(f"{variant}_{when}", 0.0) + (
                        server_cpu_ms(pids) - server_before
                    )
    install(engine, "statement")
    with engine.begin() as conn:
        for i in range(0, len(untracked), 500):
            conn.execute(usage.delete().where(usage.c.request_id.in_(untracked[i : i + 500])))
        ledger = conn.scalar(select(func.count()).select_from(usage))
        summed = conn.scalar(
            select(func.sum(usage_rollup.c.requests)).where(usage_rollup.c.dim == "all")
        )
    assert summed == ledger, (summed, ledger)  # the rollup is exact after every variant
    return {
        label: {
            "wall_ms_median": round(statistics.median(wall), 2),
            "cpu_ms_median": round(statistics.median(cpu), 2),
            "server_cpu_ms_mean": round(server[label] / len(cpu), 1) if pids else None,
            "wall_ms_range": [round(min(wall), 1), round(max(wall), 1)],
        }
        for label, (wall, cpu) in samples.items()
    } | {"ledger_rows_after": ledger}


def run_database(kind: str, seed: int, rounds: int, batches: int, size: int) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="plinth-ledger-rollup-")
    schema = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/plinth.db"
    else:
        schema = "plinth_ledger_rollup_" + secrets.token_hex(4)
        admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    try:
        engine = open_database(url)
        tenants = {f"tenant-{t:02d}": [f"key-{t:02d}-{k}" for k in range(10)] for t in range(50)}
        world = World(tenants)
        if seed:
            bulk_load(engine, world, seed)
        result = measure(engine, world, rounds, batches, size)
        engine.dispose()
        return {"database": kind, "seed_rows": seed, **result}
    finally:
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def report(results: list[dict[str, Any]], args: argparse.Namespace, load: str) -> str:
    lines = [
        "# Rollup trigger cost per ledger batch",
        "",
        f"`benchmarks/ledger_rollup.py --seed {args.seed} --rounds {args.rounds} "
        f"--batches {args.batches}`, {args.size}-row batches via `UsageStore.append`, "
        f"medians over {args.rounds * args.batches} batches per case, variants interleaved.",
        f"{platform.platform()}, {os.cpu_count()} CPUs, load average before/after: {load}.",
        "",
        "| database | trigger | stamped | wall ms | CPU ms, this process | CPU ms, PostgreSQL "
        "backend (mean) | wall range |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for result in results:
        for variant in VARIANTS[result["database"]]:
            for when in ("now", "spread"):
                r = result[f"{variant}_{when}"]
                lines.append(
                    f"| {result['database']} | {variant} | {when} | {r['wall_ms_median']} "
                    f"| {r['cpu_ms_median']} | {r['server_cpu_ms_mean'] or '-'} "
                    f"| {r['wall_ms_range'][0]}-{r['wall_ms_range'][1]} |"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=100_000, help="ledger rows before")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=4, help="per variant and round")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    results = [
        run_database(kind, args.seed, args.rounds, args.batches, args.size) for kind in args.db
    ]
    load = f"{before} / {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    text_out = report(results, args, load)
    print(text_out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ledger_rollup.json").write_text(
        json.dumps({"load_average": load, "results": results}, indent=2) + "\n"
    )
    (args.out / "ledger_rollup.md").write_text(text_out)


if __name__ == "__main__":
    main()
