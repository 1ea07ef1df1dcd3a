"""Selection bench runs (``plinth bench``) and their measured requests."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Index, Integer, String, Table, Text

from plinth.store.schema.meta import metadata

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
