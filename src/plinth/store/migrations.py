"""Ordered schema migrations: append new steps, never edit applied ones.

Each step is ``(version, name, function(connection))``; the applied versions
are recorded in ``schema_migrations`` so a step runs exactly once per database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, select

from plinth.store import schema

Step = tuple[int, str, Callable[[Connection], None]]


def _initial(conn: Connection) -> None:
    tables = [schema.api_keys, schema.usage, schema.models]
    schema.metadata.create_all(conn, tables=tables)


def _add_columns(conn: Connection, table: str, columns: dict[str, str]) -> None:
    """ALTER TABLE … ADD COLUMN for the ones missing: step 1 creates tables from
    today's schema, so on a new database they are already there."""
    existing = {column["name"] for column in inspect(conn).get_columns(table)}
    for name, ddl in columns.items():
        if name not in existing:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")


def _routing(conn: Connection) -> None:
    _add_columns(
        conn,
        "usage",
        {
            "deployment": "VARCHAR(200)",
            "usage_source": "VARCHAR(16)",
            "attempts": "INTEGER NOT NULL DEFAULT 1",
        },
    )
    schema.metadata.create_all(conn, tables=[schema.usage_attempts, schema.deployments])


def _privacy(conn: Connection) -> None:
    _add_columns(conn, "api_keys", {"privacy_policy": "VARCHAR(100)"})
    schema.metadata.create_all(conn, tables=[schema.privacy_audit])


def _files(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.files])


def _tenants(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.tenants])
    _add_columns(conn, "api_keys", {"tenant_id": "VARCHAR(40)"})
    _add_columns(conn, "usage", {"tenant_id": "VARCHAR(40)"})


def _billing(conn: Connection) -> None:
    _add_columns(
        conn,
        "usage",
        {"cost_micros": "BIGINT NOT NULL DEFAULT 0", "price_id": "INTEGER"},
    )
    tables = [schema.prices, schema.limits, schema.wallet_entries]
    schema.metadata.create_all(conn, tables=tables)


def _bench(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.bench_runs, schema.bench_requests])


def _knowledge(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.kb_stores, schema.kb_files, schema.kb_chunks])


def _bench_judge(conn: Connection) -> None:
    _add_columns(conn, "bench_requests", {"judge_score": "FLOAT"})


def _bench_reply(conn: Connection) -> None:
    _add_columns(conn, "bench_requests", {"reply": "TEXT"})


def _storage_spans(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.storage_spans])


def _vector_stores(conn: Connection) -> None:
    tables = [schema.vector_stores, schema.vector_store_files, schema.vector_store_file_batches]
    schema.metadata.create_all(conn, tables=tables)


def _plans(conn: Connection) -> None:
    _add_columns(
        conn,
        "prices",
        {
            "compute_second_micros": "BIGINT NOT NULL DEFAULT 0",
            "storage_gb_month_micros": "BIGINT NOT NULL DEFAULT 0",
        },
    )
    schema.metadata.create_all(conn, tables=[schema.plans, schema.subscriptions])


def _chat_templates(conn: Connection) -> None:
    _add_columns(conn, "models", {"chat_template": "TEXT"})


def _file_texts(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.file_texts])


def _console_users(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.console_users, schema.console_sessions])


def _console_rollup(conn: Connection) -> None:
    from plinth.store.console_rollup import rollup_migration

    # The rollup sums cached prompt tokens, which migration 24 adds to the
    # ledger; on a database older than both, add the column here first (the
    # same idempotent step as 24's).
    _add_columns(conn, "usage", {"cached_tokens": "BIGINT NOT NULL DEFAULT 0"})
    rollup_migration(conn)


def _batches(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.batches, schema.batch_lines])
    _add_columns(
        conn,
        "usage",
        {"batch_id": "VARCHAR(40)", "cached_tokens": "BIGINT NOT NULL DEFAULT 0"},
    )
    _add_columns(conn, "prices", {"batch_discount_percent": "INTEGER NOT NULL DEFAULT 0"})
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_usage_batch_id ON usage (batch_id)")


def _batch_leases(conn: Connection) -> None:
    _add_columns(conn, "batch_lines", {"owner": "VARCHAR(40)", "lease_until": "BIGINT"})


def _unit_prices(conn: Connection) -> None:
    columns = ("audio_second_micros", "kchar_micros", "image_micros", "search_unit_micros")
    _add_columns(conn, "prices", {name: "BIGINT NOT NULL DEFAULT 0" for name in columns})


