"""Tenants: privacy policy, plan, wallet (balance, top-up, credit limit), limits.

A tenant user sees its own tenant only: any other tenant's URL is a 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from plinth.api.admin import CreateTenant
from plinth.billing import admin_ops
from plinth.billing.accounts import spent_since
from plinth.billing.admin_ops import WalletEntry
from plinth.console.keys import limits_form, save_limits
from plinth.console.web import Ctx, FormError, page, plinth_error_field, validate
from plinth.errors import InvalidRequest, NotFound, PlinthError
from plinth.store.tenants import Tenant

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def _tenant(ctx: Ctx) -> Tenant:
    ref = ctx.request.path_params["tenant_id"]
    if ctx.tenant_scope is not None and ref != ctx.tenant_scope:
        raise NotFound("no such tenant")
    tenant = await ctx.svc.db.run(ctx.svc.tenants.get, ref)
    if tenant.id != ref:  # ids only in URLs (a name lookup could cross tenants)
        raise NotFound("no such tenant")
    return tenant


def _wallet(ctx: Ctx, tenant_id: str) -> dict[str, int | None]:
    funds = ctx.svc.billing.wallets.funds(tenant_id)
    spent = spent_since(ctx.svc.db.engine, "tenant:" + tenant_id, EPOCH)
    return {"funds": funds, "spent": spent, "balance": None if funds is None else funds - spent}


def _months(now: datetime, count: int = 12) -> list[str]:
    year, month, out = now.year, now.month, []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


async def _render(ctx: Ctx, tenant: Tenant, status: int = 200, **values: Any) -> Response:
    await ctx.svc.recorder.flush()
    svc = ctx.svc
    wallet = await svc.db.run(_wallet, ctx, tenant.id)
    limits = await svc.db.run(svc.billing.limits.get, "tenant:" + tenant.id)
    subs = await svc.db.run(svc.billing.plans.subscriptions, tenant.id)
    plans = await svc.db.run(svc.billing.plans.all)
    return ctx.render(
        "tenant.html",
        status,
        tenant=tenant,
        wallet=wallet,
        limits=values.pop("limits", limits_form(limits)),
        subscriptions=subs,
        plans=plans,
        policies=sorted(svc.privacy.policies),
        months=_months(datetime.now(ctx.tr.tz)),
        errors=values.pop("errors", {}),
        notice=values.pop("notice", None),
        **values,
    )


@page()
async def tenants_page(ctx: Ctx) -> Response:
    if ctx.tenant_scope is not None:
        return ctx.redirect(f"/tenants/{ctx.tenant_scope}")
    tenants = await ctx.svc.db.run(ctx.svc.tenants.list)
    return ctx.render(
        "tenants.html",
        tenants=tenants,
        errors={},
        form={},
        policies=sorted(ctx.svc.privacy.policies),
    )


@page(role="admin")
async def create_tenant(ctx: Ctx) -> Response:
    data = {
        "name": ctx.form.get("name", "").strip(),
        "privacy_policy": ctx.form.get("privacy_policy"),
    }
    try:
        body = validate(CreateTenant, data, ctx.tr)
        if body.privacy_policy is not None:
            ctx.svc.privacy.check_policy_name(body.privacy_policy)
        tenant = await ctx.svc.db.run(
            ctx.svc.tenants.create, body.name, privacy_policy=body.privacy_policy
        )
    except (FormError, PlinthError) as exc:
        errors = exc.errors if isinstance(exc, FormError) else plinth_error_field(exc, ctx.tr)
        tenants = await ctx.svc.db.run(ctx.svc.tenants.list)
        return ctx.render(
            "tenants.html",
            400,
            tenants=tenants,
            errors=errors,
            form=ctx.form,
            policies=sorted(ctx.svc.privacy.policies),
        )
    return ctx.redirect(f"/tenants/{tenant.id}")


@page()
async def tenant_page(ctx: Ctx) -> Response:
    return await _render(ctx, await _tenant(ctx))


@page(role="admin")
async def tenant_action(ctx: Ctx) -> Response:
    """One of the tenant's forms: policy, topup, credit, limits, plan."""
    tenant = await _tenant(ctx)
    action, svc, form = ctx.request.path_params["action"], ctx.svc, ctx.form
    try:
        if action == "policy":
            policy = form.get("privacy_policy") or None
            if policy is not None:
                svc.privacy.check_policy_name(policy)
            await svc.db.run(svc.tenants.set_privacy_policy, tenant.id, policy)
            svc.auth.clear()
            tenant = await svc.db.run(svc.tenants.get, tenant.id)
        elif action in ("topup", "credit"):
            body = validate(
                WalletEntry,
                {"amount": form.get("amount", "").strip(), "note": form.get("note")},
                ctx.tr,
            )
            kind = "topup" if action == "topup" else "credit_limit"
            await admin_ops.add_wallet_entry(svc, tenant.id, kind, body)
        elif action == "limits":
            await save_limits(ctx, "tenant:" + tenant.id)
        elif action == "plan":
            plan = form.get("plan") or None
            await svc.db.run(svc.billing.plans.subscribe, tenant.id, plan, None)
            svc.billing.forget()
        else:
            raise NotFound("no such form")
    except FormError as exc:
        extra = {"limits": form} if action == "limits" else {}
        return await _render(
            ctx, tenant, 400, errors={f"{action}.{k}": v for k, v in exc.errors.items()}, **extra
        )
    except InvalidRequest as exc:
        errors = {f"{action}.{k}": v for k, v in plinth_error_field(exc, ctx.tr).items()}
        return await _render(ctx, tenant, 400, errors=errors)
    return await _render(ctx, tenant, notice=ctx.tr.t("saved"))
