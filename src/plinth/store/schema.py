"""Table definitions (SQLAlchemy Core), shared by SQLite and PostgreSQL.

The tables are created and changed only by :mod:`plinth.store.migrations`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    # SHA-256 of the full key: keys are 256-bit random, so a slow hash buys nothing.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("display", String(40), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # Added by migration 3: the privacy policy's name; NULL means the tenant's
    # policy, else the server default.
    Column("privacy_policy", String(100), nullable=True),
    # Added by migration 5: the organisation that owns the key (NULL: none).
    Column("tenant_id", String(40), nullable=True),
)

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

models = Table(
    "models",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("path", Text, nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    # A llama.cpp built-in template name, or a Jinja template's text (migration 14).
    Column("chat_template", Text, nullable=True),
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

# Deployments added through the admin API or CLI (those in plinth.toml are not
# stored). ``spec`` is the Deployment as JSON: it names the environment
# variable holding the API key, never the key itself.
deployments = Table(
    "deployments",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("spec", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
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

# Uploaded files (the bytes live in the file storage, named by id). Visible to
# the key that uploaded them and to admins.
files = Table(
    "files",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_id", String(40), nullable=True),
    Column("filename", String(512), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),  # Unix seconds, as the API shows it
    Column("expires_at", BigInteger, nullable=True),
    Index("ix_files_key_created", "key_id", "created_at"),
)

# Organisations: they own keys, and give their keys a default privacy policy.
tenants = Table(
    "tenants",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("privacy_policy", String(100), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The price book: versioned per model. A row applies from ``effective_from`` until
# a later row for the same model takes over; rows are never edited. Money is in
# integer micro-units (1e-6) of the billing currency.
prices = Table(
    "prices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(200), nullable=False),
    Column("input_micros_per_mtok", BigInteger, nullable=False, default=0),
    Column("output_micros_per_mtok", BigInteger, nullable=False, default=0),
    Column("cached_input_micros_per_mtok", BigInteger, nullable=False, default=0),
    Column("request_micros", BigInteger, nullable=False, default=0),
    # Per second of the serving attempt (local compute), and per GB-month of
    # stored bytes (only on the pseudo-model rows "storage:<kind>").
    Column("compute_second_micros", BigInteger, nullable=False, default=0),
    Column("storage_gb_month_micros", BigInteger, nullable=False, default=0),
    # Migration 24: the discount a Batch API line gets off this row, in percent.
    Column("batch_discount_percent", Integer, nullable=False, default=0),
    # Migration 28: the units pass-through endpoints are billed in (per second of
    # audio, per 1,000 characters, per image, per rerank search unit).
    Column("audio_second_micros", BigInteger, nullable=False, default=0),
    Column("kchar_micros", BigInteger, nullable=False, default=0),
    Column("image_micros", BigInteger, nullable=False, default=0),
    Column("search_unit_micros", BigInteger, nullable=False, default=0),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_prices_model_effective", "model", "effective_from"),
)

# Limits of one key or one tenant: spend per period, requests and tokens per
# minute, requests in flight. ``subject`` is "key:<id>" or "tenant:<id>".
limits = Table(
    "limits",
    metadata,
    Column("subject", String(80), primary_key=True),
    Column("spend_micros", BigInteger, nullable=True),
    Column("spend_period", String(8), nullable=False, default="month"),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("requests_per_minute", Integer, nullable=True),
    Column("tokens_per_minute", BigInteger, nullable=True),
    Column("max_concurrent", Integer, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Pay-as-you-go wallets: append-only top-ups and credits per tenant. The
# balance is their sum, plus the credit limit, less the ledger's costs.
wallet_entries = Table(
    "wallet_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),  # topup | credit_limit
    Column("amount_micros", BigInteger, nullable=False),
    Column("note", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_wallet_entries_tenant", "tenant_id"),
)

# Stored bytes over time, for per-GB-month billing: one row per span during
# which a resource (a vector store) held a constant size. A size change ends
# the open span and starts the next; byte-seconds are summed per period.
storage_spans = Table(
    "storage_spans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resource", String(80), nullable=False),  # e.g. "vs_…"
    Column("kind", String(32), nullable=False),  # vector_store
    Column("tenant_id", String(40), nullable=True),
    Column("key_id", String(40), nullable=True),
    Column("bytes", BigInteger, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Index("ix_storage_spans_resource_open", "resource", "ended_at"),
    Index("ix_storage_spans_tenant", "tenant_id", "started_at"),
)

# Subscription plans: a fee and included usage per period (day or month in a
# time zone); past it, overage billed at the price book (× overage_percent/100)
# or requests refused until the next period. Plans are never edited.
plans = Table(
    "plans",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("period", String(8), nullable=False),  # day | month
    Column("timezone", String(64), nullable=False),
    Column("fee_micros", BigInteger, nullable=False),
    Column("included_micros", BigInteger, nullable=False),
    Column("overage", String(8), nullable=False),  # bill | stop
    Column("overage_percent", Integer, nullable=False, default=100),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Which plan a tenant is on from when: append-only; the row in force is the
# latest ``effective_from`` not after a time. ``plan`` None means pay-as-you-go.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(40), nullable=False),
    Column("plan", String(80), nullable=True),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_subscriptions_tenant", "tenant_id", "effective_from"),
)

# Selection bench runs (``plinth bench``): one row per run with its config and
# summary as JSON, and one row per measured request (the raw records).
bench_runs = Table(
    "bench_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("config", Text, nullable=False),
    Column("summary", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

bench_requests = Table(
    "bench_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("candidate", String(200), nullable=False),
    Column("workload", String(100), nullable=False),
    Column("profile", String(40), nullable=False),  # e.g. "concurrency=4", "rate=2.0"
    Column("item_id", String(100), nullable=False),
    Column("started_at", Float, nullable=False),  # seconds since the run's start
    Column("ttft_s", Float, nullable=True),
    Column("e2e_s", Float, nullable=True),
    Column("itl_s", Text, nullable=False),  # JSON list of inter-token gaps
    Column("prompt_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    Column("score", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("judge_score", Float, nullable=True),  # LLM-as-judge, 0–1, when asked for
    Column("reply", Text, nullable=True),  # the reply text, so a score can be checked
    Index("ix_bench_requests_run", "run_id"),
)

# Knowledge bases (plinth.knowledge). A store's ``version`` goes up in the same
# transaction as every change to its files, so another process (or replica)
# holding the store's in-memory index notices and reloads it.
from sqlalchemy import LargeBinary  # noqa: E402 (appended with the kb_ tables)

kb_stores = Table(
    "kb_stores",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("dims", Integer, nullable=True),  # None: lexical only
    Column("version", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
)

# One row per file in a store: its attributes (JSON) for search filters.
kb_files = Table(
    "kb_files",
    metadata,
    Column("store_id", String(64), primary_key=True),
    Column("file_id", String(64), primary_key=True),
    Column("attributes", Text, nullable=False, default="{}"),
    Column("chunks", Integer, nullable=False, default=0),
    Column("tokens", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
)

# Chunks with their BM25 terms (space-joined, analysed once) and their
# embedding as float32 bytes; the in-memory indexes are rebuilt from these.
kb_chunks = Table(
    "kb_chunks",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("store_id", String(64), nullable=False),
    Column("file_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("terms", Text, nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=True),
    Index("ix_kb_chunks_store_file", "store_id", "file_id"),
    Index("ix_kb_chunks_store_id", "store_id", "id"),
)

# OpenAI vector stores (plinth.vectorstores): the API's view of a knowledge
# store — owner, name, metadata, expiry — and each file's ingestion state. The
# chunks themselves live in the index (kb_* tables or Milvus) under the same id.
vector_stores = Table(
    "vector_stores",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(40), nullable=True),  # None: created by an admin tool (CLI)
    Column("tenant_id", String(40), nullable=True),
    Column("name", String(256), nullable=False),
    Column("meta", Text, nullable=False),  # JSON object, OpenAI's `metadata`
    Column("expires_after_days", Integer, nullable=True),
    # Default chunking (JSON) for files attached without one (`plinth kb create`).
    Column("chunking", Text, nullable=True),
    Column("usage_bytes", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_active_at", BigInteger, nullable=False),
    # The embedding model that made the store's vectors (migration 31); None:
    # made before Plinth recorded it, read as the configured knowledge.embedding_model.
    Column("embedder", String(200), nullable=True),
    Index("ix_vector_stores_key", "key_id", "created_at"),
)

# Re-embedding a store with another model (plinth.vectorstores.reembed,
# migration 31): one row per store, the latest run. The new vectors are staged
# in kb_chunk_vectors_next by chunk id; searches keep the old ones until every
# chunk has a new one, then one transaction swaps them in.
vector_store_reembeds = Table(
    "vector_store_reembeds",
    metadata,
    Column("vector_store_id", String(64), primary_key=True),
    Column("embedder", String(200), nullable=False),  # the target model
    Column("previous", String(200), nullable=True),
    Column("status", String(16), nullable=False),  # in_progress|completed|failed
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
)

kb_chunk_vectors_next = Table(
    "kb_chunk_vectors_next",
    metadata,
    Column("chunk_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("store_id", String(64), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Index("ix_kb_chunk_vectors_next_store", "store_id"),
)

vector_store_files = Table(
    "vector_store_files",
    metadata,
    Column("vector_store_id", String(64), primary_key=True),
    Column("file_id", String(64), primary_key=True),
    Column("batch_id", String(64), nullable=True),
    Column("filename", String(512), nullable=False),
    Column("status", String(16), nullable=False),  # in_progress|completed|failed|cancelled
    Column("error_code", String(32), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("chunking", Text, nullable=False),  # JSON, OpenAI's static strategy
    Column("attributes", Text, nullable=False),  # JSON object
    Column("usage_bytes", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_vector_store_files_batch", "batch_id"),
    Index("ix_vector_store_files_status", "status"),
)

vector_store_file_batches = Table(
    "vector_store_file_batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("vector_store_id", String(64), nullable=False),
    Column("cancelled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# The text extracted from a File at its first ingestion (plinth.vectorstores):
# parsed once, within the upload limits, and read back by the file-content
# endpoint and any later attach instead of parsing the bytes again (migration 15).
file_texts = Table(
    "file_texts",
    metadata,
    Column("file_id", String(64), primary_key=True),
    Column("text", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# The web console (plinth.console): people who sign in, separate from API keys.
# ``password_hash`` is scrypt's ("scrypt$n$r$p$salt$hash"); ``tenant_id`` is set
# for tenant-admin and viewer users bound to one tenant (migration 20).
console_users = Table(
    "console_users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # admin | tenant-admin | viewer
    Column("tenant_id", String(40), nullable=True),
    Column("password_hash", String(300), nullable=False),
    Column("language", String(8), nullable=True),  # remembered choice: en | zh-CN
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
)

# Server-side console sessions: the cookie carries a random token, the row its
# SHA-256. Idle and absolute expiry are checked on every request; signing out
# everywhere deletes all of a user's rows.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_console_sessions_user", "user_id"),
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

# The Batch API (migration 24): one row per batch, and one per input line with
# its outcome. A line's outcome is written once (``status`` leaves 'pending'
# in the same transaction that bumps the batch's counters), so a restart
# resumes exactly the lines still pending.
batches = Table(
    "batches",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_id", String(40), nullable=True),
    Column("tenant_id", String(40), nullable=True),
    Column("endpoint", String(40), nullable=False),
    Column("input_file_id", String(40), nullable=False),
    Column("completion_window", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("output_file_id", String(40), nullable=True),
    Column("error_file_id", String(40), nullable=True),
    Column("errors", Text, nullable=True),  # JSON: validation errors, OpenAI's shape
    Column("metadata", Text, nullable=True),  # JSON object of strings
    Column("total", Integer, nullable=False, default=0),
    Column("completed", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("in_progress_at", BigInteger, nullable=True),
    Column("finalizing_at", BigInteger, nullable=True),
    Column("completed_at", BigInteger, nullable=True),
    Column("failed_at", BigInteger, nullable=True),
    Column("expired_at", BigInteger, nullable=True),
    Column("cancelling_at", BigInteger, nullable=True),
    Column("cancelled_at", BigInteger, nullable=True),
    Index("ix_batches_key_created", "key_id", "created_at"),
    Index("ix_batches_status", "status"),
)

batch_lines = Table(
    "batch_lines",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("line", Integer, primary_key=True),  # 0-based index in the input file
    Column("custom_id", String(512), nullable=False),
    Column("body", Text, nullable=False),  # the line's request body, JSON
    Column("status", String(16), nullable=False),  # pending | completed | failed
    Column("result", Text, nullable=True),  # the output or error file's line, JSON
    Column("finished_at", BigInteger, nullable=True),
    # Migration 25: the runner (one per server process) running the line, until when.
    Column("owner", String(40), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Index("ix_batch_lines_status", "batch_id", "status"),
)