def _ledger_units(conn: Connection) -> None:
    _add_columns(conn, "usage", {"units": "BIGINT NOT NULL DEFAULT 0", "unit": "VARCHAR(16)"})


def _console_indexes(conn: Connection) -> None:
    # The console's filtered dashboard and request log read the ledger by
    # tenant, model or deployment over a time range, newest first.
    for column in ("tenant_id", "model", "deployment", "key_id"):
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS ix_usage_{column}_created ON usage ({column}, created_at)"
        )
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_privacy_audit_key_created "
        "ON privacy_audit (key_id, created_at)"
    )


def _console_lean_indexes(conn: Connection) -> None:
    # ix_usage_key_id is the left part of ix_usage_key_id_created (migration
    # 22), so it only cost every ledger insert; the rollup's index on value2
    # led SQLite's planner into whole-dimension scans, and its lookups now
    # name the primary key from the left (plinth.store.console_stats).
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_usage_key_id")
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_usage_rollup_value2")


def _rollup_statement_trigger(conn: Connection) -> None:
    from plinth.store.console_rollup import install_triggers

    # PostgreSQL: the rollup's row trigger becomes a statement trigger that
    # sums a batch per rollup key (SQLite's row trigger is re-created as is).
    install_triggers(conn)


def _store_embedders(conn: Connection) -> None:
    _add_columns(conn, "vector_stores", {"embedder": "VARCHAR(200)"})
    tables = [schema.vector_store_reembeds, schema.kb_chunk_vectors_next]
    schema.metadata.create_all(conn, tables=tables)


MIGRATIONS: list[Step] = [
    (1, "keys, usage ledger, added models", _initial),
    (2, "deployments; serving deployment, usage source and attempts in the ledger", _routing),
    (3, "privacy policy per key; privacy audit trail", _privacy),
    (4, "uploaded files", _files),
    (5, "tenants own keys; ledger rows name the tenant", _tenants),
    (6, "price book, limits, wallets; cost on every ledger row", _billing),
    (7, "selection bench runs and their per-request records", _bench),
    (8, "knowledge bases: stores, files, chunks with terms and vectors", _knowledge),
    (9, "selection bench: LLM-as-judge score per request", _bench_judge),
    (10, "selection bench: reply text per request", _bench_reply),
    (11, "stored bytes over time (knowledge-base storage metering)", _storage_spans),
    (12, "OpenAI vector stores, their files' ingestion state, file batches", _vector_stores),
    (13, "subscription plans; per-second and per-GB-month prices", _plans),
    (14, "a chat template per added model", _chat_templates),
    (15, "the text extracted from each File, parsed once at ingestion", _file_texts),
    (20, "console users and their server-side sessions", _console_users),
    (21, "the ledger's hourly rollup for the console, kept by insert triggers", _console_rollup),
    (22, "ledger indexes for the console's filters", _console_indexes),
    (23, "the console's rollup also by column pairs (a tenant's top models)", _console_rollup),
    (24, "the Batch API; batch id and cached prompt tokens in the ledger; batch price", _batches),
    (25, "batch lines leased by the server running them (replicas share a batch)", _batch_leases),
    (28, "prices per second of audio, per 1k characters, per image, per search unit", _unit_prices),
    (29, "a pass-through request's billed units in the ledger", _ledger_units),
    (30, "the console: redundant ledger and rollup indexes dropped", _console_lean_indexes),
    (31, "the embedder of each vector store; background re-embedding", _store_embedders),
    (34, "the console's rollup kept per ledger statement on PostgreSQL", _rollup_statement_trigger),
]


def migrate(engine: Engine) -> list[int]:
    """Apply pending steps in order; return the versions applied now."""
    applied_now: list[int] = []
    with engine.begin() as conn:
        if not inspect(conn).has_table("schema_migrations"):
            schema.schema_migrations.create(conn)
        done = set(conn.scalars(select(schema.schema_migrations.c.version)))
    for version, name, step in MIGRATIONS:
        if version in done:
            continue
        with engine.begin() as conn:
            step(conn)
            conn.execute(
                schema.schema_migrations.insert().values(
                    version=version, name=name, applied_at=datetime.now(UTC)
                )
            )
        applied_now.append(version)
    return applied_now
