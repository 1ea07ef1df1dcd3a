"""Opening the database: one SQLAlchemy engine, migrated on open.

SQLite is the embedded default; any SQLAlchemy URL works for callers because
they only use Core expressions from :mod:`plinth.store.schema`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from plinth.paths import make_private, private_dir, private_file
from plinth.store.migrations import migrate


def _tune_sqlite(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the CLI read the ledger while the server writes; the busy timeout
    # makes a second writer wait instead of failing with "database is locked".
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _private_sqlite_file(name: str) -> None:
    """Create the database file 0600 in a 0700 folder before SQLite opens it.

    SQLite gives the ``-wal`` and ``-shm`` files the main file's permissions,
    so those follow. A file left readable by an older version is tightened.
    """
    if not name or name.startswith(":") or "?" in name:  # in memory, or a URI with options
        return
    path = Path(name)
    private_dir(path.parent)
    try:
        os.close(private_file(path))
    except FileExistsError:
        for existing in (path, Path(f"{name}-wal"), Path(f"{name}-shm")):
            if existing.exists():
                make_private(existing)


def open_database(url: str) -> Engine:
    """Create the engine for ``url`` (creating a SQLite file's folder) and migrate it."""
    if url.startswith(("postgresql://", "postgres://")):
        # Plinth ships the psycopg 3 driver (extra "postgres"), not SQLAlchemy's default psycopg2.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        _private_sqlite_file(url.removeprefix("sqlite:///"))
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    migrate(engine)
    return engine
