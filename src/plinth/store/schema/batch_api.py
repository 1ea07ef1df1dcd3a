"""The Batch API: batches and their input lines."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from plinth.store.schema.meta import metadata

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
