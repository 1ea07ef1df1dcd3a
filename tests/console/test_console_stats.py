"""The dashboard's numbers are the ledger's: rollup + edges equal `plinth usage` exactly,
on SQLite and PostgreSQL, for every single filter and for combined ones."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from plinth.cli import main
from plinth.store import console_stats as stats
from plinth.store.database import open_database
from plinth.store.schema import api_keys
from plinth.store.usage import UsageRecord, UsageStore

NOW = datetime.now(UTC).replace(microsecond=0)


TENANT_OF = {"key_0": "ten_a", "key_1": "ten_b", "key_2": None, "key_3": "ten_a",
             "key_4": "ten_b", "key_5": "ten_a"}  # fmt: skip
DEPLOYMENT_OF = {"m-a": "d-1", "m-b": "d-2", "m-c": "d-3", None: None}


def _seed(engine: Engine, count: int = 600) -> list[UsageRecord]:
    """Ledger rows where, as in Plinth, a key has one tenant and a deployment one model.

    key_5 has no api_keys row: its tenant is unknown to the dashboard, which must
    then read it under the tenant filter itself."""
    with engine.begin() as conn:
        conn.execute(
            api_keys.insert(),
            [
                {"id": key, "name": key, "key_hash": key, "display": key, "is_admin": False,
                 "created_at": NOW, "tenant_id": tenant}
                for key, tenant in TENANT_OF.items()
                if key != "key_5"
            ],
        )  # fmt: skip
    rng = random.Random(7)
    records = []
    for i in range(count):
        key = f"key_{rng.randrange(6)}"
        model = rng.choice(["m-a", "m-b", "m-c", None])
        records.append(
            UsageRecord(
                request_id=f"req_{i:05d}",
                created_at=NOW
                - timedelta(minutes=rng.randrange(0, 60 * 24 * 9), seconds=rng.random()),
                key_id=key,
                endpoint="chat",
                model=model,
                status=rng.choice(["ok", "ok", "ok", "error"]),
                http_status=200,
                prompt_tokens=rng.randrange(0, 500),
                completion_tokens=rng.randrange(0, 300),
                cached_tokens=rng.randrange(0, 100),
                latency_ms=rng.uniform(5, 30_000),
                ttft_ms=rng.choice([None, rng.uniform(1, 900)]),
                deployment=DEPLOYMENT_OF[model],
                tenant_id=TENANT_OF[key],
                cost_micros=rng.randrange(0, 10_000),
            )
        )
    UsageStore(engine).append(records)
    return records


def _expected(records: list[UsageRecord], f: stats.Filter) -> dict[str, float]:
    rows = [
        r
        for r in records
        if f.start <= r.created_at < f.end
        and all(
            getattr(r, column) == value
            for column, value in (
                ("tenant_id", f.tenant_id),
                ("key_id", f.key_id),
                ("model", f.model),
                ("deployment", f.deployment),
            )
            if value is not None
        )
    ]
    return {
        "requests": len(rows),
        "errors": sum(r.status != "ok" for r in rows),
        "prompt_tokens": sum(r.prompt_tokens for r in rows),
        "completion_tokens": sum(r.completion_tokens for r in rows),
        "cached_tokens": sum(r.cached_tokens for r in rows),
        "cost_micros": sum(r.cost_micros for r in rows),
        "latency_sum": round(sum(r.latency_ms for r in rows), 3),
    }


FILTERS = [
    {},
    {"tenant_id": "ten_a"},
    {"key_id": "key_3"},
    {"key_id": "key_5"},
    {"model": "m-b"},
    {"deployment": "d-2"},
    {"tenant_id": "ten_b", "model": "m-a"},
    {"tenant_id": "ten_a", "deployment": "d-3"},
    {"model": "m-b", "deployment": "d-2"},
    {"key_id": "key_4", "model": "m-c"},
    {"tenant_id": "ten_a", "key_id": "key_3", "model": "m-a", "deployment": "d-1"},
    {"tenant_id": "ten_a", "key_id": "key_1"},  # another tenant's key: nothing
    {"key_id": "key_1", "deployment": "d-1", "model": "m-c"},  # d-1 serves m-a: nothing
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "+".join(f) or "none")
def test_totals_equal_the_ledger_for_every_filter(db: Engine, filters: dict[str, str]) -> None:
    records = _seed(db)
    for group in stats.TOP_DIMS:
        f = stats.Filter(start=NOW - timedelta(days=6, hours=5), end=NOW, **filters)
        ranked = stats.top(db, f, group, limit=100)
        assert sum(s["requests"] for _, s in ranked) == _expected(records, f)["requests"]
        column = stats.TOP_DIMS[group]
        for value, sums in ranked:
            one = stats.Filter(**{**f.__dict__, column: value}) if value else None
            if one is not None and column not in filters:
                assert sums["cost_micros"] == _expected(records, one)["cost_micros"]
    # Ranges whose ends fall inside hours and days: rollup for the middle, ledger at the edges.
    for start, end in (
        (NOW - timedelta(days=7, minutes=17), NOW + timedelta(seconds=1)),
        (NOW - timedelta(hours=30, minutes=3), NOW - timedelta(hours=2, minutes=41)),
        (NOW - timedelta(minutes=50), NOW - timedelta(minutes=5)),
    ):
        f = stats.Filter(start=start, end=end, **filters)
        got = stats.totals(db, f)
        want = _expected(records, f)
        assert {k: round(got.get(k, 0), 3) for k in want} == want
        for hourly in (True, False):
            series = stats.series(db, f, hourly=hourly)
            assert sum(s["requests"] for s in series.values()) == want["requests"]


def test_top_models_agree_with_plinth_usage(db: Engine, tmp_path: Path) -> None:
    _seed(db)
    since = NOW - timedelta(days=5, minutes=29)
    ranked = dict(stats.top(db, stats.Filter(start=since, end=NOW + timedelta(hours=1)), "model"))
    summary = UsageStore(db).summary("model", since=since)
    assert len(summary) == len(ranked)
    for row in summary:
        m = stats.metrics(ranked[row["model"]])
        assert m["requests"] == row["requests"]
        assert m["errors"] == row["failed"]
        assert m["prompt_tokens"] == row["prompt_tokens"]
        assert m["completion_tokens"] == row["completion_tokens"]
        f = stats.Filter(start=since, end=NOW + timedelta(hours=1), model=row["model"])
        if row["model"] is not None:  # a filter cannot ask for NULL; the top list can
            average = stats.metrics(stats.totals(db, f))["avg_latency_ms"]
            assert round(average or 0.0, 1) == row["avg_latency_ms"]


def test_dashboard_totals_equal_the_cli(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'plinth.db'}")
    _seed(engine)
    since = NOW - timedelta(days=3, minutes=7)
    result = CliRunner().invoke(
        main,
        [
            "usage",
            "--by",
            "model",
            "--since",
            since.isoformat(),
            "--format",
            "json",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    totals = stats.metrics(stats.totals(engine, stats.Filter(since, NOW + timedelta(hours=1))))
    assert totals["requests"] == sum(r["requests"] for r in cli)
    assert totals["errors"] == sum(r["failed"] for r in cli)
    assert totals["prompt_tokens"] == sum(r["prompt_tokens"] for r in cli)
    assert totals["completion_tokens"] == sum(r["completion_tokens"] for r in cli)
    assert totals["cached_tokens"] == sum(r["cached_tokens"] for r in cli)


def test_percentiles_come_from_the_histogram() -> None:
    sums: dict[str, float] = {"lat_0": 50.0, "lat_3": 50.0}  # [0, 25) and [100, 200)
    assert stats.percentile(sums, "lat", 0.5) == pytest.approx(25.0)
    assert stats.percentile(sums, "lat", 0.95) == pytest.approx(190.0)
    assert stats.percentile({}, "lat", 0.5) is None


def test_backfill_builds_what_the_triggers_kept(db: Engine) -> None:
    from plinth.store.console_rollup import rollup_migration
    from plinth.store.schema import usage_rollup

    _seed(db, count=300)
    order = [usage_rollup.c.dim, usage_rollup.c.value, usage_rollup.c.value2, usage_rollup.c.bucket]

    def snapshot() -> list[tuple[object, ...]]:
        with db.connect() as conn:
            rows = conn.execute(usage_rollup.select().order_by(*order)).all()
        return [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows]

    kept = snapshot()
    with db.begin() as conn:
        rollup_migration(conn)  # what migration 23 does to an existing ledger
    assert snapshot() == kept and len(kept) > 300


def test_an_open_end_reads_the_current_buckets_whole(db: Engine) -> None:
    records = _seed(db)
    start = (NOW - timedelta(days=5)).replace(hour=0, minute=0, second=0)
    f = stats.Filter(start=start, end=NOW + timedelta(seconds=1), open_end=True)
    assert stats._Plan(f).raw == []  # no ledger rows read
    assert stats.totals(db, f)["requests"] == _expected(records, f)["requests"]
    for dim in stats.TOP_DIMS:
        ranked = stats.top(db, f, dim, limit=100)
        assert sum(s["requests"] for _, s in ranked) == _expected(records, f)["requests"]
