"""The console's privacy-audit view: decisions (types and counts, never values) over time."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from plinth.store.schema import api_keys, privacy_audit


@dataclass(frozen=True)
class AuditFilter:
    start: datetime
    tenant_id: str | None = None
    key_id: str | None = None
    action: str | None = None
    entity: str | None = None


def _query(f: AuditFilter, *columns: Any) -> Any:
    query = select(*columns).where(privacy_audit.c.created_at >= f.start)
    if f.tenant_id is not None:
        # The audit row names the key; the key names its tenant.
        query = query.join(api_keys, api_keys.c.id == privacy_audit.c.key_id).where(
            api_keys.c.tenant_id == f.tenant_id
        )
    if f.key_id is not None:
        query = query.where(privacy_audit.c.key_id == f.key_id)
    if f.action is not None:
        query = query.where(privacy_audit.c.action == f.action)
    if f.entity is not None:
        # A cheap prefilter on the JSON text; the exact check is in Python.
        query = query.where(privacy_audit.c.entities.contains(f'"{f.entity}"', autoescape=True))
    return query


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def recent(engine: Engine, f: AuditFilter, limit: int = 100) -> list[dict[str, Any]]:
    query = (
        _query(
            f,
            privacy_audit.c.request_id,
            privacy_audit.c.created_at,
            privacy_audit.c.key_id,
            privacy_audit.c.model,
            privacy_audit.c.policy,
            privacy_audit.c.action,
            privacy_audit.c.entities,
            privacy_audit.c.locality,
            privacy_audit.c.deployment,
        )
        .order_by(privacy_audit.c.created_at.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    out = []
    for row in rows:
        row["entities"] = json.loads(row["entities"])
        row["created_at"] = _aware(row["created_at"])
        if f.entity is None or f.entity in row["entities"]:
            out.append(row)
    return out


def breakdown(
    engine: Engine, f: AuditFilter
) -> tuple[dict[datetime, Counter[str]], dict[datetime, Counter[str]]]:
    """Per UTC hour: decisions per action, and entities found per type."""
    query = _query(f, privacy_audit.c.created_at, privacy_audit.c.action, privacy_audit.c.entities)
    actions: dict[datetime, Counter[str]] = defaultdict(Counter)
    entities: dict[datetime, Counter[str]] = defaultdict(Counter)
    with engine.connect() as conn:
        for created, action, found_json in conn.execute(query):
            found = json.loads(found_json)
            if f.entity is not None and f.entity not in found:
                continue
            hour = _aware(created).replace(minute=0, second=0, microsecond=0)
            actions[hour][action] += 1
            for entity, count in found.items():
                entities[hour][entity] += int(count)
    return actions, entities
