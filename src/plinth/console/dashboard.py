"""The overview: totals, charts over time and top lists for a filter."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import Engine, select
from starlette.responses import Response

from plinth.console.charts import line_chart
from plinth.console.web import Ctx, page
from plinth.store import console_stats as stats
from plinth.store.schema import usage_rollup

RANGES = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


def read_filter(ctx: Ctx, *, now: datetime | None = None) -> tuple[str, stats.Filter]:
    """The query's filter; a tenant user's tenant is forced, whatever the URL says."""
    params = ctx.request.query_params
    span = params.get("range", "7d")
    if span not in RANGES:
        span = "7d"
    end = (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(seconds=1)
    tenant = ctx.tenant_scope or (params.get("tenant") or None)
    # Ranges start on a whole UTC hour (24 h) or day (longer) and end now, so
    # every bucket they cover is read whole from the rollup.
    start = (end - RANGES[span]).replace(minute=0, second=0)
    if RANGES[span] > timedelta(hours=48):
        start = start.replace(hour=0)
    return span, stats.Filter(
        start=start,
        end=end,
        open_end=True,
        tenant_id=tenant,
        key_id=params.get("key") or None,
        model=params.get("model") or None,
        deployment=params.get("deployment") or None,
    )


def choices(engine: Engine, dim: str) -> list[str]:
    """Models or deployments that ever appeared in the ledger (from the rollup)."""
    query = (
        select(usage_rollup.c.value)
        .where(usage_rollup.c.dim == dim + "_day", usage_rollup.c.value != "")
        .distinct()
        .order_by(usage_rollup.c.value)
    )
    with engine.connect() as conn:
        return list(conn.scalars(query))


def _hourly_display(f: stats.Filter) -> bool:
    return f.end - f.start <= timedelta(hours=48)


def _points(
    ctx: Ctx, buckets: dict[datetime, stats.Sums], f: stats.Filter
) -> tuple[list[str], list[stats.Sums]]:
    """Buckets regrouped for display: hours for a day's range, else days in the user's zone."""
    hourly = _hourly_display(f)
    grouped: dict[datetime, stats.Sums] = defaultdict(dict)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    for moment, sums in buckets.items():
        local = moment.astimezone(ctx.tr.tz)
        key = local.replace(minute=0, second=0, microsecond=0)
        if not hourly:
            key = key.replace(hour=0)
        for name, value in sums.items():
            grouped[key][name] = grouped[key].get(name, 0) + value
    first = f.start.astimezone(ctx.tr.tz).replace(minute=0, second=0, microsecond=0)
    if not hourly:
        first = first.replace(hour=0)
    labels, rows, moment = [], [], first
    while moment < f.end:
        labels.append(ctx.tr.hour(moment) if hourly else ctx.tr.day(moment))
        rows.append(grouped.get(moment, {}))
        moment = (moment + step).astimezone(ctx.tr.tz)
        if not hourly:
            moment = moment.replace(hour=0)
    return labels, rows


def _charts(ctx: Ctx, labels: list[str], rows: list[stats.Sums]) -> list[Markup]:
    t = ctx.tr.t
    m = [stats.metrics(r) for r in rows]

    def col(name: str, scale: float = 1.0) -> list[float | None]:
        return [None if x[name] is None else float(x[name] or 0) * scale for x in m]

    return [
        line_chart(
            t("dash.chart.requests"),
            labels,
            {t("dash.requests"): col("requests"), t("dash.errors"): col("errors")},
        ),
        line_chart(
            t("dash.chart.tokens"),
            labels,
            {
                t("dash.input_tokens"): col("prompt_tokens"),
                t("dash.output_tokens"): col("completion_tokens"),
                t("dash.cached_tokens"): col("cached_tokens"),
            },
        ),
        line_chart(t("dash.chart.cost"), labels, {t("dash.cost"): col("cost_micros", 1e-6)}),
        line_chart(
            t("dash.chart.latency"),
            labels,
            {"p50": col("p50_ms"), "p95": col("p95_ms"), t("dash.ttft_avg"): col("ttft_avg_ms")},
            unit="ms",
        ),
    ]


async def _names(ctx: Ctx) -> tuple[dict[str, str], dict[str, str]]:
    keys = await ctx.svc.db.run(ctx.svc.keys.list)
    tenants = await ctx.svc.db.run(ctx.svc.tenants.list)
    scope = ctx.tenant_scope
    key_names = {k.id: k.name for k in keys if scope is None or k.tenant_id == scope}
    tenant_names = {t.id: t.name for t in tenants if scope is None or t.id == scope}
    return key_names, tenant_names


@page()
async def dashboard(ctx: Ctx) -> Response:
    await ctx.svc.recorder.flush()  # what this process served is on the page at once
    span, f = read_filter(ctx)
    engine = ctx.svc.db.engine
    totals = await ctx.svc.db.run(stats.totals, engine, f)
    # Days in a zone other than UTC are summed from hours; UTC days come whole.
    hourly = _hourly_display(f) or ctx.tr.tz.key != "UTC"
    buckets = await ctx.svc.db.run(stats.series, engine, f, hourly=hourly)
    labels, rows = _points(ctx, buckets, f)
    dims = ["model", "key", "deployment"] + (["tenant"] if ctx.tenant_scope is None else [])
    tops: dict[str, list[tuple[str | None, dict[str, Any]]]] = {}
    for dim in dims:
        ranked = await ctx.svc.db.run(stats.top, engine, f, dim)
        tops[dim] = [(value, stats.metrics(sums)) for value, sums in ranked]
    key_names, tenant_names = await _names(ctx)
    models = await ctx.svc.db.run(choices, engine, "model")
    deployments = await ctx.svc.db.run(choices, engine, "deployment")
    return ctx.render(
        "dashboard.html",
        span=span,
        ranges=list(RANGES),
        f=f,
        totals=stats.metrics(totals),
        charts=_charts(ctx, labels, rows),
        tops=tops,
        key_names=key_names,
        tenant_names=tenant_names,
        models=models,
        deployments=deployments,
    )
