"""Console users (people, not API keys) and their server-side sessions.

Passwords are hashed with scrypt (memory-hard, in the standard library): a
stolen database costs an attacker ~16 MiB and tens of milliseconds per guess.
Session tokens are 256-bit random; only their SHA-256 is stored, like API keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, RowMapping, func, select
from sqlalchemy.exc import IntegrityError

from plinth.errors import AlreadyExists, InvalidRequest, NotFound
from plinth.store.schema import console_sessions, console_users, tenants

ROLES = ("admin", "tenant-admin", "viewer")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MIN_PASSWORD = 10
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(
            f"The password must be at least {MIN_PASSWORD} characters",
            param="password",
            code="password_too_short",
        )
    if len(password) > 1024:
        raise InvalidRequest("The password is too long", param="password", code="password_too_long")


@dataclass(frozen=True)
class ConsoleUser:
    id: str
    name: str
    role: str
    tenant_id: str | None
    language: str | None
    created_at: datetime
    disabled_at: datetime | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_write(self) -> bool:
        return self.role != "viewer"


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _user(row: RowMapping) -> ConsoleUser:
    created = _aware(row["created_at"])
    assert created is not None
    return ConsoleUser(
        row["id"],
        row["name"],
        row["role"],
        row["tenant_id"],
        row["language"],
        created,
        _aware(row["disabled_at"]),
    )


class ConsoleUserStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(console_users)) or 0)

    def create(
        self, name: str, role: str, password: str, *, tenant_id: str | None = None
    ) -> ConsoleUser:
        if not NAME_RE.match(name):
            raise InvalidRequest(
                "A user name is 1–100 letters, digits and . _ @ -",
                param="name",
                code="invalid_name",
            )
        if role not in ROLES:
            raise InvalidRequest(f"role must be one of {', '.join(ROLES)}", param="role")
        if role == "admin" and tenant_id is not None:
            raise InvalidRequest("An admin sees every tenant; give no tenant", param="tenant")
        if role != "admin" and tenant_id is None:
            raise InvalidRequest(f"A {role} user needs a tenant", param="tenant")
        validate_password(password)
        values = {
            "id": "usr_" + secrets.token_hex(8),
            "name": name,
            "role": role,
            "tenant_id": tenant_id,
            "password_hash": hash_password(password),
            "language": None,
            "created_at": datetime.now(UTC),
            "disabled_at": None,
        }
        with self._engine.begin() as conn:
            if (
                tenant_id is not None
                and conn.scalar(select(tenants.c.id).where(tenants.c.id == tenant_id)) is None
            ):
                raise NotFound(f"No tenant '{tenant_id}'", param="tenant")
            try:
                conn.execute(console_users.insert().values(**values))
            except IntegrityError:
                raise AlreadyExists(f"A user named '{name}' exists already", param="name") from None
        return _user(values)  # type: ignore[arg-type]

    def list(self, *, tenant_id: str | None = None) -> list[ConsoleUser]:
        query = select(console_users).order_by(console_users.c.created_at)
        if tenant_id is not None:
            query = query.where(console_users.c.tenant_id == tenant_id)
        with self._engine.connect() as conn:
            return [_user(r) for r in conn.execute(query).mappings()]

    def get(self, ref: str) -> ConsoleUser:
        """By id or by name."""
        query = select(console_users).where(
            (console_users.c.id == ref) | (console_users.c.name == ref)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"No console user '{ref}'", param="user")
        return _user(row)

    def verify(self, name: str, password: str) -> ConsoleUser | None:
        """The active user if the password is right; the same time spent either way."""
        with self._engine.connect() as conn:
            row = (
                conn.execute(select(console_users).where(console_users.c.name == name))
                .mappings()
                .first()
            )
        stored = row["password_hash"] if row is not None else _DUMMY_HASH
        good = check_password(password, stored)
        if row is None or not good or row["disabled_at"] is not None:
            return None
        return _user(row)

    def set_password(self, ref: str, password: str) -> ConsoleUser:
        validate_password(password)
        user = self.get(ref)
        with self._engine.begin() as conn:
            conn.execute(
                console_users.update()
                .where(console_users.c.id == user.id)
                .values(password_hash=hash_password(password))
            )
            conn.execute(console_sessions.delete().where(console_sessions.c.user_id == user.id))
        return user

    def set_disabled(self, ref: str, disabled: bool = True) -> ConsoleUser:
        user = self.get(ref)
        with self._engine.begin() as conn:
            conn.execute(
                console_users.update()
                .where(console_users.c.id == user.id)
                .values(disabled_at=datetime.now(UTC) if disabled else None)
            )
            if disabled:
                conn.execute(console_sessions.delete().where(console_sessions.c.user_id == user.id))
        return self.get(user.id)

    def set_language(self, user_id: str, language: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                console_users.update()
                .where(console_users.c.id == user_id)
                .values(language=language)
            )


_DUMMY_HASH = hash_password(secrets.token_hex(16))


@dataclass(frozen=True)
class Session:
    user: ConsoleUser
    csrf: str
    token_hash: str


class SessionStore:
    """Sessions that end after ``idle`` without a request or ``absolute`` after sign-in."""

    def __init__(self, engine: Engine, *, idle: timedelta, absolute: timedelta):
        self._engine = engine
        self.idle, self.absolute = idle, absolute

    def create(self, user_id: str) -> tuple[str, str]:
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), datetime.now(UTC)
        with self._engine.begin() as conn:
            conn.execute(
                console_sessions.insert().values(
                    token_hash=_sha(token), user_id=user_id, csrf=csrf, created_at=now, seen_at=now
                )
            )
        return token, csrf

    def lookup(self, token: str) -> Session | None:
        now, digest = datetime.now(UTC), _sha(token)
        query = (
            select(
                console_users,
                console_sessions.c.csrf,
                console_sessions.c.created_at.label("s_created"),
                console_sessions.c.seen_at.label("s_seen"),
            )
            .select_from(console_sessions)
            .join(console_users, console_users.c.id == console_sessions.c.user_id)
            .where(console_sessions.c.token_hash == digest)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        created, seen = _aware(row["s_created"]), _aware(row["s_seen"])
        assert created is not None and seen is not None
        expired = now - seen > self.idle or now - created > self.absolute
        if expired or row["disabled_at"] is not None:
            self.delete(token)
            return None
        if now - seen > timedelta(seconds=60):  # a write a minute, not one per page
            with self._engine.begin() as conn:
                conn.execute(
                    console_sessions.update()
                    .where(console_sessions.c.token_hash == digest)
                    .values(seen_at=now)
                )
        return Session(_user(row), row["csrf"], digest)

    def delete(self, token: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                console_sessions.delete().where(console_sessions.c.token_hash == _sha(token))
            )

    def delete_all(self, user_id: str) -> int:
        with self._engine.begin() as conn:
            result = conn.execute(
                console_sessions.delete().where(console_sessions.c.user_id == user_id)
            )
        return int(result.rowcount or 0)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
