"""``plinth keys create|list|set-policy|revoke``."""

from __future__ import annotations

from pathlib import Path

import click

from plinth.cli.common import (
    check_privacy_policy,
    data_dir_option,
    emit,
    format_option,
    open_db,
)
from plinth.store.keys import KeyStore
from plinth.store.tenants import TenantStore


@click.group()
def keys() -> None:
    """Create, list, change and revoke API keys."""


@keys.command()
@click.option("--name", required=True, help="What the key is for (shown in listings).")
@click.option("--admin", is_flag=True, help="Allow the /admin routes.")
@click.option(
    "--privacy-policy",
    default=None,
    help="allow, redact, local_only, block, or a policy from plinth.toml "
    "[default: privacy.default_policy].",
)
@click.option("--tenant", default=None, help="The tenant (id or name) that owns the key.")
@data_dir_option
def create(
    name: str, admin: bool, privacy_policy: str | None, tenant: str | None, data_dir: Path | None
) -> None:
    """Create a key and print it (the only time it is shown)."""
    check_privacy_policy(privacy_policy, data_dir)
    db = open_db(data_dir)
    tenant_id = None
    if tenant is not None:
        tenant_id = TenantStore(db).get(tenant).id
    key, plaintext = KeyStore(db).create(
        name, admin=admin, privacy_policy=privacy_policy, tenant_id=tenant_id
    )
    click.echo(f"Created {'admin ' if admin else ''}key {key.id} ({name}). Store it now:", err=True)
    click.echo(plaintext)


@keys.command("list")
@format_option("table", "json")
@data_dir_option
def list_keys(fmt: str, data_dir: Path | None) -> None:
    """List keys (never their secrets)."""
    rows = [k.as_json() for k in KeyStore(open_db(data_dir)).list()]
    if fmt == "table":
        for row in rows:
            row["status"] = "revoked" if row["revoked_at"] else "active"
    emit(rows, fmt, ["id", "name", "display", "admin", "tenant_id", "privacy_policy", "status"])


@keys.command()
@click.argument("key_id")
@data_dir_option
def revoke(key_id: str, data_dir: Path | None) -> None:
    """Revoke a key by id (takes effect within 5 seconds on running servers)."""
    key = KeyStore(open_db(data_dir)).revoke(key_id)
    click.echo(f"Revoked {key.id} ({key.name}).")


@keys.command("set-policy")
@click.argument("key_id")
@click.argument("policy")
@data_dir_option
def set_policy(key_id: str, policy: str, data_dir: Path | None) -> None:
    """Set a key's privacy policy ('none': its tenant's). Running servers apply it
    within 5 seconds."""
    value = None if policy == "none" else policy
    check_privacy_policy(value, data_dir)
    key = KeyStore(open_db(data_dir)).set_privacy_policy(key_id, value)
    shown = key.privacy_policy or "(its tenant's, else the server default)"
    click.echo(f"Key {key.id} ({key.name}): privacy policy {shown}.")
