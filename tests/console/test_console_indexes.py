"""Migration 30: the ledger and the rollup keep only the indexes the console reads by."""

from __future__ import annotations

from sqlalchemy import Engine, delete, inspect

from plinth.store.migrations import migrate
from plinth.store.schema import schema_migrations


def _indexes(engine: Engine, table: str) -> set[str]:
    return {str(index["name"]) for index in inspect(engine).get_indexes(table)}


def test_an_older_database_loses_the_redundant_indexes(db: Engine) -> None:
    assert "ix_usage_key_id_created" in _indexes(db, "usage")  # what key filters read
    assert "ix_usage_key_id" not in _indexes(db, "usage")
    assert _indexes(db, "usage_rollup") == set()  # the primary key is the only one

    # A database from before migration 30 still has both: the step drops them.
    with db.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_usage_key_id ON usage (key_id)")
        conn.exec_driver_sql(
            "CREATE INDEX ix_usage_rollup_value2 ON usage_rollup (dim, value2, bucket)"
        )
        conn.execute(delete(schema_migrations).where(schema_migrations.c.version == 30))
    assert migrate(db) == [30]
    assert "ix_usage_key_id" not in _indexes(db, "usage")
    assert _indexes(db, "usage_rollup") == set()
