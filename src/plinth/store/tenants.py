"""Tenants: the organisations that own keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, RowMapping, select
from sqlalchemy.exc import IntegrityError

from plinth.errors import AlreadyExists, NotFound
from plinth.store.schema import tenants


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    privacy_policy: str | None
    created_at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "tenant",
            "name": self.name,
            "privacy_policy": self.privacy_policy,
            "created_at": int(self.created_at.timestamp()),
        }


def _from_row(row: RowMapping) -> Tenant:
    created = row["created_at"]
    created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
    return Tenant(row["id"], row["name"], row["privacy_policy"], created)


class TenantStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def create(self, name: str, *, privacy_policy: str | None = None) -> Tenant:
        tenant = Tenant("ten_" + secrets.token_hex(8), name, privacy_policy, datetime.now(UTC))
        try:
            with self._engine.begin() as conn:
                conn.execute(tenants.insert().values(**tenant.__dict__))
        except IntegrityError:
            raise AlreadyExists(f"A tenant named '{name}' exists already", param="name") from None
        return tenant

    def list(self) -> list[Tenant]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(tenants).order_by(tenants.c.created_at)).mappings()
            return [_from_row(r) for r in rows]

    def get(self, ref: str) -> Tenant:
        """By id or by name."""
        query = select(tenants).where((tenants.c.id == ref) | (tenants.c.name == ref))
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"No tenant '{ref}'", param="tenant")
        return _from_row(row)

    def set_privacy_policy(self, ref: str, policy: str | None) -> Tenant:
        tenant = self.get(ref)
        with self._engine.begin() as conn:
            conn.execute(
                tenants.update().where(tenants.c.id == tenant.id).values(privacy_policy=policy)
            )
        return self.get(tenant.id)
