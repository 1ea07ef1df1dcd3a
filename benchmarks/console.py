"""The web console on real volumes: dashboard and request-log pages over 1,000,000 ledger rows.

Seeds a ledger spread over 90 days (50 tenants, 500 keys, 20 models, ~30
deployments, Zipf-skewed so the biggest tenant and model carry a large share)
into SQLite and into PostgreSQL (a throw-away schema on 127.0.0.1:5432,
database ``test``), then requests every filter combination of the dashboard
and the request log through the real app in-process and times each response
(server time: routing, queries, rendering; no network).

The ledger rows are bulk-loaded with the rollup trigger dropped, and the rollup
is then built by migration 23's backfill, which is what an upgrade of an
existing database runs; the cost the trigger adds to each ledger write is
measured separately on batches like the recorder's.

    .venv/bin/python benchmarks/console.py [--rows 1000000] [--reps 5] [--db sqlite postgresql]
    # or in two steps, seeding (most of the run) apart from measuring:
    .venv/bin/python benchmarks/console.py --phase seed --seeded /tmp/console-seeded
    .venv/bin/python benchmarks/console.py --phase measure --seeded /tmp/console-seeded

Writes ``benchmarks/results/console.md`` and ``console.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, create_engine, func, select, text
from starlette.testclient import TestClient

from plinth.app import create_app
from plinth.settings import Settings
from plinth.store.console_rollup import install_triggers, rollup_migration
from plinth.store.console_users import ConsoleUserStore
from plinth.store.database import open_database
from plinth.store.keys import KeyStore
from plinth.store.schema import usage, usage_rollup
from plinth.store.tenants import TenantStore
from plinth.store.usage import UsageRecord, UsageStore

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
ADMIN_KEY = "sk-plinth-bench-console-admin-0123456789"
PASSWORD = "bench password 123"
RESULTS = Path(__file__).parent / "results"
COLUMNS = [column.name for column in usage.columns]
# Ledger columns this bench does not vary get their schema default.
DEFAULTS = {c.name: getattr(c.default, "arg", None) for c in usage.columns}


def zipf_weights(n: int, s: float) -> list[float]:
    return [1 / (i + 1) ** s for i in range(n)]


class World:
    """Tenants, keys, models and deployments, and the ledger rows drawn from them."""

    def __init__(self, keys: dict[str, list[str]], seed: int = 7):
        self.rng = random.Random(seed)
        self.tenants = list(keys)
        self.keys = keys
        self.models = [f"model-{i:02d}" for i in range(20)]
        self.deployments = {
            m: [f"{m}@local"] + ([f"{m}@cloud"] if i % 2 == 0 else [])
            for i, m in enumerate(self.models)
        }
        self.tenant_w = zipf_weights(len(self.tenants), 0.8)
        self.model_w = zipf_weights(len(self.models), 1.0)
        self.key_w = zipf_weights(10, 1.0)
        self.now = datetime.now(UTC).replace(microsecond=0)

    def rows(self, count: int, start: int = 0) -> list[dict[str, Any]]:
        rng, out = self.rng, []
        tenants = rng.choices(self.tenants, self.tenant_w, k=count)
        models = rng.choices(self.models, self.model_w, k=count)
        for i in range(count):
            tenant, model = tenants[i], models[i]
            key = rng.choices(self.keys[tenant], self.key_w)[0]
            ok = rng.random() > 0.03
            prompt = int(rng.lognormvariate(5.5, 1.0))
            completion = int(rng.lognormvariate(4.5, 1.0)) if ok else 0
            out.append({
                "request_id": f"req_{start + i:012x}",
                "created_at": self.now - timedelta(seconds=rng.uniform(0, 90 * 86400)),
                "key_id": key, "endpoint": "chat", "model": model,
                "status": "ok" if ok else "error", "http_status": 200 if ok else 502,
                "finish_reason": "stop" if ok else None, "prompt_tokens": prompt,
                "completion_tokens": completion, "latency_ms": rng.lognormvariate(6.5, 0.8),
                "ttft_ms": rng.lognormvariate(5.0, 0.7) if rng.random() < 0.6 else None,
                "error_code": None if ok else "upstream_error", "stream": rng.random() < 0.6,
                "deployment": rng.choice(self.deployments[model]), "usage_source": "upstream",
                "attempts": 1, "tenant_id": tenant, "cost_micros": prompt * 3 + completion * 12,
                "price_id": None, "batch_id": None,
                "cached_tokens": prompt // 2 if rng.random() < 0.3 else 0,
            })  # fmt: skip
        return out


def _drop_trigger(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS usage_rollup_insert ON usage")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS usage_rollup_insert")


def bulk_load(engine: Engine, world: World, total: int, chunk: int = 50_000) -> float:
    """Ledger rows in bulk (COPY on PostgreSQL), trigger off; then the rollup's backfill."""
    _drop_trigger(engine)
    started = time.perf_counter()
    for offset in range(0, total, chunk):
        rows = world.rows(min(chunk, total - offset), start=offset)
        if engine.dialect.name == "postgresql":
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                with cursor.copy(f"COPY usage ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row([row.get(c, DEFAULTS.get(c)) for c in COLUMNS])
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as conn:
                conn.execute(usage.insert(), rows)
        print(f"  {offset + len(rows):>9,} rows", file=sys.stderr, end="\r")
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as conn:
        rollup_migration(conn)
    if engine.dialect.name == "postgresql":
        # What autovacuum does on its own after a load like this one; SQLite gets
        # none, as Plinth never runs ANALYZE there (its plans must not need it).
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    print(
        f"  loaded in {loaded:.0f} s, rollup built in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return time.perf_counter() - started


def write_cost(
    engine: Engine, world: World, rounds: int = 4, batches: int = 5, size: int = 100
) -> dict[str, dict[str, float]]:
    """Milliseconds (wall and this process's CPU) to append one recorder-sized batch,
    with and without the rollup trigger, for rows stamped now (what the recorder
    writes: they land in the current hour's and day's rollup rows) and spread over
    the 90 days (every row a different rollup row: the worst case). Interleaved
    rounds, medians."""
    store, base = UsageStore(engine), 10_000_000_000
    samples: dict[str, tuple[list[float], list[float]]] = {}
    untracked: list[str] = []  # rows written without the trigger: not in the rollup
    for _ in range(rounds):
        for with_trigger in (True, False):
            with engine.begin() as conn:
                if with_trigger:
                    install_triggers(conn)
                else:
                    _drop_trigger(engine)
            for when in ("now", "spread"):
                wall, cpu = samples.setdefault(
                    f"{'with' if with_trigger else 'without'}_trigger_{when}", ([], [])
                )
                for _ in range(batches):
                    rows = world.rows(size, start=base)
                    base += size
                    if when == "now":
                        stamp = datetime.now(UTC)
                        for row in rows:
                            row["created_at"] = stamp
                    records = [UsageRecord(**r) for r in rows]
                    if not with_trigger:
                        untracked += [r.request_id for r in records]
                    started, started_cpu = time.perf_counter(), time.process_time()
                    store.append(records)
                    wall.append((time.perf_counter() - started) * 1000)
                    cpu.append((time.process_time() - started_cpu) * 1000)
    with engine.begin() as conn:  # the rollup is exact again without those rows
        for i in range(0, len(untracked), 500):
            conn.execute(usage.delete().where(usage.c.request_id.in_(untracked[i : i + 500])))
        install_triggers(conn)
    return {
        label: {
            f"wall_ms_per_{size}_rows": round(statistics.median(wall), 2),
            f"cpu_ms_per_{size}_rows": round(statistics.median(cpu), 2),
        }
        for label, (wall, cpu) in samples.items()
    }


def seed_accounts(engine: Engine) -> dict[str, list[str]]:
    tenants, keys, out = TenantStore(engine), KeyStore(engine), {}
    for t in range(50):
        tenant = tenants.create(f"tenant-{t:02d}")
        out[tenant.id] = [keys.create(f"key-{t:02d}-{k}", tenant_id=tenant.id)[0].id
                          for k in range(10)]  # fmt: skip
    ConsoleUserStore(engine).create("bench", "admin", PASSWORD)
    return out


def sign_in(client: TestClient) -> None:
    page = client.get("/console/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/console/signin",
        data={"csrf": token.group(1), "name": "bench", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def filter_sets(world: World) -> list[dict[str, str]]:
    tenant = world.tenants[0]  # the biggest tenant, the biggest model: the worst cases
    key, model = world.keys[tenant][0], world.models[0]
    deployment = world.deployments[model][0]
    return [
        {}, {"tenant": tenant}, {"key": key}, {"model": model}, {"deployment": deployment},
        {"tenant": tenant, "model": model}, {"tenant": tenant, "deployment": deployment},
        {"model": model, "deployment": deployment}, {"key": key, "model": model},
        {"tenant": tenant, "key": key, "model": model, "deployment": deployment},
    ]  # fmt: skip


def timed(
    client: TestClient, path: str, params: dict[str, str], reps: int
) -> tuple[list[float], list[float]]:
    """Wall-clock ms per request, and this process's CPU ms (the app runs in-process, so
    that is the server's CPU, not counting the database server's on PostgreSQL)."""
    times, cpu = [], []
    for _ in range(reps):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, (path, params, response.text[:300])
    return times, cpu


def _focus(key: str | None) -> dict[str, str | None]:
    """A single key over 24 h: the combination that missed 300 ms in the first runs."""
    return {"key": key, "range": "24h"}


def measure(url: str, world: World, reps: int, seed: int = 1) -> dict[str, Any]:
    """Every case ``reps`` times, in rounds: each round requests every case once, in a
    shuffled order, so a burst of load elsewhere spreads over many cases instead of
    falling on one."""
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            database_url=url,
            admin_key=ADMIN_KEY,
            load_bundled_models=False,
        )  # type: ignore[arg-type]
        with TestClient(create_app(settings)) as client:
            sign_in(client)
            client.get("/console/")  # warm caches once
            cases: list[dict[str, Any]] = []
            for params, span in itertools.product(filter_sets(world), ["24h", "7d", "30d", "90d"]):
                cases.append({"page": "dashboard", "params": {**params, "range": span}})
            log_cases = [{**p, "range": s} for p in filter_sets(world) for s in ("24h", "90d")]
            log_cases += [
                {"range": "all"},
                {"range": "90d", "status": "error"},
                {"range": "all", "q": "req_00000000abcd"},
            ]
            cases += [{"page": "requests", "params": query} for query in log_cases]
            first = client.get("/console/requests", params={"range": "all"}).text
            older = re.search(r'id="older" href="[^"?]*\?([^"]+)"', first)
            if older:
                pairs = (p.split("=", 1) for p in older.group(1).replace("&amp;", "&").split("&"))
                cases.append(
                    {"page": "requests (page 2)", "params": {k: unquote(v) for k, v in pairs}}
                )
            paths = {"dashboard": "/console/", "requests": "/console/requests"}
            for case in cases:
                case["ms"], case["cpu_ms"] = [], []
            # The case that missed the target before is requested 4 times a round.
            focus = _focus(world.keys[world.tenants[0]][0])
            extra = [c for c in cases if c["page"] == "dashboard" and c["params"] == focus] * 3
            order = random.Random(seed)
            for _ in range(reps):
                for case in order.sample(cases + extra, len(cases + extra)):
                    path = paths[case["page"].split(" ")[0]]
                    wall, cpu = timed(client, path, case["params"], 1)
                    case["ms"] += wall
                    case["cpu_ms"] += cpu
    return {"cases": cases}


def summarise(cases: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for page in ("dashboard", "requests"):
        times = sorted(t for c in cases if c["page"].startswith(page) for t in c["ms"])
        cpu = sorted(t for c in cases if c["page"].startswith(page) for t in c["cpu_ms"])
        if times:
            out[page] = {
                "requests": len(times),
                "p50_ms": round(times[len(times) // 2], 1),
                "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
                "max_ms": round(times[-1], 1),
                "cpu_p50_ms": round(cpu[len(cpu) // 2], 1),
                "cpu_p95_ms": round(cpu[int(len(cpu) * 0.95) - 1], 1),
            }
    return out


def _database(kind: str, where: Path) -> tuple[str, str | None]:
    """A fresh database to seed: a SQLite file under ``where`` or a new PostgreSQL schema."""
    if kind == "sqlite":
        return f"sqlite:///{where}/plinth.db", None
    schema = "plinth_console_bench_" + secrets.token_hex(4)
    admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", schema


def _drop_schema(schema: str) -> None:
    admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def seed(kind: str, rows: int, where: Path) -> dict[str, Any]:
    """Seed one database; return what measuring it later needs (its URL and world)."""
    print(f"{kind}: seeding {rows:,} rows", file=sys.stderr)
    url, schema = _database(kind, where)
    engine = open_database(url)
    world = World(seed_accounts(engine))
    bulk_load(engine, world, rows)
    engine.dispose()
    return {"kind": kind, "url": url, "schema": schema, "keys": world.keys,
            "now": world.now.isoformat()}  # fmt: skip


def measure_seeded(state: dict[str, Any], reps: int) -> dict[str, Any]:
    """The write cost and every page of one seeded database."""
    kind, url = state["kind"], state["url"]
    world = World(state["keys"])
    world.now = datetime.fromisoformat(state["now"])
    engine = open_database(url)
    writes = write_cost(engine, world)
    with engine.connect() as conn:
        ledger = conn.scalar(select(func.count()).select_from(usage))
        rollup = conn.scalar(select(func.count()).select_from(usage_rollup))
        summed = conn.scalar(
            select(func.sum(usage_rollup.c.requests)).where(usage_rollup.c.dim == "all")
        )
    assert summed == ledger, (summed, ledger)  # the rollup is exact after the writes
    engine.dispose()
    load_before = os.getloadavg()
    measured = measure(url, world, reps)
    measured["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print(f"  {kind}: {summarise(measured['cases'])}", file=sys.stderr)
    return {
        "database": kind,
        "ledger_rows": ledger,
        "rollup_rows": rollup,
        "write_cost": writes,
        "summary": summarise(measured["cases"]),
        **measured,
    }


def run_database(kind: str, rows: int, reps: int, keep: bool = False) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="plinth-console-bench-"))
    state: dict[str, Any] = {"schema": None}
    try:
        state = seed(kind, rows, tmp)
        return measure_seeded(state, reps)
    finally:
        if keep:
            print(f"  kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        if state["schema"] is not None:
            _drop_schema(state["schema"])


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "# Console pages on real volumes",
        "",
        f"`python benchmarks/console.py --rows {args.rows} --reps {args.reps}` on "
        f"{platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}."
        " Server time per page (in-process ASGI, no network), every filter combination"
        " (none, tenant, key, model, deployment and their pairs, all four) × range (24 h, 7 d,"
        " 30 d, 90 d) for the dashboard, and the request log's filters, search and page 2;"
        f" {args.reps} rounds, each requesting every case once in a shuffled order. CPU is"
        " this process's (the app's) CPU time per request; on PostgreSQL the database"
        " server's is not in it. The 1-minute load average before and after each"
        " database's pages is given: the machine's 2 cores are shared, and wall times"
        " grow with it.",
        "",
        "| database | ledger rows | rollup rows | page | requests | p50 ms | p95 ms | max ms "
        "| CPU p50 ms | CPU p95 ms | load avg |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        load = r["load_average"]
        shown = f"{load['before'][0]:.1f} → {load['after'][0]:.1f}"
        for page, s in r["summary"].items():
            lines.append(
                f"| {r['database']} | {r['ledger_rows']:,} | {r['rollup_rows']:,} | "
                f"{page} | {s['requests']} | {s['p50_ms']} | {s['p95_ms']} | {s['max_ms']} | "
                f"{s['cpu_p50_ms']} | {s['cpu_p95_ms']} | {shown} |"
            )
    lines += [
        "",
        "A single key over 24 h (the case that missed the target before):",
        "",
    ]
    for r in results:
        for c in r["cases"]:
            if c["page"] == "dashboard" and c["params"] == _focus(c["params"].get("key")):
                lines.append(
                    f"- {r['database']}: wall ms {[round(t, 1) for t in c['ms']]},"
                    f" CPU ms {[round(t, 1) for t in c['cpu_ms']]}"
                )
    lines += ["", "Cost of the rollup trigger on a ledger write (medians):", ""]
    for r in results:
        for label, cost in r["write_cost"].items():
            lines.append(f"- {r['database']} {label}: {json.dumps(cost)}")
    lines += ["", "Slowest combinations (median wall ms, median CPU ms):", ""]
    for r in results:
        slow = sorted(r["cases"], key=lambda c: -statistics.median(c["ms"]))[:5]
        for c in slow:
            lines.append(
                f"- {r['database']} {c['page']} {json.dumps(c['params'])}: "
                f"{statistics.median(c['ms']):.1f}, {statistics.median(c['cpu_ms']):.1f}"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="Keep the SQLite file (printed).")
    parser.add_argument(
        "--seeded",
        type=Path,
        help="Split the run: with --phase seed, seed the databases and write their state"
        " into this folder (seeding takes most of the run and needs no quiet machine);"
        " with --phase measure, measure them from it (then delete the folder; its"
        " PostgreSQL schema is dropped after measuring).",
    )
    parser.add_argument("--phase", choices=["seed", "measure"])
    args = parser.parse_args()
    if (args.seeded is None) != (args.phase is None):
        parser.error("--seeded and --phase go together")
    if args.phase == "seed":
        args.seeded.mkdir(parents=True, exist_ok=True)
        states = []
        for kind in args.db:
            where = args.seeded / kind
            where.mkdir(exist_ok=True)
            states.append(seed(kind, args.rows, where.resolve()))
        (args.seeded / "state.json").write_text(json.dumps(states, indent=1))
        print(f"seeded: {args.seeded}/state.json", file=sys.stderr)
        return
    if args.phase == "measure":
        results = []
        for state in json.loads((args.seeded / "state.json").read_text()):
            try:
                results.append(measure_seeded(state, args.reps))
            finally:
                if state["schema"] is not None:
                    _drop_schema(state["schema"])
    else:
        results = [run_database(kind, args.rows, args.reps, args.keep) for kind in args.db]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "console.json").write_text(json.dumps(results, indent=1, default=str))
    (args.out / "console.md").write_text(report(results, args))
    print(report(results, args))


if __name__ == "__main__":
    main()
