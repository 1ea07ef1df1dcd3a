"""``plinth providers list|show``: the presets in the provider catalog."""

from __future__ import annotations

import click

from plinth.cli.common import emit, format_option, print_table
from plinth.providers.catalog import load_catalog, provider


@click.group()
def providers() -> None:
    """Hosted APIs and self-hosted servers Plinth has presets for."""


@providers.command("list")
@format_option("table", "json")
def list_providers(fmt: str) -> None:
    """One line per provider preset."""
    catalog = load_catalog()
    if fmt == "json":
        emit([p.model_dump(mode="json") for p in catalog.values()], fmt)
        return
    rows = [
        {
            "provider": key,
            "engine": p.engine,
            "locality": p.locality,
            "region": p.region,
            "models": len(p.models),
            "prices_read_on": p.prices_read_on or "",
            "base_url": p.base_url,
        }
        for key, p in catalog.items()
    ]
    emit(rows, fmt)


@providers.command()
@click.argument("name")
def show(name: str) -> None:
    """A preset's models, prices (with their source and date) and facts."""
    try:
        preset = provider(name)
    except LookupError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
    click.echo(f"{preset.name} ({name}): {preset.engine}, {preset.base_url}")
    click.echo(
        f"auth {preset.auth}, key from ${preset.api_key_env or '-'}; {preset.data_residency}"
    )
    rows = [
        {
            "model": m.id,
            "kind": m.kind,
            "context": m.context_window or "",
            f"input/1M {preset.currency}": m.input if m.input is not None else "",
            f"output/1M {preset.currency}": m.output if m.output is not None else "",
            f"cached/1M {preset.currency}": m.cached_input if m.cached_input is not None else "",
        }
        for m in preset.models
    ]
    if rows:
        print_table(rows, list(rows[0]))
    if preset.prices_source:
        click.echo(f"prices read {preset.prices_read_on} from {preset.prices_source}")
    if preset.prices_note:
        click.echo(f"note: {preset.prices_note}")
    for m in preset.models:
        if m.prices_source:
            click.echo(f"{m.id}: prices read {m.prices_read_on} from {m.prices_source}")
        if m.prices_note:
            click.echo(f"{m.id}: {m.prices_note}")
    for fact in preset.facts:
        click.echo(f"- [{fact.criterion}] {fact.text} ({fact.source})")
