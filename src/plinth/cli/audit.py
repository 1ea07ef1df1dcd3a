"""``plinth audit``: the privacy decisions, newest first."""

from __future__ import annotations

from pathlib import Path

import click

from plinth.cli.common import data_dir_option, emit, format_option, open_db
from plinth.reporting import parse_since
from plinth.store.audit import AuditStore


@click.command()
@click.option("--since", default=None, help="ISO date or time (UTC unless it names a zone).")
@click.option(
    "--action", type=click.Choice(["allow", "redact", "local_only", "block"]), default=None
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@format_option("table", "json", "csv")
@data_dir_option
def audit(
    since: str | None, action: str | None, limit: int, fmt: str, data_dir: Path | None
) -> None:
    """What each request contained (entity types, keyed hashes) and where it went."""
    since_at = parse_since(since)
    rows = AuditStore(open_db(data_dir)).rows(since=since_at, limit=limit, action=action)
    if fmt == "json":
        emit(rows, fmt)
        return
    flat = [
        {
            **row,
            "entities": " ".join(f"{e}×{n}" for e, n in row["entities"].items()),
            "value_hashes": " ".join(f"{h['entity']}:{h['hash']}" for h in row["value_hashes"]),
        }
        for row in rows
    ]
    columns = ["created_at", "request_id", "policy", "action", "entities"]
    emit(flat, fmt, [*columns, "deployment", "locality", "redacted"])
