"""Billing: the price book with its versions, plans, and invoices per tenant and month."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from plinth.billing import admin_ops
from plinth.billing.admin_ops import NewPlan, NewPrice
from plinth.billing.invoice_render import to_csv as invoice_csv
from plinth.billing.invoice_render import to_html as invoice_html
from plinth.billing.invoices import build_invoice
from plinth.console.tenants import _tenant
from plinth.console.web import Ctx, FormError, page, plinth_error_field, validate
from plinth.errors import InvalidRequest, NotFound, PlinthError

PRICE_FIELDS = (
    "model",
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "per_request",
    "per_second",
    "storage_per_gb_month",
)
# The price book's refusals by the field they name, as the console says them.
PRICE_REFUSALS = {"model": "err.storage_price", "storage_per_gb_month": "err.storage_only"}
PLAN_FIELDS = ("name", "period", "timezone", "fee", "included", "overage", "overage_percent")


async def _render(ctx: Ctx, status: int = 200, **values: Any) -> Response:
    prices = await ctx.svc.db.run(ctx.svc.billing.prices.all)
    plans = await ctx.svc.db.run(ctx.svc.billing.plans.all)
    tenants = await ctx.svc.db.run(ctx.svc.tenants.list)
    by_model: dict[str, list[Any]] = {}
    for price in sorted(prices, key=lambda p: (p.model, p.effective_from)):
        by_model.setdefault(price.model, []).append(price)
    return ctx.render(
        "billing.html",
        status,
        by_model=by_model,
        plans=plans,
        tenants=[t for t in tenants if ctx.tenant_scope in (None, t.id)],
        errors=values.pop("errors", {}),
        form=values.pop("form", {}),
        **values,
    )


@page()
async def billing_page(ctx: Ctx) -> Response:
    return await _render(ctx)


@page(role="admin")
async def add_price(ctx: Ctx) -> Response:
    data = {f: ctx.form.get(f, "").strip() for f in PRICE_FIELDS}
    try:
        body = validate(NewPrice, data, ctx.tr)
        await admin_ops.add_price(ctx.svc, body)
    except InvalidRequest as exc:  # the price book's rule, said in the user's language
        message = PRICE_REFUSALS.get(exc.param or "")
        if message is None:
            raise
        return await _render(
            ctx, 400, errors={f"price.{exc.param}": ctx.tr.t(message)}, form=ctx.form
        )
    except FormError as exc:
        return await _render(
            ctx, 400, errors={f"price.{k}": v for k, v in exc.errors.items()}, form=ctx.form
        )
    return ctx.redirect("/billing")


@page(role="admin")
async def add_plan(ctx: Ctx) -> Response:
    data = {f: ctx.form.get(f, "").strip() for f in PLAN_FIELDS}
    try:
        body = validate(NewPlan, data, ctx.tr)
        try:
            await admin_ops.create_plan(ctx.svc, body)
        except InvalidRequest as exc:
            if exc.param != "timezone":
                raise
            raise FormError({"timezone": ctx.tr.t("err.timezone")}) from None
    except FormError as exc:
        return await _render(
            ctx, 400, errors={f"plan.{k}": v for k, v in exc.errors.items()}, form=ctx.form
        )
    except PlinthError as exc:
        errors = {f"plan.{k}": v for k, v in plinth_error_field(exc, ctx.tr).items()}
        return await _render(ctx, 400, errors=errors, form=ctx.form)
    return ctx.redirect("/billing")


@page()
async def invoice(ctx: Ctx) -> Response:
    tenant = await _tenant(ctx)
    period = ctx.request.path_params["period"]
    if not re.fullmatch(r"\d{4}-\d{2}", period):
        raise NotFound("no such period")
    await ctx.svc.recorder.flush()
    built = await ctx.svc.db.run(
        build_invoice, ctx.svc.db.engine, tenant.id, tenant.name, period, None
    )
    fmt = ctx.request.query_params.get("format")
    safe_name = f"invoice-{tenant.id}-{period}"
    if fmt == "csv":
        response = Response(invoice_csv(built), media_type="text/csv")
    elif fmt == "json":
        import json

        response = Response(
            json.dumps(built.as_json(), ensure_ascii=False, indent=2), media_type="application/json"
        )
    elif fmt == "html":
        response = Response(invoice_html(built), media_type="text/html")
    else:
        return ctx.render(
            "invoice.html",
            tenant=tenant,
            period=period,
            invoice=built.as_json(),
            fmt_base=f"/tenants/{tenant.id}/invoices/{period}",
        )
    extension = {"csv": "csv", "json": "json", "html": "html"}[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="{safe_name}.{extension}"'
    return ctx.finish(response)
