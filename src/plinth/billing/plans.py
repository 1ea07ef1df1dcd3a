"""Subscription plans and which tenant is on which plan from when.

A plan charges a fee per period (a day or a calendar month in its time zone)
and includes an amount of usage (money, at the price book's prices) per
period. Past the included usage, ``overage="bill"`` bills the usage at the
price book's prices times ``overage_percent``/100, and ``overage="stop"``
refuses requests until the next period (enforced by the reservation, see
:mod:`plinth.billing.guard`). Plans are never edited: new terms are a new plan.

A subscription row says "from ``effective_from`` on, this tenant is on this
plan" (``plan`` None: back to pay-as-you-go). Rows are only appended. A plan
period is the plan's calendar period cut to the subscription, so a
subscription that starts mid-month has a short first period; its fee and
included usage are not prorated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, select

from plinth.billing.accounts import period_bounds, period_end
from plinth.billing.money import from_micros
from plinth.errors import AlreadyExists, InvalidRequest, NotFound
from plinth.store.schema import plans, subscriptions

# Plan names appear in URLs (/admin/plans/{name}) and CLI arguments.
PLAN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")

PlanPeriod = Literal["day", "month"]
Overage = Literal["bill", "stop"]


@dataclass(frozen=True)
class Plan:
    name: str
    period: PlanPeriod
    timezone: str
    fee_micros: int
    included_micros: int
    overage: Overage
    overage_percent: int = 100  # overage billed at the price book × this / 100

    def overage_cost(self, usage_micros: int) -> int:
        """Micro-units billed for usage past the included amount (rounded up)."""
        return -(-usage_micros * self.overage_percent // 100)

    def as_json(self) -> dict[str, object]:
        """Money as decimal strings, as the admin API and the CLI show it."""
        return {
            "name": self.name,
            "period": self.period,
            "timezone": self.timezone,
            "fee": str(from_micros(self.fee_micros)),
            "included": str(from_micros(self.included_micros)),
            "overage": self.overage,
            "overage_percent": self.overage_percent,
        }


@dataclass(frozen=True)
class Subscription:
    id: int
    tenant_id: str
    plan: str | None  # None: pay-as-you-go
    effective_from: datetime


@dataclass(frozen=True)
class PlanTerm:
    """One period of one subscription: [starts, ends) under ``plan``."""

    subscription_id: int
    plan: Plan
    period_id: str  # e.g. "2026-11" or "2026-11-30", in the plan's time zone
    starts: datetime
    ends: datetime


def check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. "America", a folder
        raise InvalidRequest(f"Unknown time zone '{name}'", param="timezone") from None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def terms(
    plan: Plan, subscription_id: int, active_from: datetime, active_to: datetime
) -> Iterator[PlanTerm]:
    """The plan's periods that overlap [active_from, active_to), each cut to it."""
    moment = active_from
    while moment < active_to:
        period_id, calendar_start = period_bounds(plan.period, plan.timezone, moment)
        calendar_end = period_end(plan.period, plan.timezone, moment)
        assert calendar_end is not None  # day and month periods end
        yield PlanTerm(
            subscription_id,
            plan,
            period_id,
            max(calendar_start, active_from),
            min(calendar_end, active_to),
        )
        moment = calendar_end


class PlanStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def create(self, plan: Plan) -> Plan:
        check_timezone(plan.timezone)
        if not PLAN_NAME.fullmatch(plan.name):
            raise InvalidRequest(
                "a plan name is 1-80 letters, digits, '_', '.' or '-'", param="name"
            )
        if plan.name == "payg":  # the CLI's word for "no plan"
            raise InvalidRequest("'payg' is reserved: it means no plan", param="name")
        if plan.overage_percent < 0:
            raise InvalidRequest("overage_percent must be >= 0", param="overage_percent")
        with self._engine.begin() as conn:
            if conn.scalar(select(plans.c.name).where(plans.c.name == plan.name)) is not None:
                raise AlreadyExists(
                    f"A plan named '{plan.name}' exists; plans are never edited, "
                    "create one with a new name",
                    param="name",
                )
            conn.execute(plans.insert().values(**plan.__dict__, created_at=datetime.now(UTC)))
        return plan

    def get(self, name: str) -> Plan:
        with self._engine.connect() as conn:
            row = conn.execute(select(plans).where(plans.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"No plan named '{name}'", param="plan")
        return _plan(row)

    def all(self) -> list[Plan]:
        with self._engine.connect() as conn:
            return [_plan(r) for r in conn.execute(select(plans).order_by(plans.c.name)).mappings()]

    def subscriptions(self, tenant_id: str) -> list[Subscription]:
        """The tenant's subscription rows in the order they take effect."""
        query = (
            select(subscriptions)
            .where(subscriptions.c.tenant_id == tenant_id)
            .order_by(subscriptions.c.effective_from, subscriptions.c.id)
        )
        with self._engine.connect() as conn:
            return [
                Subscription(r.id, r.tenant_id, r.plan, _aware(r.effective_from))
                for r in conn.execute(query)
            ]

    def subscribe(
        self, tenant_id: str, plan_name: str | None, effective_from: datetime | None = None
    ) -> Subscription:
        """Put the tenant on ``plan_name`` (None: pay-as-you-go) from ``effective_from``.

        By default a change of plan takes effect when the current plan's
        period ends (a period is never cut short by a change); joining a plan
        from pay-as-you-go takes effect now. An explicit time applies as given
        but may not lie in the past: invoiced history is not rewritten.
        """
        if plan_name is not None:
            self.get(plan_name)  # 404 if unknown
        now = datetime.now(UTC)
        if effective_from is None:
            current = self.term_at(tenant_id, now)
            effective_from = current.ends if current is not None else now
        effective_from = _aware(effective_from)
        if effective_from < now.replace(microsecond=0):
            raise InvalidRequest("effective_from must not be in the past", param="effective_from")
        with self._engine.begin() as conn:
            inserted = conn.execute(
                subscriptions.insert().values(
                    tenant_id=tenant_id,
                    plan=plan_name,
                    effective_from=effective_from,
                    created_at=now,
                )
            ).inserted_primary_key
        assert inserted is not None
        return Subscription(int(inserted[0]), tenant_id, plan_name, effective_from)

    def timeline(
        self, tenant_id: str, start: datetime, end: datetime
    ) -> list[tuple[Subscription, datetime, datetime]]:
        """Each subscription row in force during [start, end), with when it is in force."""
        rows = self.subscriptions(tenant_id)
        spans = []
        for index, row in enumerate(rows):
            until = rows[index + 1].effective_from if index + 1 < len(rows) else end
            active_from, active_to = max(row.effective_from, start), min(until, end)
            if active_from < active_to:
                spans.append((row, active_from, active_to))
        return spans

    def term_at(self, tenant_id: str, moment: datetime) -> PlanTerm | None:
        """The plan period the tenant is in at ``moment``; None when pay-as-you-go."""
        rows = self.subscriptions(tenant_id)
        started = [r for r in rows if r.effective_from <= moment]
        if not started or started[-1].plan is None:
            return None
        current = started[-1]
        later = [r.effective_from for r in rows if r.effective_from > moment]
        until = later[0] if later else datetime.max.replace(tzinfo=UTC)
        plan = self.get(current.plan)  # type: ignore[arg-type]
        # The period containing ``moment``: start from its calendar start, cut to the row.
        _, calendar_start = period_bounds(plan.period, plan.timezone, moment)
        active_from = max(calendar_start, current.effective_from)
        return next(terms(plan, current.id, active_from, until))


def _plan(row: object) -> Plan:
    values = {k: v for k, v in dict(row).items() if k != "created_at"}  # type: ignore[call-overload]
    return Plan(**values)
