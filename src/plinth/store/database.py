"""Opening the database: one SQLAlchemy engine, migrated on open.

SQLite is the embedded default; any SQLAlchemy URL works for callers because
they only use Core expressions from :mod:`plinth.store.schema`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

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


def open_database(url: str) -> Engine:
    """Create the engine for ``url`` (creating a SQLite file's folder) and migrate it."""
    if url.startswith(("postgresql://", "postgres://")):
        # Plinth ships the psycopg 3 driver (extra "postgres"), not SQLAlchemy's default psycopg2.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    migrate(engine)
    return engine
