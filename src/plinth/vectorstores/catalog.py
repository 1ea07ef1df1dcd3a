"""Vector stores, their files, file batches and extracted texts as rows.

The chunks live in the knowledge index; these tables hold what the API
reports about them — owner, name, metadata, expiry, and each file's
ingestion status. A file's status only ever leaves ``in_progress`` through
:meth:`VectorStoreCatalog.finish_file`, which refuses when the file was
cancelled or removed meanwhile, so a late-finishing ingestion cannot
resurrect it.

Every method is synchronous SQL: :class:`VectorStores` calls them through
the database door (``Database.run``), never on the event loop.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, and_, func, or_, select, update

from plinth.store.schema import file_texts
from plinth.store.schema import vector_store_file_batches as batches
from plinth.store.schema import vector_store_files as vs_files
from plinth.store.schema import vector_stores as stores

FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")
DAY_S = 86_400


@dataclass(frozen=True)
class StoreRow:
    id: str
    key_id: str | None
    tenant_id: str | None
    name: str
    metadata: dict[str, str]
    expires_after_days: int | None
    chunking: dict[str, Any] | None
    usage_bytes: int
    created_at: int
    last_active_at: int
    # The model that made its vectors (None: made before that was recorded).
    embedder: str | None = None

    @property
    def expires_at(self) -> int | None:
        if self.expires_after_days is None:
            return None
        return self.last_active_at + self.expires_after_days * DAY_S

    def expired(self, now: int) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class FileRow:
    vector_store_id: str
    file_id: str
    batch_id: str | None
    filename: str
    status: str
    error_code: str | None
    error_message: str | None
    chunking: dict[str, Any]
    attributes: dict[str, Any]
    usage_bytes: int
    created_at: int


@dataclass(frozen=True)
class BatchRow:
    id: str
    vector_store_id: str
    cancelled: bool
    created_at: int


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    has_more: bool


@dataclass(frozen=True)
class PageRequest:
    """OpenAI's cursor pagination: ``after``/``before`` are ids of the previous page's ends."""

    limit: int = 20
    descending: bool = True
    after: str | None = None
    before: str | None = None


def now_s() -> int:
    """The time rows are stamped with and expiry is judged by (Unix seconds)."""
    return int(time.time())


def new_store_id() -> str:
    return "vs_" + secrets.token_hex(12)


def new_batch_id() -> str:
    return "vsfb_" + secrets.token_hex(12)


def _store(row: Any) -> StoreRow:
    values = dict(row)
    values["metadata"] = json.loads(values.pop("meta"))
    values["chunking"] = None if values["chunking"] is None else json.loads(values["chunking"])
    return StoreRow(**values)


def _file(row: Any) -> FileRow:
    values = dict(row)
    values["chunking"] = json.loads(values["chunking"])
    values["attributes"] = json.loads(values["attributes"])
    return FileRow(**values)


def _page(
    conn: Any, query: Any, table: Table, id_col: str, request: PageRequest, scope: Any = None
) -> Page:
    """One page ordered by (created_at, id); ``before`` reads backwards and flips back.

    ``scope`` narrows the cursor's lookup where the id alone is not unique (a
    file id is attached to many stores).
    """
    created, ident = table.c.created_at, table.c[id_col]
    backwards = request.before is not None
    descending = request.descending != backwards
    cursor_id = request.before if backwards else request.after
    if cursor_id is not None:
        lookup = select(created).select_from(table).where(ident == cursor_id)
        if scope is not None:
            lookup = lookup.where(scope)
        cursor = conn.execute(lookup).scalar_one_or_none()
        if cursor is not None:
            if descending:
                query = query.where(
                    or_(created < cursor, and_(created == cursor, ident < cursor_id))
                )
            else:
                query = query.where(
                    or_(created > cursor, and_(created == cursor, ident > cursor_id))
                )
    order = (created.desc(), ident.desc()) if descending else (created.asc(), ident.asc())
    rows = conn.execute(query.order_by(*order).limit(request.limit + 1)).mappings().all()
    page = list(rows[: request.limit])
    if backwards:
        page.reverse()
    return Page(page, len(rows) > request.limit)


class VectorStoreCatalog:
    """Synchronous database access; async callers run it through ``Database.run``."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # -- stores -----------------------------------------------------------------

    def create_store(
        self,
        *,
        key_id: str | None,
        tenant_id: str | None,
        name: str,
        metadata: dict[str, str],
        expires_after_days: int | None,
        chunking: dict[str, Any] | None = None,
        now: int,
    ) -> StoreRow:
        row = StoreRow(
            new_store_id(), key_id, tenant_id, name, metadata, expires_after_days, chunking,
            0, now, now,
        )  # fmt: skip
        values = {**row.__dict__, "meta": json.dumps(metadata)}
        values["chunking"] = None if chunking is None else json.dumps(chunking)
        del values["metadata"]
        with self.engine.begin() as conn:
            conn.execute(stores.insert().values(**values))
        return row

    def get_store(self, store_id: str, *, key_id: str | None) -> StoreRow | None:
        """The store if ``key_id`` may see it (None: admin, sees all)."""
        query = select(stores).where(stores.c.id == store_id)
        if key_id is not None:
            query = query.where(stores.c.key_id == key_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _store(row) if row else None

    def find_by_name(self, name: str) -> list[StoreRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(stores).where(stores.c.name == name)).mappings().all()
        return [_store(r) for r in rows]

    def page_stores(self, *, key_id: str | None, request: PageRequest) -> Page:
        query = select(stores)
        if key_id is not None:
            query = query.where(stores.c.key_id == key_id)
        with self.engine.connect() as conn:
            page = _page(conn, query, stores, "id", request)
        return Page([_store(r) for r in page.rows], page.has_more)

    def update_store(self, store_id: str, changes: dict[str, Any]) -> None:
        """``changes`` may hold name, metadata, expires_after_days, last_active_at."""
        values = dict(changes)
        if "metadata" in values:
            values["meta"] = json.dumps(values.pop("metadata"))
        if values:
            with self.engine.begin() as conn:
                conn.execute(update(stores).where(stores.c.id == store_id).values(**values))

    def delete_store(self, store_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(vs_files.delete().where(vs_files.c.vector_store_id == store_id))
            conn.execute(batches.delete().where(batches.c.vector_store_id == store_id))
            conn.execute(stores.delete().where(stores.c.id == store_id))

    def refresh_usage(self, store_id: str) -> int:
        """Sum the completed files' bytes into the store's ``usage_bytes``; return it.

        Two files finishing together each refresh the store. Read-then-write
        would let the refresh that summed first write last and drop the other
        file from the total, so the sum is taken inside the UPDATE, after the
        store's row is locked (PostgreSQL: a new statement snapshot after the
        lock; SQLite: one writer at a time, and no FOR UPDATE to render).
        """
        completed = (
            select(func.coalesce(func.sum(vs_files.c.usage_bytes), 0))
            .where(vs_files.c.vector_store_id == store_id, vs_files.c.status == "completed")
            .scalar_subquery()
        )
        with self.engine.begin() as conn:
            conn.execute(select(stores.c.id).where(stores.c.id == store_id).with_for_update())
            conn.execute(
                update(stores).where(stores.c.id == store_id).values(usage_bytes=completed)
            )
            total = conn.execute(
                select(stores.c.usage_bytes).where(stores.c.id == store_id)
            ).scalar_one_or_none()
        return int(total or 0)

    # -- files ------------------------------------------------------------------

    def add_file(
        self,
        store_id: str,
        file_id: str,
        *,
        filename: str,
        chunking: dict[str, Any],
        attributes: dict[str, Any],
        batch_id: str | None,
        now: int,
    ) -> FileRow:
        """Attach (or re-attach, restarting ingestion) a file; it starts ``in_progress``."""
        row = FileRow(
            store_id, file_id, batch_id, filename, "in_progress", None, None,
            chunking, attributes, 0, now,
        )  # fmt: skip
        values = {
            **row.__dict__,
            "chunking": json.dumps(chunking),
            "attributes": json.dumps(attributes),
        }
        with self.engine.begin() as conn:
            conn.execute(
                vs_files.delete().where(
                    vs_files.c.vector_store_id == store_id, vs_files.c.file_id == file_id
                )
            )
            conn.execute(vs_files.insert().values(**values))
        return row

    def get_file(self, store_id: str, file_id: str) -> FileRow | None:
        query = select(vs_files).where(
            vs_files.c.vector_store_id == store_id, vs_files.c.file_id == file_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _file(row) if row else None

    def page_files(
        self,
        store_id: str,
        request: PageRequest,
        *,
        status: str | None = None,
        batch_id: str | None = None,
    ) -> Page:
        query = select(vs_files).where(vs_files.c.vector_store_id == store_id)
        if status is not None:
            query = query.where(vs_files.c.status == status)
        if batch_id is not None:
            query = query.where(vs_files.c.batch_id == batch_id)
        with self.engine.connect() as conn:
            scope = vs_files.c.vector_store_id == store_id
            page = _page(conn, query, vs_files, "file_id", request, scope)
        return Page([_file(r) for r in page.rows], page.has_more)

    def in_progress_files(self) -> list[FileRow]:
        """Files some process was ingesting (at start-up: one that died doing so)."""
        query = select(vs_files).where(vs_files.c.status == "in_progress")
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(vs_files.c.created_at)).mappings().all()
        return [_file(r) for r in rows]

    def finish_file(
        self,
        store_id: str,
        file_id: str,
        *,
        status: str,
        usage_bytes: int = 0,
        error: tuple[str, str] | None = None,
        chunking: dict[str, Any] | None = None,
    ) -> bool:
        """Move an ``in_progress`` file to its outcome; False if it is no longer in progress.

        With ``chunking`` (the strategy the run indexed with), also False when the
        file was re-attached meanwhile with another strategy.
        """
        code, message = error if error is not None else (None, None)
        where = [
            vs_files.c.vector_store_id == store_id,
            vs_files.c.file_id == file_id,
            vs_files.c.status == "in_progress",
        ]
        if chunking is not None:
            where.append(vs_files.c.chunking == json.dumps(chunking))
        with self.engine.begin() as conn:
            result = conn.execute(
                update(vs_files)
                .where(*where)
                .values(
                    status=status,
                    usage_bytes=usage_bytes,
                    error_code=code,
                    error_message=None if message is None else message[:2000],
                )
            )
        return bool(result.rowcount)

    def set_attributes(self, store_id: str, file_id: str, attributes: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(vs_files)
                .where(vs_files.c.vector_store_id == store_id, vs_files.c.file_id == file_id)
                .values(attributes=json.dumps(attributes))
            )

    def delete_file(self, store_id: str, file_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                vs_files.delete().where(
                    vs_files.c.vector_store_id == store_id, vs_files.c.file_id == file_id
                )
            )

    def file_counts(self, store_id: str, *, batch_id: str | None = None) -> dict[str, int]:
        query = (
            select(vs_files.c.status, func.count())
            .where(vs_files.c.vector_store_id == store_id)
            .group_by(vs_files.c.status)
        )
        if batch_id is not None:
            query = query.where(vs_files.c.batch_id == batch_id)
        counts = dict.fromkeys(FILE_STATUSES, 0)
        with self.engine.connect() as conn:
            for status, count in conn.execute(query):
                counts[status] = int(count)
        counts["total"] = sum(counts.values())
        return counts

    # -- batches ----------------------------------------------------------------

    def create_batch(self, store_id: str, *, now: int) -> BatchRow:
        row = BatchRow(new_batch_id(), store_id, False, now)
        with self.engine.begin() as conn:
            conn.execute(batches.insert().values(**row.__dict__))
        return row

    def get_batch(self, store_id: str, batch_id: str) -> BatchRow | None:
        query = select(batches).where(
            batches.c.id == batch_id, batches.c.vector_store_id == store_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return BatchRow(**row) if row else None

    def cancel_batch(self, batch_id: str) -> list[str]:
        """Mark the batch cancelled and its pending files too; return those files' ids."""
        with self.engine.begin() as conn:
            conn.execute(update(batches).where(batches.c.id == batch_id).values(cancelled=True))
            pending = list(
                conn.scalars(
                    select(vs_files.c.file_id).where(
                        vs_files.c.batch_id == batch_id, vs_files.c.status == "in_progress"
                    )
                )
            )
            conn.execute(
                update(vs_files)
                .where(vs_files.c.batch_id == batch_id, vs_files.c.status == "in_progress")
                .values(status="cancelled")
            )
        return pending

    # -- extracted texts ----------------------------------------------------------

    def get_text(self, file_id: str) -> str | None:
        """The text parsed from a File at its first ingestion, if stored."""
        query = select(file_texts.c.text).where(file_texts.c.file_id == file_id)
        with self.engine.connect() as conn:
            text: str | None = conn.execute(query).scalar_one_or_none()
        return text

    def put_text(self, file_id: str, text: str, *, now: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(file_texts.delete().where(file_texts.c.file_id == file_id))
            conn.execute(file_texts.insert().values(file_id=file_id, text=text, created_at=now))

    def forget_texts(self, file_ids: list[str]) -> None:
        """Drop the stored texts of these files that no store holds any more."""
        if not file_ids:
            return
        attached = select(vs_files.c.file_id).where(vs_files.c.file_id.in_(file_ids))
        with self.engine.begin() as conn:
            conn.execute(
                file_texts.delete().where(
                    file_texts.c.file_id.in_(file_ids), file_texts.c.file_id.not_in(attached)
                )
            )

    def file_ids(self, store_id: str) -> list[str]:
        query = select(vs_files.c.file_id).where(vs_files.c.vector_store_id == store_id)
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def filenames(self, store_id: str, file_ids: list[str]) -> dict[str, str]:
        """The names of those files still attached to the store (one query, not one per hit)."""
        query = select(vs_files.c.file_id, vs_files.c.filename).where(
            vs_files.c.vector_store_id == store_id, vs_files.c.file_id.in_(file_ids)
        )
        with self.engine.connect() as conn:
            return {str(file_id): str(name) for file_id, name in conn.execute(query)}
