"""The ledger's hourly rollup for the console's dashboard, kept by triggers.

PostgreSQL's trigger runs once per INSERT statement and sums its rows per
rollup key (migration 34); SQLite's, once per row.

Why triggers: every writer of ``usage`` (the server's recorder, a replica, a
test, a CLI import) keeps ``usage_rollup`` exact in the same transaction as
the ledger row, without any of them knowing the rollup exists; a periodic job
would lag and a write hook in Python would miss writers that are not Plinth.
The dashboard then reads a few thousand rollup rows instead of scanning up to
millions of ledger rows (``benchmarks/console.py`` measures both databases).

Latency and time-to-first-token are summed as histograms over fixed bounds,
so percentiles come out of sums too (to within one bucket, interpolated).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, literal, select
from sqlalchemy.sql.elements import Label

from plinth.store.schema import usage, usage_rollup

#: Upper bounds (ms, exclusive) of the histogram buckets; the last is open.
BOUNDS_MS: tuple[float, ...] = (25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600)
BUCKETS = len(BOUNDS_MS) + 1
SUMS = ("requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_micros")
FLOATS = ("latency_sum", "ttft_sum", "ttft_count")
HISTOGRAMS = tuple(f"lat_{i}" for i in range(BUCKETS)) + tuple(f"ttft_{i}" for i in range(BUCKETS))
ALL_COLUMNS = SUMS + FLOATS + HISTOGRAMS

#: dim -> (the ledger columns giving value and value2, bucket width). Single
#: columns by hour serve short ranges, range edges and charts in any time
#: zone; by day, long ranges. The pairs (by day) answer a filter on one column
#: grouped by another (a tenant's top models) without reading that tenant's
#: ledger rows. Keys alone are by day only: 500 keys by hour would be about as
#: many rows as the ledger itself.
DIMS: dict[str, tuple[tuple[str, ...], str]] = {
    "all": ((), "hour"),
    "tenant": (("tenant_id",), "hour"),
    "model": (("model",), "hour"),
    "deployment": (("deployment",), "hour"),
    "all_day": ((), "day"),
    "tenant_day": (("tenant_id",), "day"),
    "model_day": (("model",), "day"),
    "deployment_day": (("deployment",), "day"),
    "key": (("key_id",), "day"),
    "tenant_model": (("tenant_id", "model"), "day"),
    "tenant_deployment": (("tenant_id", "deployment"), "day"),
    "tenant_key": (("tenant_id", "key_id"), "day"),
    "model_deployment": (("model", "deployment"), "day"),
    "model_key": (("model", "key_id"), "day"),
    "deployment_key": (("deployment", "key_id"), "day"),
}

#: A key belongs to one tenant and a deployment serves one model, so a filter
#: or a grouping on the first makes the second redundant (see console_stats).
IMPLIES = {"key_id": "tenant_id", "deployment": "model"}


def _bucket_sql(dialect: str, column: str, width: str) -> str:
    if dialect == "postgresql":
        pattern = "YYYY-MM-DD HH24" if width == "hour" else "YYYY-MM-DD"
        return f"to_char({column} AT TIME ZONE 'UTC', '{pattern}')"
    return f"substr({column}, 1, {13 if width == 'hour' else 10})"


def _value_sql(prefix: str) -> list[str]:
    """The rollup's additive values for one ledger row, as SQL over ``prefix.*``."""
    lat, ttft = f"{prefix}.latency_ms", f"{prefix}.ttft_ms"

    def hist(expr: str, guard: str) -> list[str]:
        parts, low = [], None
        for bound in (*BOUNDS_MS, None):
            conds = [guard] if guard else []
            if low is not None:
                conds.append(f"{expr} >= {low}")
            if bound is not None:
                conds.append(f"{expr} < {bound}")
            parts.append(f"CASE WHEN {' AND '.join(conds) or '1=1'} THEN 1 ELSE 0 END")
            low = bound
        return parts

    return [
        "1",
        f"CASE WHEN {prefix}.status <> 'ok' THEN 1 ELSE 0 END",
        f"{prefix}.prompt_tokens",
        f"{prefix}.completion_tokens",
        f"{prefix}.cached_tokens",
        f"{prefix}.cost_micros",
        lat,
        f"COALESCE({ttft}, 0)",
        f"CASE WHEN {ttft} IS NULL THEN 0 ELSE 1 END",
        *hist(lat, ""),
        *hist(ttft, f"{ttft} IS NOT NULL"),
    ]


