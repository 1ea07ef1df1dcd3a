"""The usage ledger: one append-only row per request, and its summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Text, case, func, select

from plinth.store.audit import AuditRecord
from plinth.store.schema import privacy_audit, usage, usage_attempts

GroupBy = Literal["key", "model", "day"]


@dataclass
class AttemptRecord:
    """One failed attempt of a request, on one deployment."""

    request_id: str
    attempt: int
    created_at: datetime
    deployment: str
    error_code: str | None
    http_status: int
    message: str
    latency_ms: float


@dataclass
class UsageRecord:
    request_id: str
    created_at: datetime
    key_id: str | None
    endpoint: str
    model: str | None
    status: str  # ok | error | client_disconnected
    http_status: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    finish_reason: str | None = None
    error_code: str | None = None
    stream: bool = False
    deployment: str | None = None  # the deployment that served it, if any did
    usage_source: str | None = None  # engine | upstream | estimate
    attempts: int = 0
    tenant_id: str | None = None
    cost_micros: int = 0
    price_id: int | None = None
    batch_id: str | None = None  # the Batch API batch it ran in
    cached_tokens: int = 0  # prompt tokens served from the prompt cache
    units: int = 0  # a pass-through request's billed quantity (see billing.prices.UNITS)
    unit: str | None = None
    failed_attempts: list[AttemptRecord] = field(default_factory=list)
    audit: AuditRecord | None = None  # the privacy decision, stored beside the row

    def row(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value, on the hot path.
        values = dict(self.__dict__)
        del values["failed_attempts"], values["audit"]
        return values


#: The largest chunk of one multi-row INSERT (a power of two).
MAX_CHUNK = 256


def _power_of_two_chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``rows`` in order, in chunks of 256, 128, ..., 1 rows: at most 9 statement sizes."""
    chunks, start = [], 0
    while start < len(rows):
        size = min(MAX_CHUNK, 1 << ((len(rows) - start).bit_length() - 1))
        chunks.append(rows[start : start + size])
        start += size
    return chunks


class UsageStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def append(self, records: list[UsageRecord]) -> None:
        if records:
            attempts = [dict(a.__dict__) for r in records for a in r.failed_attempts]
            audits = [r.audit.row() for r in records if r.audit is not None]
            rows = [r.row() for r in records]
            with self._engine.begin() as conn:
                # With RETURNING, SQLAlchemy sends a batch as one multi-row INSERT
                # (its "insertmanyvalues", up to 1,000 rows a statement) instead of
                # one statement per row: PostgreSQL's rollup trigger runs once per
                # statement and sums its rows per rollup key (console_rollup).
                # Not insert().values(rows): compiled anew for every batch, it
                # cost 30 ms of CPU per 100 rows.
                # In chunks of power-of-two sizes: each distinct row count is another
                # statement text, and SQLite keeps each prepared (Python's sqlite3
                # caches 128 per connection) at a size that grows with its rows;
                # batches of every size up to 300 held ~90 MiB per connection
                # (benchmarks/results/memory_soak_diagnosis.md), these chunks ~6 MiB.
                for chunk in _power_of_two_chunks(rows):
                    conn.execute(usage.insert().returning(usage.c.request_id), chunk)
                if attempts:
                    conn.execute(usage_attempts.insert(), attempts)
                if audits:
                    conn.execute(privacy_audit.insert(), audits)

    def rows(self, *, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(usage).order_by(usage.c.created_at.desc()).limit(limit)
        if since is not None:
            query = query.where(usage.c.created_at >= since)
        with self._engine.connect() as conn:
            return [_jsonable(dict(row)) for row in conn.execute(query).mappings()]

    def get(self, request_id: str) -> dict[str, Any] | None:
        """The ledger row, with the failed attempts before it under ``failed_attempts``."""
        with self._engine.connect() as conn:
            row = conn.execute(select(usage).where(usage.c.request_id == request_id)).mappings()
            first = row.first()
            if first is None:
                return None
            failed = [_jsonable(a) for a in failed_attempts(conn, request_id)]
        for attempt in failed:
            del attempt["request_id"]
        return {**_jsonable(dict(first)), "failed_attempts": failed}

    def summary(self, by: GroupBy, *, since: datetime | None = None) -> list[dict[str, Any]]:
        """Totals per key, model or UTC day, ordered by the group."""
        group = {
            "key": usage.c.key_id,
            "model": usage.c.model,
            "day": func.substr(func.cast(usage.c.created_at, Text), 1, 10),
        }[by]
        query = (
            select(
                group.label(by),
                func.count().label("requests"),
                func.sum(case((usage.c.status != "ok", 1), else_=0)).label("failed"),
                func.coalesce(func.sum(usage.c.prompt_tokens), 0).label("prompt_tokens"),
                func.coalesce(func.sum(usage.c.completion_tokens), 0).label("completion_tokens"),
                func.coalesce(func.sum(usage.c.cached_tokens), 0).label("cached_tokens"),
                func.avg(usage.c.latency_ms).label("avg_latency_ms"),
            )
            .group_by(group)
            .order_by(group)
        )
        if since is not None:
            query = query.where(usage.c.created_at >= since)
        with self._engine.connect() as conn:
            result = [dict(row) for row in conn.execute(query).mappings()]
        for row in result:
            row["failed"] = int(row["failed"] or 0)
            row["prompt_tokens"] = int(row["prompt_tokens"])
            row["completion_tokens"] = int(row["completion_tokens"])
            row["cached_tokens"] = int(row["cached_tokens"])
            row["total_tokens"] = row["prompt_tokens"] + row["completion_tokens"]
            row["avg_latency_ms"] = round(float(row["avg_latency_ms"] or 0.0), 1)
        return result


def failed_attempts(conn: Connection, request_id: str) -> list[dict[str, Any]]:
    """The attempts that failed before a request's ledger row, in the order they were made."""
    rows = conn.execute(
        select(usage_attempts)
        .where(usage_attempts.c.request_id == request_id)
        .order_by(usage_attempts.c.attempt)
    ).mappings()
    return [dict(a) for a in rows]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    created = row["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    row["created_at"] = created.isoformat()
    return row
