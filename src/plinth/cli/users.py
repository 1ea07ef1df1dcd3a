"""``plinth users create|list|passwd|disable|enable``: people who sign in to the web console."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from plinth.cli.common import data_dir_option, open_db, print_json, print_table
from plinth.store.console_users import ROLES, ConsoleUserStore
from plinth.store.tenants import TenantStore


def _password(from_stdin: bool) -> str:
    """Read from stdin (scripts) or prompted twice, hidden; never an argument, never logged."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@click.group()
def users() -> None:
    """Console users (separate from API keys)."""


@users.command()
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--tenant", default=None, help="Tenant id or name (tenant-admin and viewer).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@data_dir_option
def create(
    name: str, role: str, tenant: str | None, password_stdin: bool, data_dir: Path | None
) -> None:
    """Create a console user."""
    engine = open_db(data_dir)
    tenant_id = TenantStore(engine).get(tenant).id if tenant else None
    user = ConsoleUserStore(engine).create(
        name, role, _password(password_stdin), tenant_id=tenant_id
    )
    click.echo(f"Created console user {user.name} ({user.role}).")


@users.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@data_dir_option
def list_users(fmt: str, data_dir: Path | None) -> None:
    """List console users."""
    rows = [
        {
            "id": u.id,
            "name": u.name,
            "role": u.role,
            "tenant_id": u.tenant_id,
            "created_at": u.created_at.isoformat(),
            "disabled": u.disabled_at is not None,
        }
        for u in ConsoleUserStore(open_db(data_dir)).list()
    ]
    if fmt == "json":
        print_json(rows)
    else:
        print_table(rows, ["id", "name", "role", "tenant_id", "disabled", "created_at"])


@users.command()
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@data_dir_option
def passwd(name: str, password_stdin: bool, data_dir: Path | None) -> None:
    """Set a user's password (ends the user's sessions)."""
    user = ConsoleUserStore(open_db(data_dir)).set_password(name, _password(password_stdin))
    click.echo(f"Password of {user.name} changed; their sessions have ended.")


@users.command()
@click.argument("name")
@data_dir_option
def disable(name: str, data_dir: Path | None) -> None:
    """Disable a user (ends the user's sessions)."""
    user = ConsoleUserStore(open_db(data_dir)).set_disabled(name, True)
    click.echo(f"Disabled {user.name}.")


@users.command()
@click.argument("name")
@data_dir_option
def enable(name: str, data_dir: Path | None) -> None:
    """Enable a disabled user again."""
    user = ConsoleUserStore(open_db(data_dir)).set_disabled(name, False)
    click.echo(f"Enabled {user.name}.")
