"""Which file of a repo to pull, and where it goes.

``--file`` names one exactly; ``--quant Q4_K_M`` picks the repo's GGUF whose
name carries that quantisation (``model-q4_k_m.gguf`` or ``Q4_K_M/…``). A model
split into parts (``-00001-of-00003.gguf``) is pulled whole; llama.cpp loads
it from the first part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from plinth.errors import InvalidRequest, NotFound
from plinth.hub.download import download
from plinth.hub.sources import Hub, HubFile

_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Pulled:
    path: Path  # the file to load (the first part of a split model)
    files: list[Path]


def check_repo(repo: str) -> None:
    if not _REPO.match(repo) or ".." in repo:
        raise InvalidRequest(f"'{repo}' is not a repo id (owner/name)", param="repo")


def _quant_matches(path: str, quant: str) -> bool:
    return quant.lower() in re.split(r"[^a-z0-9_]+", path.lower())


def choose(files: list[HubFile], file: str | None, quant: str | None) -> list[HubFile]:
    """The files to download, the one to load first."""
    ggufs = [f for f in files if f.path.lower().endswith(".gguf")]
    if file is not None:
        chosen = [f for f in files if f.path == file]
        if not chosen:
            names = ", ".join(f.path for f in ggufs) or "none"
            raise NotFound(f"The repo has no file '{file}' (its GGUF files: {names})")
    elif quant is not None:
        chosen = [f for f in ggufs if _quant_matches(f.path, quant)]
        if not chosen:
            names = ", ".join(f.path for f in ggufs) or "none"
            raise NotFound(f"No GGUF file for quantisation '{quant}' (the repo has: {names})")
    else:
        chosen = ggufs
        if len(chosen) > 1 and len({_SPLIT.sub("", f.path) for f in chosen}) > 1:
            names = ", ".join(f.path for f in ggufs)
            raise InvalidRequest(
                f"The repo has several GGUF files; pick one with --quant or --file: {names}"
            )
        if not chosen:
            raise NotFound("The repo has no GGUF file")
    stems = {_SPLIT.sub("", f.path) for f in chosen}
    if len(stems) > 1:
        names = ", ".join(f.path for f in chosen)
        raise InvalidRequest(f"'{quant}' matches several files; pick one with --file: {names}")
    return sorted(chosen, key=lambda f: f.path)


def pull(
    hub: Hub,
    repo: str,
    models_dir: Path,
    *,
    file: str | None = None,
    quant: str | None = None,
    progress: bool = True,
) -> Pulled:
    check_repo(repo)
    chosen = choose(hub.list_files(repo), file, quant)
    target = models_dir / hub.name / repo
    paths = []
    for item in chosen:
        dest = (target / item.path).resolve()
        if not dest.is_relative_to(target.resolve()):
            raise InvalidRequest(f"The hub listed an unsafe file path: {item.path!r}")
        url = hub.file_url(repo, item.path)
        paths.append(download(url, hub.headers(), item, dest, progress=progress))
    return Pulled(paths[0], paths)
