"""The ``plinth`` command: one module per command group."""

from __future__ import annotations

import click

from plinth import __version__
from plinth.cli import (
    audit,
    bench,
    billing,
    deployments,
    kb,
    keys,
    models,
    plans,
    providers,
    serve,
    tenants,
    usage,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="plinth")
def main() -> None:
    """Plinth: a self-hosted AI base service behind one OpenAI-compatible endpoint."""


main.add_command(serve.serve)
main.add_command(keys.keys)
main.add_command(models.models)
main.add_command(usage.usage)
main.add_command(deployments.deployments)
main.add_command(audit.audit)
main.add_command(providers.providers)
main.add_command(tenants.tenants)
main.add_command(billing.prices)
main.add_command(billing.limits)
main.add_command(billing.wallet)
main.add_command(billing.invoices)
main.add_command(plans.plans)
main.add_command(bench.bench)
main.add_command(kb.kb)
