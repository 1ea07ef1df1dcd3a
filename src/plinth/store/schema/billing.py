"""What it costs and who may spend: the price book, limits, wallets, stored-bytes spans,
plans and subscriptions."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text

from plinth.store.schema.meta import metadata

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
