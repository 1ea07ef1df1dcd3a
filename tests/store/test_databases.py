"""The storage layer on SQLite and on PostgreSQL, through the same callers.

PostgreSQL runs on the development and CI machines (127.0.0.1:5432, trust auth,
database ``test``); each test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from plinth.store.database import open_database
from plinth.store.keys import KeyStore
from plinth.store.migrations import migrate
from plinth.store.models import ModelStore
from plinth.store.usage import UsageRecord, UsageStore

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield open_database(f"sqlite:///{tmp_path / 'plinth.db'}")
        return
    admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    schema = "plinth_test_" + secrets.token_hex(4)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: {exc.orig}")
    engine = open_database(f"{POSTGRES}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_migrations_apply_once(db: Engine) -> None:
    assert migrate(db) == []


def test_keys(db: Engine) -> None:
    keys = KeyStore(db)
    key, secret = keys.create("app")
    assert keys.find_active(secret) == key
    assert keys.count_active_admins() == 0
    keys.revoke(key.id)
    assert keys.find_active(secret) is None
    assert keys.get(key.id).revoked_at is not None


def test_usage_summaries(db: Engine) -> None:
    usage = UsageStore(db)
    now = datetime.now(UTC)
    usage.append(
        [
            UsageRecord("req_1", now, "key_a", "chat.completions", "m1", "ok", 200, 10, 5, 10.0),
            UsageRecord("req_2", now, "key_a", "chat.completions", "m1", "error", 500, 3, 0, 30.0),
            UsageRecord(
                "req_3", now - timedelta(days=2), "key_b", "embeddings", "m2", "ok", 200, 7, 0, 5.0
            ),
        ]
    )
    by_model = {row["model"]: row for row in usage.summary("model")}
    assert by_model["m1"]["requests"] == 2 and by_model["m1"]["failed"] == 1
    assert by_model["m1"]["prompt_tokens"] == 13 and by_model["m1"]["avg_latency_ms"] == 20.0
    assert [row["key"] for row in usage.summary("key")] == ["key_a", "key_b"]
    days = usage.summary("day")
    assert [row["day"] for row in days] == [
        (now - timedelta(days=2)).date().isoformat(),
        now.date().isoformat(),
    ]
    recent = usage.summary("model", since=now - timedelta(days=1))
    assert [row["model"] for row in recent] == ["m1"]
    assert usage.get("req_3")["prompt_tokens"] == 7  # type: ignore[index]
    assert [row["request_id"] for row in usage.rows(limit=2)] in (
        ["req_1", "req_2"],
        ["req_2", "req_1"],
    )


def test_added_models(db: Engine) -> None:
    models = ModelStore(db)
    models.add("my-model", "chat", "/models/x.gguf")
    assert [row["id"] for row in models.list()] == ["my-model"]
    assert models.remove("my-model") and not models.remove("my-model")
