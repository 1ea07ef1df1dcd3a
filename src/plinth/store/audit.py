"""The privacy audit trail: one row per request, written with its ledger row."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from plinth.store.schema import privacy_audit


@dataclass
class AuditRecord:
    request_id: str
    created_at: datetime
    key_id: str | None
    endpoint: str
    model: str | None
    policy: str
    action: str
    entities: dict[str, int]
    value_hashes: list[dict[str, str]]
    deployment: str | None = None
    locality: str | None = None
    redacted: bool = False

    def row(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "entities": json.dumps(self.entities, sort_keys=True),
            "value_hashes": json.dumps(self.value_hashes),
        }


class AuditStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def rows(
        self,
        *,
        since: datetime | None = None,
        limit: int = 100,
        action: str | None = None,
    ) -> list[dict[str, Any]]:
        query = select(privacy_audit).order_by(privacy_audit.c.created_at.desc()).limit(limit)
        if since is not None:
            query = query.where(privacy_audit.c.created_at >= since)
        if action is not None:
            query = query.where(privacy_audit.c.action == action)
        with self._engine.connect() as conn:
            return [_jsonable(dict(row)) for row in conn.execute(query).mappings()]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    created = row["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    row["created_at"] = created.isoformat()
    row["entities"] = json.loads(row["entities"])
    row["value_hashes"] = json.loads(row["value_hashes"])
    return row
