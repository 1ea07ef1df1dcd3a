"""The storage layer on SQLite and on PostgreSQL, through the same callers.

PostgreSQL runs on the development and CI machines (127.0.0.1:5432, trust auth,
database ``test``); each test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from plinth.store.keys import KeyStore
from plinth.store.migrations import migrate
from plinth.store.models import ModelStore
from plinth.store.usage import UsageRecord, UsageStore


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