def _upserts(dialect: str) -> list[str]:
    names = ", ".join(ALL_COLUMNS)
    update = ", ".join(f"{c} = usage_rollup.{c} + excluded.{c}" for c in ALL_COLUMNS)
    statements = []
    for dim, (columns, width) in DIMS.items():
        value, value2 = ([f"COALESCE(NEW.{c}, '')" for c in columns] + ["''", "''"])[:2]
        bucket = _bucket_sql(dialect, "NEW.created_at", width)
        values = ", ".join(_value_sql("NEW"))
        statements.append(
            f"INSERT INTO usage_rollup (dim, value, value2, bucket, {names}) "
            f"VALUES ('{dim}', {value}, {value2}, {bucket}, {values}) "
            f"ON CONFLICT (dim, value, value2, bucket) DO UPDATE SET {update};"
        )
    return statements


def _statement_upsert() -> str:
    """PostgreSQL: one INSERT that folds a whole statement's new ledger rows in.

    Each new row's values are computed once, fanned out to its rollup keys
    (one per dimension), summed per key, and upserted once per key. A batch
    stamped now touches the same 15 rows whatever its size, where a row
    trigger updated each of them once per ledger row (every UPDATE of a row
    in one transaction leaves a dead version the next one walks past).
    The keys are upserted in their sort order, so two replicas writing at
    once lock the rollup rows in the same order and cannot deadlock.
    """
    names = ", ".join(ALL_COLUMNS)
    update = ", ".join(f"{c} = usage_rollup.{c} + excluded.{c}" for c in ALL_COLUMNS)
    values = ", ".join(f"{v} AS {c}" for v, c in zip(_value_sql("n"), ALL_COLUMNS, strict=True))
    keys = []
    for dim, (columns, width) in DIMS.items():
        value, value2 = ([f"COALESCE(r.{c}, '')" for c in columns] + ["''", "''"])[:2]
        keys.append(f"('{dim}', {value}, {value2}, r.{width})")
    sums = ", ".join(
        f"SUM(r.{c})::{'float8' if c.endswith('_sum') else 'bigint'}" for c in ALL_COLUMNS
    )
    hour = _bucket_sql("postgresql", "n.created_at", "hour")
    return (
        f"INSERT INTO usage_rollup (dim, value, value2, bucket, {names})\n"
        f"SELECT k.dim, k.value, k.value2, k.bucket, {sums}\n"
        f"FROM (SELECT n.tenant_id, n.model, n.deployment, n.key_id, {hour} AS hour, "
        f"substr({hour}, 1, 10) AS day, {values} FROM new_rows n) r\n"
        f"CROSS JOIN LATERAL (VALUES {', '.join(keys)}) AS k(dim, value, value2, bucket)\n"
        "GROUP BY k.dim, k.value, k.value2, k.bucket\n"
        "ORDER BY k.dim, k.value, k.value2, k.bucket\n"
        f"ON CONFLICT (dim, value, value2, bucket) DO UPDATE SET {update};"
    )


