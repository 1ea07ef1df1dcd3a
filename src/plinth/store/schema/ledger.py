"""What happened: the per-request ledger, failed attempts, privacy decisions, and the
console's rollup of the ledger."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from plinth.store.schema.meta import metadata

# Append-only: one row per request, success or failure, keyed by the request id
# the client saw in ``x-request-id``.
usage = Table(
    "usage",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(40), nullable=True),
    Column("endpoint", String(40), nullable=False),
    Column("model", String(200), nullable=True),
    Column("status", String(32), nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("finish_reason", String(32), nullable=True),
    Column("prompt_tokens", BigInteger, nullable=False, default=0),
    Column("completion_tokens", BigInteger, nullable=False, default=0),
    Column("latency_ms", Float, nullable=False),
    Column("ttft_ms", Float, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("stream", Boolean, nullable=False, default=False),
    # Added by migration 2: who served it, where the token counts came from
    # ("engine", "upstream" or "estimate"), and how many attempts it took.
    Column("deployment", String(200), nullable=True),
    Column("usage_source", String(16), nullable=True),
    Column("attempts", Integer, nullable=False, default=1),
    Column("tenant_id", String(40), nullable=True),  # migration 5
    # Migration 6: what the request cost, in micro-units of the billing currency,
    # and the price-book row it was priced with.
    Column("cost_micros", BigInteger, nullable=False, default=0),
    Column("price_id", Integer, nullable=True),
    # Migration 24: the batch a request ran in (NULL: interactive), and the
    # prompt tokens the engine or upstream served from its prompt cache.
    Column("batch_id", String(40), nullable=True),
    Column("cached_tokens", BigInteger, nullable=False, default=0),
    # Migration 29: a pass-through request's billed quantity and its unit
    # ("audio_second", "character", "image", "search_unit"); NULL: tokens only.
    Column("units", BigInteger, nullable=False, default=0),
    Column("unit", String(16), nullable=True),
    Index("ix_usage_created_at", "created_at"),
    # By key: ix_usage_key_id_created (migration 22; ix_usage_key_id, its left
    # part, was dropped by migration 30).
)

# Every attempt of a request that failed (the one that served it is in ``usage``).
usage_attempts = Table(
    "usage_attempts",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deployment", String(200), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("http_status", Integer, nullable=False),
    Column("message", Text, nullable=True),
    Column("latency_ms", Float, nullable=False),
)

# One row per request: the privacy decision. Values never appear, only keyed
# hashes (HMAC-SHA256 with the audit key), so equal values can be correlated.
privacy_audit = Table(
    "privacy_audit",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(40), nullable=True),
    Column("endpoint", String(40), nullable=False),
    Column("model", String(200), nullable=True),
    Column("policy", String(100), nullable=False),
    Column("action", String(16), nullable=False),
    Column("entities", Text, nullable=False),  # JSON: {"CN_MOBILE": 2, ...}
    Column("value_hashes", Text, nullable=False),  # JSON: [{"entity", "hash"}, ...]
    Column("deployment", String(200), nullable=True),
    Column("locality", String(16), nullable=True),
    Column("redacted", Boolean, nullable=False, default=False),
    Index("ix_privacy_audit_created_at", "created_at"),
)

# The ledger summed per bucket for the console's dashboard, per dimension
# (plinth.store.console_rollup.DIMS): "all", one column (value) or a pair of
# columns (value, value2), per UTC hour ("YYYY-MM-DD HH") or day ("YYYY-MM-DD").
# Kept by database triggers on ``usage`` inserts (migrations 21, 23; on
# PostgreSQL per statement since 34), so every writer keeps it exact.
# Latency and TTFT are histograms (``lat_0``…, ``ttft_0``…).
usage_rollup = Table(
    "usage_rollup",
    metadata,
    Column("dim", String(24), primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("value2", String(200), primary_key=True),
    Column("bucket", String(13), primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("cached_tokens", BigInteger, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
    Column("latency_sum", Float, nullable=False),
    Column("ttft_sum", Float, nullable=False),
    Column("ttft_count", BigInteger, nullable=False),
    *[Column(f"lat_{i}", BigInteger, nullable=False, default=0) for i in range(12)],
    *[Column(f"ttft_{i}", BigInteger, nullable=False, default=0) for i in range(12)],
    # No other index (migration 30): lookups name the primary key from the left.
    # SQLite keeps the rows in primary-key order, so reading one dimension is
    # one sequential range, not a lookup per row (4x faster on a 90-day range).
    sqlite_with_rowid=False,
)
