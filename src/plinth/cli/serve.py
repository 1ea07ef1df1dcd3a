"""``plinth serve``."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from plinth.bootstrap import bootstrap_admin_key
from plinth.cli.common import configure_logging, data_dir_option, settings_or_exit
from plinth.errors import MissingExtra, RevokedKeyReused
from plinth.extras import require_milvus, require_redis
from plinth.server.run import serve as serve_app
from plinth.server.run import uvicorn_options
from plinth.settings import Settings
from plinth.store.database import open_database
from plinth.store.keys import KeyStore


def preflight(settings: Settings) -> None:
    """Fail with one clear line, before the server starts, on what a user can fix."""
    try:
        if settings.knowledge.backend == "milvus":
            require_milvus(settings.knowledge.milvus_uri)
        if settings.redis_url:
            require_redis()
        bootstrap_admin_key(KeyStore(open_database(settings.resolved_database_url)), settings)
    except (MissingExtra, RevokedKeyReused, SQLAlchemyError, OSError) as exc:
        raise click.ClickException(f"cannot start: {exc}") from None


@click.command()
@click.option("--host", default=None, help="Address to bind [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to bind [default: 8000].")
@data_dir_option
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="debug also shows llama.cpp's own log and every request [default: info].",
)
@click.option(
    "--root-path",
    envvar="PLINTH_ROOT_PATH",
    default="",
    help="Path prefix when served behind a reverse proxy under a sub-path, e.g. /plinth "
    "(the console's links, assets and redirects honour it) [env: PLINTH_ROOT_PATH].",
)
def serve(
    host: str | None, port: int | None, data_dir: Path | None, log_level: str | None, root_path: str
) -> None:
    """Start the OpenAI-compatible server on the bundled and added models."""
    from plinth.app import create_app

    settings = settings_or_exit(host=host, port=port, data_dir=data_dir, log_level=log_level)
    configure_logging(settings.log_level)
    preflight(settings)
    app = create_app(settings)
    click.echo(f"Plinth data dir: {settings.data_dir}", err=True)
    serve_app(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        timeout_graceful_shutdown=10,
        root_path=root_path.rstrip("/"),
        **uvicorn_options(settings.server),
    )