def drop_triggers(conn: Connection) -> None:
    """Stop keeping the rollup (a bulk load does, then calls ``rollup_migration``)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS usage_rollup_insert ON usage")
    else:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS usage_rollup_insert")


def install_triggers(conn: Connection, *, per_row: bool = False) -> None:
    """Keep the rollup from now on: per statement on PostgreSQL, per row on SQLite.

    PostgreSQL's trigger reads the statement's rows as a transition table, so
    its cost follows the rollup rows a statement touches: a writer of many
    rows should insert them as one statement (``UsageStore.append`` does), as
    an executemany runs one statement, and so one trigger, per row. SQLite
    has no transition tables; its row trigger upserts each dimension's row.
    ``per_row`` on PostgreSQL installs the row trigger it had before
    migration 34, for ``benchmarks/ledger_rollup.py`` to compare against.
    """
    drop_triggers(conn)
    if conn.dialect.name != "postgresql":
        body = "\n".join(_upserts("sqlite"))
        conn.exec_driver_sql(
            f"CREATE TRIGGER usage_rollup_insert AFTER INSERT ON usage BEGIN\n{body}\nEND"
        )
        return
    body = "\n".join(_upserts("postgresql")) if per_row else _statement_upsert()
    conn.exec_driver_sql(
        "CREATE OR REPLACE FUNCTION plinth_usage_rollup() RETURNS trigger AS $$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND $$ LANGUAGE plpgsql"
    )
    each = "ROW" if per_row else "STATEMENT"
    transition = "" if per_row else "REFERENCING NEW TABLE AS new_rows "
    conn.exec_driver_sql(
        f"CREATE TRIGGER usage_rollup_insert AFTER INSERT ON usage {transition}"
        f"FOR EACH {each} EXECUTE FUNCTION plinth_usage_rollup()"
    )


def bucket_expr(dialect: str, width: str) -> ColumnElement[str]:
    """The ledger's ``created_at`` as a rollup bucket string, in SQL."""
    if dialect == "postgresql":
        pattern = "YYYY-MM-DD HH24" if width == "hour" else "YYYY-MM-DD"
        return func.to_char(func.timezone("UTC", usage.c.created_at), pattern)
    return func.substr(usage.c.created_at, 1, 13 if width == "hour" else 10)


@functools.cache
def ledger_sums() -> tuple[Label[Any], ...]:
    """The rollup's columns computed from ledger rows: ``select(*ledger_sums())``.

    Built once: constructing these ~30 expressions cost more CPU than running
    a dashboard query over a day of one key's ledger rows.
    """
    lat, ttft = usage.c.latency_ms, usage.c.ttft_ms

    def hist(expr: Any, name: str, nullable: bool) -> list[Label[Any]]:
        out, low = [], None
        for i, bound in enumerate((*BOUNDS_MS, None)):
            conds = [expr.is_not(None)] if nullable else []
            if low is not None:
                conds.append(expr >= low)
            if bound is not None:
                conds.append(expr < bound)
            cond = and_(*conds)
            out.append(func.coalesce(func.sum(case((cond, 1), else_=0)), 0).label(f"{name}_{i}"))
            low = bound
        return out

    def total(expr: Any, name: str) -> Label[Any]:
        return func.coalesce(func.sum(expr), 0).label(name)

    return (
        func.count().label("requests"),
        total(case((usage.c.status != "ok", 1), else_=0), "errors"),
        total(usage.c.prompt_tokens, "prompt_tokens"),
        total(usage.c.completion_tokens, "completion_tokens"),
        total(usage.c.cached_tokens, "cached_tokens"),
        total(usage.c.cost_micros, "cost_micros"),
        total(lat, "latency_sum"),
        total(ttft, "ttft_sum"),
        total(case((ttft.is_(None), 0), else_=1), "ttft_count"),
        *hist(lat, "lat", False),
        *hist(ttft, "ttft", True),
    )


def backfill(conn: Connection) -> None:
    """Sum the ledger rows written before the triggers existed into the rollup."""
    dialect = conn.dialect.name
    for dim, (columns, width) in DIMS.items():
        parts = [func.coalesce(usage.c[c], "") for c in columns]
        value, value2 = [*parts, literal(""), literal("")][:2]
        bucket = bucket_expr(dialect, width)
        query = select(
            literal(dim).label("dim"),
            value.label("value"),
            value2.label("value2"),
            bucket.label("bucket"),
            *ledger_sums(),
        ).group_by(*parts, bucket)
        rows = [dict(r) for r in conn.execute(query).mappings()]
        if rows:
            conn.execute(usage_rollup.insert(), rows)


def rollup_migration(conn: Connection) -> None:
    """Create (or re-create, in today's shape) the rollup, fill it, and start the triggers."""
    drop_triggers(conn)
    usage_rollup.drop(conn, checkfirst=True)
    usage_rollup.create(conn)
    backfill(conn)
    install_triggers(conn)
