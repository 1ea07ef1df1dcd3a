"""Batch rows and their lines' outcomes (SQLAlchemy Core, called through the door).

A line's outcome is written once: :meth:`BatchStore.finish_line` moves it out
of ``pending`` and bumps the batch's counter in one transaction, and does
nothing if the line already left ``pending``. That, with each line's request
id derived from the batch id and line index (the ledger's primary key), is
what lets a restarted server resume a batch without losing or repeating a
line.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Engine, select, update

from plinth.auth import Principal
from plinth.batches.validation import BatchLine, LineError
from plinth.store.schema import api_keys, batch_lines, batches, tenants

# Statuses the runner still has work for.
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")


@dataclass(frozen=True)
class Batch:
    id: str
    key_id: str | None
    tenant_id: str | None
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    output_file_id: str | None
    error_file_id: str | None
    errors: str | None
    metadata: str | None
    total: int
    completed: int
    failed: int
    created_at: int
    expires_at: int
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None

    def as_json(self) -> dict[str, Any]:
        errors = json.loads(self.errors) if self.errors else None
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": errors} if errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": self.in_progress_at,
            "expires_at": self.expires_at,
            "finalizing_at": self.finalizing_at,
            "completed_at": self.completed_at,
            "failed_at": self.failed_at,
            "expired_at": self.expired_at,
            "cancelling_at": self.cancelling_at,
            "cancelled_at": self.cancelled_at,
            "request_counts": {
                "total": self.total,
                "completed": self.completed,
                "failed": self.failed,
            },
            "metadata": json.loads(self.metadata) if self.metadata else None,
        }


_COLUMNS = [f.name for f in fields(Batch)]


def new_batch_id() -> str:
    """Ids sort by creation (nanoseconds first): the list's order within one second."""
    return f"batch_{time.time_ns():x}{secrets.token_hex(6)}"


class BatchStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def add(self, batch: Batch) -> None:
        with self._engine.begin() as conn:
            conn.execute(batches.insert().values(**batch.__dict__))

    def get(self, batch_id: str, *, key_id: str | None = None) -> Batch | None:
        """The batch if ``key_id`` may see it (None: an admin, who sees all)."""
        query = select(batches).where(batches.c.id == batch_id)
        if key_id is not None:
            query = query.where(batches.c.key_id == key_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return Batch(**{c: row[c] for c in _COLUMNS}) if row else None

    def page(
        self, *, key_id: str | None, limit: int, after: str | None = None
    ) -> tuple[list[Batch], bool]:
        """Newest first; ``after`` is a batch id (the cursor)."""
        query = select(batches).order_by(batches.c.created_at.desc(), batches.c.id.desc())
        if key_id is not None:
            query = query.where(batches.c.key_id == key_id)
        with self._engine.connect() as conn:
            if after is not None:
                cursor = conn.execute(select(batches).where(batches.c.id == after)).first()
                if cursor is not None:
                    created, ident = cursor.created_at, cursor.id
                    query = query.where(
                        (batches.c.created_at < created)
                        | ((batches.c.created_at == created) & (batches.c.id < ident))
                    )
            rows = conn.execute(query.limit(limit + 1)).mappings().all()
        found = [Batch(**{c: row[c] for c in _COLUMNS}) for row in rows[:limit]]
        return found, len(rows) > limit

    def active(self) -> list[Batch]:
        query = select(batches).where(batches.c.status.in_(ACTIVE)).order_by(batches.c.created_at)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [Batch(**{c: row[c] for c in _COLUMNS}) for row in rows]

    def start(self, batch_id: str, lines: list[BatchLine], now: int) -> None:
        """Validation passed: store the lines and move to ``in_progress``, at once."""
        values = [
            {
                "batch_id": batch_id,
                "line": line.index,
                "custom_id": line.custom_id,
                "body": json.dumps(line.body),
                "status": "pending",
            }
            for line in lines
        ]
        with self._engine.begin() as conn:
            claimed = conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status == "validating")
                .values(status="in_progress", in_progress_at=now, total=len(lines))
            ).rowcount
            if claimed and values:  # else a cancel came first: nothing to run
                conn.execute(batch_lines.insert(), values)

    def fail_validation(self, batch_id: str, errors: list[LineError], now: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status == "validating")
                .values(
                    status="failed",
                    failed_at=now,
                    errors=json.dumps([e.as_json() for e in errors]),
                )
            )

    def pending(self, batch_id: str, *, limit: int) -> list[BatchLine]:
        """Up to ``limit`` lines without an outcome, in file order, leased or not."""
        query = (
            select(batch_lines.c.line, batch_lines.c.custom_id, batch_lines.c.body)
            .where(batch_lines.c.batch_id == batch_id, batch_lines.c.status == "pending")
            .order_by(batch_lines.c.line)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [BatchLine(r.line, r.custom_id, json.loads(r.body)) for r in conn.execute(query)]

    def claim(
        self, batch_id: str, *, owner: str, limit: int, now: int, lease_s: float
    ) -> list[BatchLine]:
        """Lease up to ``limit`` pending lines no live runner holds, in file order.

        Each line is taken by a conditional update, so of several servers
        claiming at once exactly one gets it; a line whose lease ran out (its
        server died) is free again.
        """
        free = (batch_lines.c.lease_until.is_(None)) | (batch_lines.c.lease_until < now)
        where = (batch_lines.c.batch_id == batch_id, batch_lines.c.status == "pending", free)
        query = (
            select(batch_lines.c.line, batch_lines.c.custom_id, batch_lines.c.body)
            .where(*where)
            .order_by(batch_lines.c.line)
            .limit(limit)
        )
        claimed: list[BatchLine] = []
        with self._engine.begin() as conn:
            for row in conn.execute(query).all():
                taken = conn.execute(
                    update(batch_lines)
                    .where(*where, batch_lines.c.line == row.line)
                    .values(owner=owner, lease_until=now + int(lease_s))
                ).rowcount
                if taken:
                    claimed.append(BatchLine(row.line, row.custom_id, json.loads(row.body)))
        return claimed

    def release(self, owner: str) -> None:
        """Give up ``owner``'s leases on lines without an outcome (a clean shutdown)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(batch_lines)
                .where(batch_lines.c.owner == owner, batch_lines.c.status == "pending")
                .values(owner=None, lease_until=None)
            )

    def release_line(self, batch_id: str, line: int, owner: str) -> bool:
        """Give up the lease on one line still without an outcome (it was pre-empted):
        the next claim, by any server, runs it again. False if it was not ``owner``'s."""
        with self._engine.begin() as conn:
            return bool(
                conn.execute(
                    update(batch_lines)
                    .where(
                        batch_lines.c.batch_id == batch_id,
                        batch_lines.c.line == line,
                        batch_lines.c.owner == owner,
                        batch_lines.c.status == "pending",
                    )
                    .values(owner=None, lease_until=None)
                ).rowcount
            )

    def renew(self, batch_id: str, lines: list[int], *, owner: str, until: int) -> None:
        """Extend the lease on lines this runner is still running."""
        with self._engine.begin() as conn:
            conn.execute(
                update(batch_lines)
                .where(
                    batch_lines.c.batch_id == batch_id,
                    batch_lines.c.line.in_(lines),
                    batch_lines.c.owner == owner,
                    batch_lines.c.status == "pending",
                )
                .values(lease_until=until)
            )

    def finish_line(
        self, batch_id: str, line: int, ok: bool, result: dict[str, Any], now: int
    ) -> bool:
        """Record a line's outcome once; False if it had one already."""
        status = "completed" if ok else "failed"
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(batch_lines)
                .where(
                    batch_lines.c.batch_id == batch_id,
                    batch_lines.c.line == line,
                    batch_lines.c.status == "pending",
                )
                .values(status=status, result=json.dumps(result), finished_at=now)
            ).rowcount
            if moved:
                counter = batches.c.completed if ok else batches.c.failed
                conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id)
                    .values({counter.name: counter + 1})
                )
        return bool(moved)

    def results(self, batch_id: str) -> list[tuple[str, str]]:
        """(status, result JSON) of every finished line, in file order."""
        query = (
            select(batch_lines.c.status, batch_lines.c.result)
            .where(batch_lines.c.batch_id == batch_id, batch_lines.c.status != "pending")
            .order_by(batch_lines.c.line)
        )
        with self._engine.connect() as conn:
            return [(r.status, r.result) for r in conn.execute(query)]

    def transition(self, batch_id: str, frm: tuple[str, ...], to: str, **values: Any) -> bool:
        """Move the batch from one of ``frm`` to ``to`` (with ``values``); False if not there."""
        with self._engine.begin() as conn:
            return bool(
                conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id, batches.c.status.in_(frm))
                    .values(status=to, **values)
                ).rowcount
            )

    def principal(self, key_id: str | None) -> Principal | None:
        """Whom the batch's lines run as: its key now (None if revoked or gone)."""
        if key_id is None:
            return None
        query = (
            select(api_keys, tenants.c.privacy_policy.label("tenant_policy"))
            .outerjoin(tenants, tenants.c.id == api_keys.c.tenant_id)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        policy = row["privacy_policy"] or row["tenant_policy"]
        return Principal(row["id"], row["name"], row["is_admin"], policy, row["tenant_id"])
