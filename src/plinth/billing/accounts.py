"""Limits per key and tenant, wallets per tenant, and what has been spent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from plinth.errors import InvalidRequest
from plinth.store.schema import limits, usage, wallet_entries

Period = Literal["day", "month", "total"]
#: The largest limit stored: a signed 64-bit INTEGER column's largest value.
MAX_LIMIT = 2**63 - 1


@dataclass(frozen=True)
class Limits:
    subject: str  # "key:<id>" or "tenant:<id>"
    spend_micros: int | None = None
    spend_period: Period = "month"
    timezone: str = "UTC"
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_concurrent: int | None = None

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def period_bounds(period: Period, timezone: str, now: datetime) -> tuple[str, datetime]:
    """The period's id (for counter keys) and its start, in UTC."""
    if period == "total":
        return "total", datetime(1970, 1, 1, tzinfo=UTC)
    local = now.astimezone(ZoneInfo(timezone))
    if period == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%d"), start.astimezone(UTC)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.strftime("%Y-%m"), start.astimezone(UTC)


def period_end(period: Period, timezone: str, now: datetime) -> datetime | None:
    if period == "total":
        return None
    # From the local date, not the period's start: a day whose midnight was skipped
    # (DST at 00:00) starts at 01:00, and the next still starts at midnight.
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date()
    if period == "day":
        nxt = day + timedelta(days=1)
    else:
        nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).astimezone(UTC)


class LimitStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def get(self, subject: str) -> Limits | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(limits).where(limits.c.subject == subject)).mappings().first()
        if row is None:
            return None
        return Limits(**{k: v for k, v in row.items() if k != "updated_at"})

    def set(self, value: Limits) -> None:
        """Store ``value``, refusing numbers the database cannot hold (a 400, not a 500)."""
        for name in ("requests_per_minute", "tokens_per_minute", "max_concurrent"):
            number = getattr(value, name)
            if number is not None and not 1 <= number <= MAX_LIMIT:
                raise InvalidRequest(f"{name} must be between 1 and {MAX_LIMIT}", param=name)
        if value.spend_micros is not None and not 0 <= value.spend_micros <= MAX_LIMIT:
            raise InvalidRequest(
                f"spend must be between 0 and {MAX_LIMIT} micro-units", param="spend"
            )
        row = {**value.__dict__, "updated_at": datetime.now(UTC)}
        with self._engine.begin() as conn:
            found = conn.scalar(select(limits.c.subject).where(limits.c.subject == value.subject))
            if found is None:
                conn.execute(limits.insert().values(**row))
            else:
                conn.execute(limits.update().where(limits.c.subject == value.subject).values(**row))

    def all(self) -> list[Limits]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(limits).order_by(limits.c.subject)).mappings()
            return [Limits(**{k: v for k, v in r.items() if k != "updated_at"}) for r in rows]


class WalletStore:
    """Top-ups and credit limits (append-only); the balance is derived, never stored."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def add(self, tenant_id: str, kind: str, amount_micros: int, note: str | None = None) -> None:
        """Append an entry; top-ups whose total a 64-bit column cannot hold are refused."""
        with self._engine.begin() as conn:
            if kind == "topup" and self._topups(conn, tenant_id) + amount_micros > MAX_LIMIT:
                raise InvalidRequest(
                    f"amount: the wallet's top-ups would exceed {MAX_LIMIT} micro-units",
                    param="amount",
                )
            conn.execute(
                wallet_entries.insert().values(
                    tenant_id=tenant_id,
                    kind=kind,
                    amount_micros=amount_micros,
                    note=note,
                    created_at=datetime.now(UTC),
                )
            )

    @staticmethod
    def _topups(conn: Connection, tenant_id: str) -> int:
        query = select(func.coalesce(func.sum(wallet_entries.c.amount_micros), 0)).where(
            wallet_entries.c.tenant_id == tenant_id, wallet_entries.c.kind == "topup"
        )
        return int(conn.scalar(query) or 0)

    def funds(self, tenant_id: str) -> int | None:
        """Top-ups plus the latest credit limit; None when the tenant has no wallet."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(wallet_entries.c.kind, wallet_entries.c.amount_micros)
                .where(wallet_entries.c.tenant_id == tenant_id)
                .order_by(wallet_entries.c.id)
            ).all()
        if not rows:
            return None
        topups = sum(amount for kind, amount in rows if kind == "topup")
        credit = next((amount for kind, amount in reversed(rows) if kind == "credit_limit"), 0)
        return int(topups + credit)


def spent_since(engine: Engine, subject: str, start: datetime) -> int:
    """Micro-units the ledger has charged to a key or tenant since ``start``."""
    kind, _, ident = subject.partition(":")
    column = usage.c.key_id if kind == "key" else usage.c.tenant_id
    query = select(func.coalesce(func.sum(usage.c.cost_micros), 0)).where(
        column == ident, usage.c.created_at >= start
    )
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)
