"""The console's rollup stays exact whoever writes the ledger and however it batches,
and a batch reaches PostgreSQL as one INSERT (its rollup trigger runs per statement)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

from plinth.store.console_rollup import rollup_migration
from plinth.store.schema import usage, usage_rollup
from plinth.store.usage import UsageRecord, UsageStore

NOW = datetime.now(UTC).replace(microsecond=0)


def _records(start: int, count: int, *, spread: bool) -> list[UsageRecord]:
    return [
        UsageRecord(
            request_id=f"req_{start + i:06d}",
            created_at=NOW - timedelta(hours=(i * 7) % 200 if spread else 0, seconds=i % 50),
            key_id=f"key_{i % 4}",
            endpoint="chat",
            model=[None, "m-a", "m-b"][i % 3],
            status="error" if i % 5 == 0 else "ok",
            http_status=200,
            prompt_tokens=i * 3,
            completion_tokens=i % 17,
            cached_tokens=i % 5,
            latency_ms=[3.0, 30.0, 300.0, 30_000.0][i % 4] + i / 8,
            ttft_ms=None if i % 3 == 0 else 20.0 + i,
            deployment=[None, "d-a", "d-b"][i % 3],
            tenant_id=None if i % 4 == 3 else f"ten_{i % 2}",
            cost_micros=i * 11,
        )
        for i in range(count)
    ]


def _snapshot(engine: Engine) -> list[tuple[Any, ...]]:
    order = [usage_rollup.c.dim, usage_rollup.c.value, usage_rollup.c.value2, usage_rollup.c.bucket]
    with engine.connect() as conn:
        rows = conn.execute(usage_rollup.select().order_by(*order)).all()
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows]


def test_every_way_of_writing_keeps_the_rollup_exact(db: Engine) -> None:
    store = UsageStore(db)
    store.append(_records(0, 150, spread=False))  # one batch, the same buckets over and over
    store.append(_records(1000, 150, spread=True))  # one batch over 200 hours
    store.append(_records(2000, 40, spread=False))  # the same rollup rows again, later
    store.append(_records(3000, 1, spread=False))
    with db.begin() as conn:  # a writer that is not Plinth: one statement per row
        conn.execute(usage.insert(), [r.row() for r in _records(4000, 30, spread=True)])
    kept = _snapshot(db)
    with db.begin() as conn:
        rollup_migration(conn)  # the rollup summed afresh from the ledger
    rebuilt = _snapshot(db)
    assert kept == rebuilt
    assert sum(r[4] for r in rebuilt if r[0] == "all") == 371  # requests, every ledger row


def test_a_batch_is_a_few_multi_row_insert_statements(db: Engine) -> None:
    inserts: list[str] = []

    def seen(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO USAGE "):
            inserts.append(statement)

    event.listen(db, "before_cursor_execute", seen)
    try:
        UsageStore(db).append(_records(0, 100, spread=True))
    finally:
        event.remove(db, "before_cursor_execute", seen)
    # 100 rows in power-of-two chunks (64 + 32 + 4: few statement texts stay prepared,
    # store/usage.py), each one multi-row statement: one trigger run per chunk.
    assert [s.count("),") + 1 for s in inserts] == [64, 32, 4]


def test_postgresql_keeps_the_rollup_per_statement(db: Engine) -> None:
    with db.connect() as conn:
        if db.dialect.name == "postgresql":
            tgtype = conn.exec_driver_sql(
                "SELECT tgtype FROM pg_trigger WHERE tgname = 'usage_rollup_insert' "
                "AND tgrelid = 'usage'::regclass"
            ).scalar_one()
            assert tgtype & 1 == 0  # bit 0 set: FOR EACH ROW (migration 34 replaced it)
        else:
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'usage_rollup_insert'"
            ).scalar_one()
            assert "AFTER INSERT ON usage" in sql
