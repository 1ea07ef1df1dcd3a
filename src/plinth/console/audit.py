"""The privacy audit: filters, and entity types and actions over time."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from starlette.responses import Response

from plinth.console.charts import bar_chart
from plinth.console.dashboard import RANGES, _names
from plinth.console.web import Ctx, page
from plinth.store import console_audit as audit

ACTIONS = ("allow", "redact", "local_only", "block")


def _days(
    ctx: Ctx, start: datetime, hours: dict[datetime, Counter[str]]
) -> tuple[list[str], dict[datetime, Counter[str]]]:
    by_day: dict[datetime, Counter[str]] = {}
    for hour, counts in hours.items():
        day = hour.astimezone(ctx.tr.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        by_day.setdefault(day, Counter()).update(counts)
    return [], by_day


@page()
async def audit_page(ctx: Ctx) -> Response:
    await ctx.svc.recorder.flush()
    params = ctx.request.query_params
    span = params.get("range", "7d")
    span = span if span in RANGES else "7d"
    now = datetime.now(UTC)
    f = audit.AuditFilter(
        start=now - RANGES[span],
        tenant_id=ctx.tenant_scope or (params.get("tenant") or None),
        key_id=params.get("key") or None,
        action=params.get("action") if params.get("action") in ACTIONS else None,
        entity=(params.get("entity") or "").strip().upper() or None,
    )
    engine = ctx.svc.db.engine
    rows = await ctx.svc.db.run(audit.recent, engine, f)
    actions, entities = await ctx.svc.db.run(audit.breakdown, engine, f)
    _, action_days = _days(ctx, f.start, actions)
    _, entity_days = _days(ctx, f.start, entities)
    first = f.start.astimezone(ctx.tr.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    days = []
    while first <= now:
        days.append(first)
        first = (first + timedelta(days=1)).astimezone(ctx.tr.tz).replace(hour=0)
    labels = [ctx.tr.day(d) for d in days]
    entity_types = sorted({e for c in entity_days.values() for e in c})
    charts = [
        bar_chart(
            ctx.tr.t("audit.chart.actions"),
            labels,
            {
                ctx.tr.t(f"action.{a}"): [float(action_days.get(d, Counter())[a]) for d in days]
                for a in ACTIONS
            },
        ),
        bar_chart(
            ctx.tr.t("audit.chart.entities"),
            labels,
            {e: [float(entity_days.get(d, Counter())[e]) for d in days] for e in entity_types[:4]},
        ),
    ]
    totals: Counter[str] = Counter()
    for counts in entity_days.values():
        totals.update(counts)
    key_names, tenant_names = await _names(ctx)
    return ctx.render(
        "audit.html",
        rows=rows,
        f=f,
        span=span,
        ranges=list(RANGES),
        actions=ACTIONS,
        charts=charts,
        entity_totals=totals.most_common(),
        key_names=key_names,
        tenant_names=tenant_names,
    )
