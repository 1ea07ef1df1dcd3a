"""File records: who uploaded what, for which purpose, until when."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, or_, select

from plinth.store.schema import files


@dataclass(frozen=True)
class FileRecord:
    id: str
    key_id: str | None
    filename: str
    purpose: str
    bytes: int
    sha256: str
    created_at: int
    expires_at: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": self.expires_at,
            "status_details": None,
        }


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


class FileStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def add(self, record: FileRecord) -> None:
        with self._engine.begin() as conn:
            conn.execute(files.insert().values(**record.__dict__))

    def get(self, file_id: str, *, key_id: str | None, now: int) -> FileRecord | None:
        """The file if it exists, has not expired, and ``key_id`` may see it (None: admin)."""
        query = select(files).where(files.c.id == file_id)
        query = _visible(query, key_id, now)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return FileRecord(**row) if row else None

    def page(
        self,
        *,
        key_id: str | None,
        now: int,
        purpose: str | None = None,
        limit: int = 20,
        after: str | None = None,
        descending: bool = True,
    ) -> tuple[list[FileRecord], bool]:
        """One page, newest first by default; ``after`` is a file id (cursor)."""
        query = _visible(select(files), key_id, now)
        if purpose is not None:
            query = query.where(files.c.purpose == purpose)
        order = (files.c.created_at.desc(), files.c.id.desc())
        if not descending:
            order = (files.c.created_at.asc(), files.c.id.asc())
        with self._engine.connect() as conn:
            if after is not None:
                cursor = conn.execute(select(files).where(files.c.id == after)).mappings().first()
                if cursor is not None:
                    created, ident = cursor["created_at"], cursor["id"]
                    if descending:
                        query = query.where(
                            or_(
                                files.c.created_at < created,
                                (files.c.created_at == created) & (files.c.id < ident),
                            )
                        )
                    else:
                        query = query.where(
                            or_(
                                files.c.created_at > created,
                                (files.c.created_at == created) & (files.c.id > ident),
                            )
                        )
            rows = conn.execute(query.order_by(*order).limit(limit + 1)).mappings().all()
        records = [FileRecord(**row) for row in rows[:limit]]
        return records, len(rows) > limit

    def delete(self, file_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(files.delete().where(files.c.id == file_id))


def _visible(query: Any, key_id: str | None, now: int) -> Any:
    query = query.where(or_(files.c.expires_at.is_(None), files.c.expires_at > now))
    if key_id is not None:
        query = query.where(files.c.key_id == key_id)
    return query


def utc_now() -> int:
    return int(datetime.now(UTC).timestamp())
