"""API keys: created shown-once, stored as SHA-256, revoked never deleted."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, RowMapping, func, select

from plinth.errors import NotFound, RevokedKeyReused
from plinth.store.schema import api_keys, tenants

KEY_PREFIX = "sk-plinth-"


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def display_form(plaintext: str) -> str:
    """What listings and errors show: enough to recognise a key, too little to use it.

    Never more than half of the text, so a short wrong key is not echoed whole.
    """
    shown = min(14, len(plaintext) // 3)
    tail = min(4, len(plaintext) // 4)
    return f"{plaintext[:shown]}…{plaintext[-tail:] if tail else ''}"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    display: str
    is_admin: bool
    created_at: datetime
    revoked_at: datetime | None
    privacy_policy: str | None = None  # None: the tenant's, else privacy.default_policy
    tenant_id: str | None = None
    tenant_privacy_policy: str | None = None  # read with the key, for policy resolution

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "api_key",
            "name": self.name,
            "display": self.display,
            "admin": self.is_admin,
            "created_at": int(self.created_at.timestamp()),
            "revoked_at": int(self.revoked_at.timestamp()) if self.revoked_at else None,
            "privacy_policy": self.privacy_policy,
            "tenant_id": self.tenant_id,
        }


def _from_row(row: RowMapping) -> ApiKey:
    def aware(value: datetime | None) -> datetime | None:
        # SQLite drops the zone; every stored time is UTC.
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    created = aware(row["created_at"])
    assert created is not None
    return ApiKey(
        id=row["id"],
        name=row["name"],
        display=row["display"],
        is_admin=row["is_admin"],
        created_at=created,
        revoked_at=aware(row["revoked_at"]),
        privacy_policy=row.get("privacy_policy"),
        tenant_id=row.get("tenant_id"),
        tenant_privacy_policy=row.get("tenant_privacy_policy"),
    )


class KeyStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def create(
        self,
        name: str,
        *,
        admin: bool = False,
        plaintext: str | None = None,
        privacy_policy: str | None = None,
        tenant_id: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Store a new key; return it with its plaintext, which is never stored."""
        plaintext = plaintext or KEY_PREFIX + secrets.token_urlsafe(32)
        values = {
            "id": "key_" + secrets.token_hex(8),
            "name": name,
            "key_hash": hash_key(plaintext),
            "display": display_form(plaintext),
            "is_admin": admin,
            "created_at": datetime.now(UTC),
            "revoked_at": None,
            "privacy_policy": privacy_policy,
            "tenant_id": tenant_id,
        }
        with self._engine.begin() as conn:
            conn.execute(api_keys.insert().values(**values))
        return _from_row(values), plaintext  # type: ignore[arg-type]

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            return [_from_row(row) for row in conn.execute(query).mappings()]

    def get(self, key_id: str) -> ApiKey:
        with self._engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
        if row is None:
            raise NotFound(f"No API key with id '{key_id}'", param="key_id")
        return _from_row(row)

    def revoke(self, key_id: str) -> ApiKey:
        key = self.get(key_id)
        if key.revoked_at is None:
            with self._engine.begin() as conn:
                conn.execute(
                    api_keys.update()
                    .where(api_keys.c.id == key_id)
                    .values(revoked_at=datetime.now(UTC))
                )
        return self.get(key_id)

    def set_privacy_policy(self, key_id: str, policy: str | None) -> ApiKey:
        """Change the key's policy (None: the tenant's). The caller checks the name."""
        self.get(key_id)  # NotFound for an unknown id
        with self._engine.begin() as conn:
            conn.execute(
                api_keys.update().where(api_keys.c.id == key_id).values(privacy_policy=policy)
            )
        return self.get(key_id)

    def find_active(self, plaintext: str) -> ApiKey | None:
        """The key, with its tenant's privacy policy, if it exists and is not revoked."""
        query = (
            select(api_keys, tenants.c.privacy_policy.label("tenant_privacy_policy"))
            .outerjoin(tenants, tenants.c.id == api_keys.c.tenant_id)
            .where(api_keys.c.key_hash == hash_key(plaintext), api_keys.c.revoked_at.is_(None))
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _from_row(row) if row else None

    def count_active_admins(self) -> int:
        query = select(func.count()).where(
            api_keys.c.is_admin.is_(True), api_keys.c.revoked_at.is_(None)
        )
        with self._engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def ensure(self, plaintext: str, name: str, *, admin: bool) -> ApiKey:
        """Make ``plaintext`` a valid key (used for ``PLINTH_ADMIN_KEY``)."""
        existing = self.find_active(plaintext)
        if existing is not None:
            return existing
        with self._engine.connect() as conn:
            revoked = conn.execute(
                select(api_keys.c.id).where(api_keys.c.key_hash == hash_key(plaintext))
            ).first()
        if revoked is not None:
            # A revoked value stays revoked, even if the environment still names it.
            raise RevokedKeyReused(f"The key given for '{name}' was revoked; choose a new value")
        return self.create(name, admin=admin, plaintext=plaintext)[0]
