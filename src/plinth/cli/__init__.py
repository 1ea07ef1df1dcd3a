"""The ``plinth`` command: one module per command group.

Commands raise the errors of :mod:`plinth.errors` and do not catch them:
:class:`PlinthGroup` turns any that ends a command into click's one-line
``Error: ...`` and an exit status, in this one place (see :func:`click_error`).
"""

from __future__ import annotations

from typing import Any

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
    pull,
    serve,
    tenants,
    usage,
    users,
)
from plinth.cli.common import click_error


class PlinthGroup(click.Group):
    """The top-level group: the one place a command's expected error becomes an exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            error = click_error(exc)
            if error is None:  # click's own exits, and bugs: their tracebacks show
                raise
            raise error from None


@click.group(cls=PlinthGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="plinth")
def main() -> None:
    """Plinth: a self-hosted AI base service behind one OpenAI-compatible endpoint."""


for command in (
    serve.serve,
    keys.keys,
    models.models,
    usage.usage,
    deployments.deployments,
    audit.audit,
    providers.providers,
    tenants.tenants,
    billing.prices,
    billing.limits,
    billing.wallet,
    billing.invoices,
    plans.plans,
    bench.bench,
    kb.kb,
    users.users,
):
    main.add_command(command)
models.models.add_command(pull.pull)
