"""The console's request log: one page of ledger rows, newest first, and one row's detail.

Pages are keyset-paginated on ``(created_at, request_id)`` so the thousandth
page costs what the first does; filters ride the ledger's per-column indexes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, or_, select

from plinth.store.schema import privacy_audit, usage
from plinth.store.usage import failed_attempts


@dataclass(frozen=True)
class LogFilter:
    start: datetime | None = None
    end: datetime | None = None
    tenant_id: str | None = None
    key_id: str | None = None
    model: str | None = None
    deployment: str | None = None
    status: str | None = None  # ok | error (anything not ok)
    request_id: str | None = None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def page(
    engine: Engine, f: LogFilter, *, before: tuple[datetime, str] | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], tuple[datetime, str] | None]:
    """Up to ``limit`` rows and the cursor of the next (older) page, if there is one."""
    query = select(usage).order_by(usage.c.created_at.desc(), usage.c.request_id.desc())
    if f.request_id:
        query = query.where(usage.c.request_id == f.request_id)
    if f.start is not None:
        query = query.where(usage.c.created_at >= f.start)
    if f.end is not None:
        query = query.where(usage.c.created_at < f.end)
    for column, value in (
        ("tenant_id", f.tenant_id),
        ("key_id", f.key_id),
        ("model", f.model),
        ("deployment", f.deployment),
    ):
        if value is not None:
            query = query.where(usage.c[column] == value)
    if f.status == "ok":
        query = query.where(usage.c.status == "ok")
    elif f.status == "error":
        query = query.where(usage.c.status != "ok")
    if before is not None:
        at, request_id = before
        query = query.where(
            or_(
                usage.c.created_at < at,
                and_(usage.c.created_at == at, usage.c.request_id < request_id),
            )
        )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query.limit(limit + 1)).mappings()]
    for row in rows:
        row["created_at"] = _aware(row["created_at"])
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = (rows[-1]["created_at"], rows[-1]["request_id"])
    return rows, cursor


def detail(engine: Engine, request_id: str, tenant_id: str | None) -> dict[str, Any] | None:
    """The row, its failed attempts and its privacy decision (types and counts, never values).

    With ``tenant_id`` a row of another tenant is None, as if it did not exist.
    """
    query = select(usage).where(usage.c.request_id == request_id)
    if tenant_id is not None:
        query = query.where(usage.c.tenant_id == tenant_id)
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
        if row is None:
            return None
        failed = failed_attempts(conn, request_id)
        audit = (
            conn.execute(
                select(
                    privacy_audit.c.policy,
                    privacy_audit.c.action,
                    privacy_audit.c.entities,
                    privacy_audit.c.locality,
                    privacy_audit.c.redacted,
                    privacy_audit.c.deployment,
                ).where(privacy_audit.c.request_id == request_id)
            )
            .mappings()
            .first()
        )
    result = dict(row)
    result["created_at"] = _aware(result["created_at"])
    result["failed_attempts"] = failed
    if audit is not None:
        decision = dict(audit)
        decision["entities"] = json.loads(decision["entities"])
        result["privacy"] = decision
    else:
        result["privacy"] = None
    return result
