"""Knowledge-base storage metering: bytes held over time, as byte-seconds.

Storage is sold per GB-month, so what must be known is not a size but how
long each size was held. Whoever changes a resource's size reports the new
absolute size with :meth:`StorageMeter.set_size`; the meter closes the open
span and opens the next (rows are only ever appended or closed, never
rewritten). :meth:`StorageMeter.byte_seconds` integrates the spans that
overlap a period, clipped to it, in exact integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, or_, select, update

from plinth.store.schema import storage_spans

# A GB-month as billed: 10^9 bytes held for 30 days.
GB_MONTH_BYTE_SECONDS = 10**9 * 30 * 86_400


@dataclass(frozen=True)
class StorageUse:
    resource: str
    kind: str
    tenant_id: str | None
    key_id: str | None
    byte_seconds: int

    @property
    def gb_months(self) -> float:
        """For display only; money is computed from ``byte_seconds``."""
        return self.byte_seconds / GB_MONTH_BYTE_SECONDS


class StorageMeter:
    def __init__(self, engine: Engine):
        self._engine = engine

    def set_size(
        self,
        resource: str,
        size_bytes: int,
        *,
        kind: str = "vector_store",
        tenant_id: str | None = None,
        key_id: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record that ``resource`` holds ``size_bytes`` from ``at`` (now) on; 0 ends it."""
        if size_bytes < 0:
            raise ValueError("size_bytes must be >= 0")
        at = at or datetime.now(UTC)
        with self._engine.begin() as conn:
            open_span = conn.execute(
                select(storage_spans.c.id, storage_spans.c.bytes)
                .where(storage_spans.c.resource == resource, storage_spans.c.ended_at.is_(None))
                .with_for_update()
            ).first()
            if open_span is not None and open_span.bytes == size_bytes:
                return
            if open_span is not None:
                conn.execute(
                    update(storage_spans)
                    .where(storage_spans.c.id == open_span.id)
                    .values(ended_at=at)
                )
            if size_bytes > 0:
                conn.execute(
                    storage_spans.insert().values(
                        resource=resource,
                        kind=kind,
                        tenant_id=tenant_id,
                        key_id=key_id,
                        bytes=size_bytes,
                        started_at=at,
                    )
                )

    def byte_seconds(
        self, start: datetime, end: datetime, *, tenant_id: str | None = None
    ) -> list[StorageUse]:
        """Byte-seconds per resource within [start, end), optionally for one tenant.

        Spans still open are counted up to ``min(end, now)``. Seconds are
        whole (spans are truncated to the second), so a sum is reproducible.
        """
        now = datetime.now(UTC)
        query = select(storage_spans).where(
            storage_spans.c.started_at < end,
            or_(storage_spans.c.ended_at.is_(None), storage_spans.c.ended_at > start),
        )
        if tenant_id is not None:
            query = query.where(and_(storage_spans.c.tenant_id == tenant_id))
        totals: dict[str, StorageUse] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(query.order_by(storage_spans.c.id)):
                began = max(_utc(row.started_at), start)
                ended = min(_utc(row.ended_at) if row.ended_at else now, end)
                seconds = int(ended.timestamp()) - int(began.timestamp())
                if seconds <= 0:
                    continue
                previous = totals.get(row.resource)
                so_far = previous.byte_seconds if previous else 0
                totals[row.resource] = StorageUse(
                    row.resource, row.kind, row.tenant_id, row.key_id, so_far + row.bytes * seconds
                )
        return list(totals.values())


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
