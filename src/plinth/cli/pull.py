"""``plinth models pull REPO``: a GGUF from the Hugging Face Hub or ModelScope, registered
as ``plinth models add`` registers one (its chat template read from the GGUF)."""

from __future__ import annotations

from pathlib import Path

import click

from plinth.cli.common import data_dir_option, settings_or_exit


def _default_id(repo: str, quant: str | None) -> str:
    name = repo.split("/")[-1]
    for suffix in ("-GGUF", "-gguf", "_GGUF"):
        name = name.removesuffix(suffix)
    return (f"{name}:{quant}" if quant else name).lower()


def _template_note(path: Path) -> str:
    """Whether the GGUF carries a chat template (llama.cpp falls back to ChatML if not)."""
    from plinth.catalog.gguf_file import GGUFFormatError, read_gguf

    try:
        template = read_gguf(path).metadata.get("tokenizer.chat_template")
    except (GGUFFormatError, OSError):
        return ""
    if template is None:
        return "The GGUF has no chat template: ChatML is used unless you add --chat-template."
    return "Chat template: the GGUF's own."


@click.command("pull")
@click.argument("repo")
@click.option("--quant", default=None, help="Quantisation to pick, e.g. Q4_K_M.")
@click.option("--file", "file", default=None, help="Exact file path in the repo instead.")
@click.option(
    "--source",
    type=click.Choice(["huggingface", "modelscope"]),
    default="huggingface",
    show_default=True,
    help="The hub (endpoints from HF_ENDPOINT / MODELSCOPE_ENDPOINT).",
)
@click.option("--revision", default=None, help="Branch, tag or commit [main / master].")
@click.option(
    "--token", default=None, envvar="PLINTH_HUB_TOKEN", help="For gated or private repos."
)
@click.option("--id", "model_id", default=None, help="Public model name [from repo and quant].")
@click.option("--kind", type=click.Choice(["chat", "embedding"]), default="chat", show_default=True)
@click.option("--chat-template", "chat_template", default=None, help="As for `models add`.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@data_dir_option
@click.pass_context
def pull(
    ctx: click.Context,
    repo: str,
    quant: str | None,
    file: str | None,
    source: str,
    revision: str | None,
    token: str | None,
    model_id: str | None,
    kind: str,
    chat_template: str | None,
    progress: bool,
    data_dir: Path | None,
) -> None:
    """Download a GGUF model from a hub (resumable, sha256-checked) and serve it."""
    from plinth.cli.models import add
    from plinth.hub.pull import pull as pull_files
    from plinth.hub.sources import hub_named

    if quant is not None and file is not None:
        raise click.UsageError("give --quant or --file, not both")
    settings = settings_or_exit(data_dir=data_dir)
    hub = hub_named(source, token, revision)
    pulled = pull_files(
        hub, repo, settings.data_dir / "models", file=file, quant=quant, progress=progress
    )
    click.echo(f"Downloaded {', '.join(str(p) for p in pulled.files)} (sha256 checked).")
    if chat_template is None and kind == "chat":
        click.echo(_template_note(pulled.path))
    ctx.invoke(
        add,
        path=pulled.path,
        model_id=model_id or _default_id(repo, quant),
        kind=kind,
        chat_template=chat_template,
        data_dir=data_dir,
    )
