"""The request log: filter, search by request id, page back; one request's detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.responses import Response

from plinth.console.dashboard import RANGES, _names, choices
from plinth.console.web import Ctx, page
from plinth.errors import NotFound
from plinth.store import console_requests as log


def _cursor(raw: str | None) -> tuple[datetime, str] | None:
    if not raw or "|" not in raw:
        return None
    at, _, request_id = raw.partition("|")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC), request_id


@page()
async def requests_page(ctx: Ctx) -> Response:
    await ctx.svc.recorder.flush()
    params = ctx.request.query_params
    span = params.get("range", "7d")
    start = None
    if span in RANGES:
        start = datetime.now(UTC) - RANGES[span]
    else:
        span = "all"
    status = params.get("status") if params.get("status") in ("ok", "error") else None
    f = log.LogFilter(
        start=start,
        tenant_id=ctx.tenant_scope or (params.get("tenant") or None),
        key_id=params.get("key") or None,
        model=params.get("model") or None,
        deployment=params.get("deployment") or None,
        status=status,
        request_id=(params.get("q") or "").strip() or None,
    )
    before = _cursor(params.get("before"))
    rows, cursor = await ctx.svc.db.run(log.page, ctx.svc.db.engine, f, before=before)
    next_cursor = f"{cursor[0].astimezone(UTC).isoformat()}|{cursor[1]}" if cursor else None
    key_names, tenant_names = await _names(ctx)
    engine = ctx.svc.db.engine
    return ctx.render(
        "requests.html",
        rows=rows,
        f=f,
        span=span,
        ranges=[*RANGES, "all"],
        next_cursor=next_cursor,
        key_names=key_names,
        tenant_names=tenant_names,
        models=await ctx.svc.db.run(choices, engine, "model"),
        deployments=await ctx.svc.db.run(choices, engine, "deployment"),
        query={k: v for k, v in params.items() if k != "before"},
    )


@page()
async def request_detail(ctx: Ctx) -> Response:
    await ctx.svc.recorder.flush()
    request_id = ctx.request.path_params["request_id"]
    row = await ctx.svc.db.run(log.detail, ctx.svc.db.engine, request_id, ctx.tenant_scope)
    if row is None:
        raise NotFound("no such request")
    key_names, tenant_names = await _names(ctx)
    return ctx.render(
        "request.html",
        row=row,
        key_names=key_names,
        tenant_names=tenant_names,
        timedelta=timedelta,
    )
