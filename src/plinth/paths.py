"""Plinth's files on disk are its user's alone: folders 0700, files 0600.

The database, the audit key, uploaded files and converted models hold keys'
hashes, prompts' ledger rows and tenants' documents, so nothing Plinth
creates is readable by other users of the machine, whatever the umask.
Folders that exist already are left as they are: a data dir may be a folder
the user chose (their home, say), which is not ours to change.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` as a folder, creating it and any missing parents with mode 0700."""
    missing: list[Path] = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        # Created meanwhile by another process: then it is not ours to set.
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)
    return path


def private_file(path: Path) -> int:
    """Open ``path`` for writing as a new 0600 file (fails if it exists); the descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)


def make_private(path: Path) -> None:
    """Take group and other permissions off an existing file of ours (best effort)."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(FILE_MODE)
    except OSError:  # gone meanwhile, or owned by someone else: leave it
        pass
