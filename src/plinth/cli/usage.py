"""``plinth usage``: the ledger, summarised."""

from __future__ import annotations

from pathlib import Path

import click

from plinth.cli.common import data_dir_option, open_db, print_json, print_table
from plinth.reporting import parse_since, to_csv
from plinth.store.usage import UsageStore


@click.command()
@click.option(
    "--by", type=click.Choice(["key", "model", "day"]), default="model", show_default=True
)
@click.option("--since", default=None, help="ISO date or time (UTC unless it names a zone).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@data_dir_option
def usage(by: str, since: str | None, fmt: str, data_dir: Path | None) -> None:
    """Requests and tokens per key, model or day."""
    since_at = parse_since(since)
    rows = UsageStore(open_db(data_dir)).summary(by, since=since_at)  # type: ignore[arg-type]
    if fmt == "json":
        print_json(rows)
    elif fmt == "csv":
        click.echo(to_csv(rows), nl=False)
    else:
        columns = [by, "requests", "failed", "prompt_tokens", "completion_tokens", "avg_latency_ms"]
        print_table(rows, columns)
