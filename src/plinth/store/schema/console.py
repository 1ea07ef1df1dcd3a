"""The web console's people and sessions, separate from API keys."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, String, Table

from plinth.store.schema.meta import metadata

# The web console (plinth.console): people who sign in, separate from API keys.
# ``password_hash`` is scrypt's ("scrypt$n$r$p$salt$hash"); ``tenant_id`` is set
# for tenant-admin and viewer users bound to one tenant (migration 20).
console_users = Table(
    "console_users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # admin | tenant-admin | viewer
    Column("tenant_id", String(40), nullable=True),
    Column("password_hash", String(300), nullable=False),
    Column("language", String(8), nullable=True),  # remembered choice: en | zh-CN
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
)

# Server-side console sessions: the cookie carries a random token, the row its
# SHA-256. Idle and absolute expiry are checked on every request; signing out
# everywhere deletes all of a user's rows.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_console_sessions_user", "user_id"),
)
