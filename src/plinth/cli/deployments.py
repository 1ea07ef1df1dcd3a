"""``plinth deployments add|list|remove``: deployments stored in the database.

A running ``plinth serve`` picks changes up within ``routing.refresh_interval_s``
seconds; no restart. Deployments in ``plinth.toml`` are listed but not changed here.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import click
from pydantic import ValidationError

from plinth.cli.common import data_dir_option, open_db, print_json, print_table, settings_or_exit
from plinth.deployment import Deployment, PassthroughEndpoint, api_key_env_refusal
from plinth.engine_kinds import installed_kinds, is_local_kind
from plinth.errors import AlreadyExists
from plinth.store.deployments import DeploymentStore


@click.group()
def deployments() -> None:
    """Where public model names are served: cloud APIs, self-hosted servers, local models."""


def _from_preset(provider: str, model: str, options: dict[str, Any]) -> Deployment:
    from plinth.providers.catalog import deployment_from_preset

    try:
        return deployment_from_preset(provider, model, **options)
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0] if exc.args else exc)) from None


@deployments.command()
@click.option("--provider", help="A preset from `plinth providers list` (fills URL, auth, prices).")
@click.option("--model", "model", required=True, help="The upstream's model name.")
@click.option("--name", "public_name", help="Public model name for clients [default: --model].")
@click.option("--api-key-env", help="Environment variable that holds the API key.")
@click.option("--base-url", help="Upstream base URL ending in /v1 (required without --provider).")
@click.option("--engine", help="Engine kind: openai, anthropic, llamacpp or an installed plugin's.")
@click.option("--kind", type=click.Choice(["chat", "embedding"]), default=None)
@click.option("--locality", type=click.Choice(["local", "cloud"]), default=None)
@click.option("--region", help="Region (fills a {region} placeholder of the preset's URL).")
@click.option("--resource", help="Azure resource name (fills the preset's {resource}).")
@click.option("--weight", type=float, default=None)
@click.option("--priority", type=int, default=None)
@click.option("--id", "deployment_id", help="Unique id [default: <name>@<host>].")
@click.option("--input-price", type=Decimal, help="Price per 1M input tokens.")
@click.option("--output-price", type=Decimal, help="Price per 1M output tokens.")
@click.option(
    "--endpoint",
    "endpoints",
    multiple=True,
    type=click.Choice(list(get_args(PassthroughEndpoint))),
    help="A pass-through endpoint it also serves (repeatable), e.g. rerank or audio.speech.",
)
@data_dir_option
def add(
    provider: str | None,
    model: str,
    public_name: str | None,
    api_key_env: str | None,
    base_url: str | None,
    engine: str | None,
    kind: str | None,
    locality: str | None,
    region: str | None,
    resource: str | None,
    weight: float | None,
    priority: int | None,
    deployment_id: str | None,
    input_price: Decimal | None,
    output_price: Decimal | None,
    endpoints: tuple[str, ...],
    data_dir: Path | None,
) -> None:
    """Serve MODEL from an upstream, e.g. --provider deepseek --model deepseek-chat."""
    fields: dict[str, Any] = {
        "engine": engine,
        "kind": kind,
        "locality": locality,
        "weight": weight,
        "priority": priority,
        "id": deployment_id,
        "input_price_per_mtok": input_price,
        "output_price_per_mtok": output_price,
        "endpoints": endpoints or None,
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    try:
        if provider:
            options = {"api_key_env": api_key_env, "base_url": base_url, "region": region}
            options |= {"resource": resource, "public_name": public_name}
            deployment = _from_preset(provider, model, {**options, **fields})
        else:
            if not base_url and not _is_local_engine(engine):
                raise click.UsageError("give --provider, or --base-url for any other upstream")
            deployment = Deployment.model_validate(
                {
                    "model": public_name or model,
                    "upstream_model": model,
                    "base_url": base_url,
                    "api_key_env": api_key_env,
                    "region": region,
                    **fields,
                }
            )
    except (ValidationError, ValueError) as exc:
        raise click.ClickException(f"invalid deployment: {_first_error(exc)}") from None
    settings = settings_or_exit(data_dir=data_dir)
    refusal = api_key_env_refusal(deployment.api_key_env, settings.routing.api_key_env_allow)
    if refusal:
        raise click.ClickException(f"invalid deployment: {refusal}")
    configured = {d.id for d in settings.deployments}
    if deployment.id in configured:
        raise AlreadyExists(f"'{deployment.id}' is defined in plinth.toml already", param="id")
    DeploymentStore(open_db(data_dir)).add(deployment)  # AlreadyExists if stored already
    key_note = ""
    if deployment.api_key_env and deployment.api_key() is None:
        key_note = f"\nNote: set {deployment.api_key_env} in the environment of `plinth serve`."
    click.echo(
        f"Added deployment '{deployment.id}': model '{deployment.model}' → "
        f"{deployment.base_url or 'local'} ({deployment.engine}, {deployment.locality})."
        f"{key_note}"
    )


def _is_local_engine(engine: str | None) -> bool:
    return engine in installed_kinds() and is_local_kind(engine)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    return str(exc)


@deployments.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@data_dir_option
def list_deployments(fmt: str, data_dir: Path | None) -> None:
    """Deployments from plinth.toml and the database (local models are implicit)."""
    settings = settings_or_exit(data_dir=data_dir)
    rows = [(d, "config") for d in settings.deployments]
    rows += [(d, "api") for d in DeploymentStore(open_db(data_dir)).list()]
    if fmt == "json":
        print_json([{**d.model_dump(mode="json"), "source": source} for d, source in rows])
        return
    table = [
        {
            "id": d.id,
            "model": d.model,
            "engine": d.engine,
            "locality": d.locality,
            "priority": d.priority,
            "weight": d.weight,
            "base_url": d.base_url or "",
            "source": source,
        }
        for d, source in rows
    ]
    columns = ["id", "model", "engine", "locality", "priority", "weight", "base_url", "source"]
    print_table(table, columns)


@deployments.command()
@click.argument("deployment_id")
@data_dir_option
def remove(deployment_id: str, data_dir: Path | None) -> None:
    """Stop routing to a deployment added with `plinth deployments add`."""
    DeploymentStore(open_db(data_dir)).remove(deployment_id)  # NotFound: exit 2, as for keys
    click.echo(f"Removed deployment '{deployment_id}'.")
