"""Options and helpers shared by the command groups."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import Engine

from plinth.errors import (
    BundledModelMissing,
    EmbeddingConversionError,
    InvalidRequest,
    MissingExtra,
    NotFound,
    RevokedKeyReused,
    as_plinth_error,
)
from plinth.reporting import to_csv
from plinth.settings import Settings, load_settings
from plinth.store.database import open_database

F = TypeVar("F", bound=Callable[..., Any])


#: Not client errors but set-up ones a command can meet (a model package not
#: installed, a model folder that cannot be converted, a revoked configured key):
#: their messages say what to do, so they end the command like the others.
STARTUP_ERRORS = (BundledModelMissing, EmbeddingConversionError, MissingExtra, RevokedKeyReused)


class InvalidInput(click.ClickException):
    """What the command was given is wrong: exit 2, as click's usage errors."""

    exit_code = 2


def click_error(exc: Exception) -> click.ClickException | None:
    """The one-line error and exit status for an error a command may end with.

    A mistake in what the command was given (a malformed value, a name that
    does not exist) exits 2, as click's own usage errors do; a refusal of a
    well-formed command (the name is taken, ...) exits 1. ``None``: not an
    expected error, but a bug.
    """
    if isinstance(exc, STARTUP_ERRORS):
        return click.ClickException(str(exc))
    mapped = as_plinth_error(exc)
    if mapped is None:
        return None
    if isinstance(mapped, InvalidRequest | NotFound):
        return InvalidInput(mapped.message)
    return click.ClickException(mapped.message)


def data_dir_option(fn: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Where Plinth keeps its database and models "
        "[default: $PLINTH_DATA_DIR, else ~/.local/share/plinth].",
    )(fn)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise click.ClickException("invalid settings:\n" + "\n".join(lines)) from None


def check_privacy_policy(policy: str | None, data_dir: Path | None) -> None:
    """A built-in policy or one named in plinth.toml, else a usage error (exit 2)."""
    if policy is None:
        return
    from plinth.privacy.policy import BUILT_IN

    known = {*BUILT_IN, *settings_or_exit(data_dir=data_dir).privacy.policies}
    if policy not in known:
        raise click.BadParameter(
            f"unknown policy '{policy}' (known: {', '.join(sorted(known))})",
            param_hint="--privacy-policy",
        )


def open_db(data_dir: Path | None) -> Engine:
    return open_database(settings_or_exit(data_dir=data_dir).resolved_database_url)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def format_option(*choices: str) -> Callable[[F], F]:
    """A ``--format`` option (read as ``fmt``) with these choices, the first the default."""

    def add(fn: F) -> F:
        choice = click.Choice(list(choices))
        return click.option("--format", "fmt", type=choice, default=choices[0])(fn)

    return add


def emit(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str] | None = None) -> None:
    """``rows`` as JSON, CSV or a table of ``columns`` (by default the first row's keys)."""
    if fmt == "json":
        print_json(rows)
    elif fmt == "csv":
        click.echo(to_csv(list(rows)), nl=False)
    else:
        print_table(rows, columns or (list(rows[0]) if rows else []))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        click.echo("(nothing yet)")
        return
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
