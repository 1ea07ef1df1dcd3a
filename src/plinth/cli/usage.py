"""``plinth usage``: the ledger, summarised."""

from __future__ import annotations

from pathlib import Path

import click

from plinth.cli.common import data_dir_option, emit, format_option, open_db
from plinth.reporting import parse_since
from plinth.store.usage import UsageStore


@click.command()
@click.option(
    "--by", type=click.Choice(["key", "model", "day"]), default="model", show_default=True
)
@click.option("--since", default=None, help="ISO date or time (UTC unless it names a zone).")
@format_option("table", "json", "csv")
@data_dir_option
def usage(by: str, since: str | None, fmt: str, data_dir: Path | None) -> None:
    """Requests and tokens per key, model or day."""
    since_at = parse_since(since)
    rows = UsageStore(open_db(data_dir)).summary(by, since=since_at)  # type: ignore[arg-type]
    columns = [by, "requests", "failed", "prompt_tokens", "cached_tokens", "completion_tokens"]
    columns.append("avg_latency_ms")
    emit(rows, fmt, columns)
