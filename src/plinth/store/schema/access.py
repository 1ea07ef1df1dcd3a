"""Who may call: API keys and the tenants (organisations) that own them."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, String, Table

from plinth.store.schema.meta import metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    # SHA-256 of the full key: keys are 256-bit random, so a slow hash buys nothing.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("display", String(40), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # Added by migration 3: the privacy policy's name; NULL means the tenant's
    # policy, else the server default.
    Column("privacy_policy", String(100), nullable=True),
    # Added by migration 5: the organisation that owns the key (NULL: none).
    Column("tenant_id", String(40), nullable=True),
)

# Organisations: they own keys, and give their keys a default privacy policy.
tenants = Table(
    "tenants",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("privacy_policy", String(100), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
