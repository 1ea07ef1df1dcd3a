"""What Plinth writes to disk is its user's alone: folders 0700, files 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from plinth.bootstrap import audit_key
from plinth.files.storage import LocalFileStorage
from plinth.settings import Settings
from plinth.store.database import open_database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The common default, under which a plain mkdir/open gives 0755/0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_data_dir_and_the_database_files(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    engine = open_database(f"sqlite:///{data / 'plinth.db'}")
    with engine.begin() as conn:  # a write: the -wal and -shm files exist now
        conn.execute(text("CREATE TABLE probe (x INTEGER)"))
    try:
        assert mode(tmp_path / "new") == 0o700 and mode(data) == 0o700
        for name in ("plinth.db", "plinth.db-wal", "plinth.db-shm"):
            assert mode(data / name) == 0o600, name
    finally:
        engine.dispose()


def test_a_database_file_left_readable_is_tightened(tmp_path: Path) -> None:
    (tmp_path / "old.db").touch(mode=0o644)
    open_database(f"sqlite:///{tmp_path / 'old.db'}").dispose()
    assert mode(tmp_path / "old.db") == 0o600


def test_the_audit_key_and_its_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", load_bundled_models=False)
    audit_key(settings)
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "audit.key") == 0o600


@pytest.mark.anyio
async def test_uploaded_files_and_their_folder(tmp_path: Path) -> None:
    storage = LocalFileStorage(tmp_path / "data" / "files")

    async def chunks() -> AsyncIterator[bytes]:
        yield b"private bytes"

    try:
        size, _ = await storage.save("file-1", chunks(), 1 << 20)
    finally:
        storage.close()
    assert size == 13
    assert mode(tmp_path / "data") == 0o700 and mode(tmp_path / "data" / "files") == 0o700
    assert mode(storage.path("file-1")) == 0o600
