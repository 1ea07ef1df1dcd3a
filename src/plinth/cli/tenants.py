"""``plinth tenants create|list|set-policy``."""

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
from plinth.store.tenants import TenantStore

TENANT_COLUMNS = ["id", "name", "privacy_policy"]


@click.group()
def tenants() -> None:
    """Organisations that own keys."""


@tenants.command()
@click.argument("name")
@click.option("--privacy-policy", default=None, help="Default policy of the tenant's keys.")
@data_dir_option
def create(name: str, privacy_policy: str | None, data_dir: Path | None) -> None:
    """Create a tenant."""
    check_privacy_policy(privacy_policy, data_dir)
    tenant = TenantStore(open_db(data_dir)).create(name, privacy_policy=privacy_policy)
    click.echo(f"Created tenant {tenant.id} ({tenant.name}).")


@tenants.command("list")
@format_option("table", "json")
@data_dir_option
def list_tenants(fmt: str, data_dir: Path | None) -> None:
    """List tenants."""
    emit([t.as_json() for t in TenantStore(open_db(data_dir)).list()], fmt, TENANT_COLUMNS)


@tenants.command("set-policy")
@click.argument("tenant")
@click.argument("policy")
@data_dir_option
def set_policy(tenant: str, policy: str, data_dir: Path | None) -> None:
    """Set the default privacy policy of a tenant's keys ('none' clears it)."""
    value = None if policy == "none" else policy
    check_privacy_policy(value, data_dir)
    updated = TenantStore(open_db(data_dir)).set_privacy_policy(tenant, value)
    click.echo(
        f"Tenant {updated.name}: privacy policy {updated.privacy_policy or '(server default)'}."
    )
