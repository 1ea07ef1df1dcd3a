"""A subscribed tenant's invoice lines: fee, included usage and overage per plan period.

The invoice range is cut into parts that each lie in one plan period of one
subscription (a period can straddle two invoices when the invoice's time zone
is not the plan's). For each part, the ledger's cost in it is split into
what the period's included usage still covered (counting what the period
used before the part) and overage. The fee is on the invoice in which the
period starts. Usage outside any plan period is pay-as-you-go usage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from plinth.billing.accounts import period_bounds
from plinth.billing.plans import PlanStore, terms
from plinth.store.schema import usage


@dataclass(frozen=True)
class PlanLine:
    plan: str
    period: str  # the plan period's id in its time zone, e.g. "2026-11"
    starts: str  # the part of the period on this invoice
    ends: str
    fee_micros: int
    included_micros: int  # the period's included usage
    usage_micros: int  # the ledger's cost in this part, at the price book
    included_used_micros: int  # of which covered by the included usage
    overage_usage_micros: int  # of which past it
    overage_micros: int  # billed: overage usage × the plan's overage_percent / 100


def spent_between(engine: Engine, tenant_id: str, start: datetime, end: datetime) -> int:
    """Micro-units the ledger charged the tenant within [start, end)."""
    if start >= end:
        return 0
    query = select(func.coalesce(func.sum(usage.c.cost_micros), 0)).where(
        usage.c.tenant_id == tenant_id, usage.c.created_at >= start, usage.c.created_at < end
    )
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def plan_lines(engine: Engine, tenant_id: str, start: datetime, end: datetime) -> list[PlanLine]:
    store = PlanStore(engine)
    lines: list[PlanLine] = []
    for subscription, active_from, active_to in store.timeline(tenant_id, start, end):
        if subscription.plan is None:
            continue
        plan = store.get(subscription.plan)
        # Begin at the calendar period holding ``active_from`` so the first
        # period's included usage counts what it used before this invoice.
        _, calendar_start = period_bounds(plan.period, plan.timezone, active_from)
        first = max(calendar_start, subscription.effective_from)
        for term in terms(plan, subscription.id, first, active_to):
            billed_from, billed_to = max(term.starts, start), min(term.ends, end)
            if billed_from >= billed_to:
                continue
            before = spent_between(engine, tenant_id, term.starts, billed_from)
            used = spent_between(engine, tenant_id, billed_from, billed_to)
            included_used = min(used, max(0, plan.included_micros - before))
            overage_usage = used - included_used
            # Rounded up once per period: this part bills what the period's overage
            # so far costs less what its earlier parts (other invoices) billed.
            overage_before = max(0, before - plan.included_micros)
            overage = plan.overage_cost(overage_before + overage_usage) - plan.overage_cost(
                overage_before
            )
            lines.append(
                PlanLine(
                    plan=plan.name,
                    period=term.period_id,
                    starts=billed_from.isoformat(),
                    ends=billed_to.isoformat(),
                    fee_micros=plan.fee_micros if start <= term.starts < end else 0,
                    included_micros=plan.included_micros,
                    usage_micros=used,
                    included_used_micros=included_used,
                    overage_usage_micros=overage_usage,
                    overage_micros=overage,
                )
            )
    return lines


def invoice_timezone(engine: Engine, tenant_id: str) -> str:
    """The time zone of the tenant's latest plan (its periods then align); else UTC."""
    store = PlanStore(engine)
    for subscription in reversed(store.subscriptions(tenant_id)):
        if subscription.plan is not None:
            return store.get(subscription.plan).timezone
    return "UTC"
