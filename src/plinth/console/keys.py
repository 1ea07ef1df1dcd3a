"""API keys: create (the secret shown once), revoke, per-key limits and privacy policy.

Forms are validated with the admin API's own request models, so a value the
API refuses is refused here with the same rule, next to its field.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from plinth.api.admin import CreateKey, UpdateKey, set_key_policy
from plinth.billing import admin_ops
from plinth.billing.accounts import Limits
from plinth.billing.admin_ops import NewLimits
from plinth.billing.money import from_micros
from plinth.console.web import Ctx, FormError, page, plinth_error_field, validate
from plinth.errors import InvalidRequest, NotFound, PlinthError
from plinth.store.keys import ApiKey


async def _visible_keys(ctx: Ctx) -> list[ApiKey]:
    keys = await ctx.svc.db.run(ctx.svc.keys.list)
    scope = ctx.tenant_scope
    return [k for k in keys if scope is None or k.tenant_id == scope]


async def _key(ctx: Ctx) -> ApiKey:
    """The key in the URL, or a 404 when this user may not see it."""
    key = await ctx.svc.db.run(ctx.svc.keys.get, ctx.request.path_params["key_id"])
    if ctx.tenant_scope is not None and key.tenant_id != ctx.tenant_scope:
        raise NotFound("no such key")
    return key


async def _render_list(ctx: Ctx, status: int = 200, **values: Any) -> Response:
    tenants = await ctx.svc.db.run(ctx.svc.tenants.list)
    return ctx.render(
        "keys.html",
        status,
        keys=await _visible_keys(ctx),
        tenants=[t for t in tenants if ctx.tenant_scope in (None, t.id)],
        tenant_names={t.id: t.name for t in tenants},
        policies=sorted(ctx.svc.privacy.policies),
        errors=values.pop("errors", {}),
        form=values.pop("form", {}),
        **values,
    )


@page()
async def keys_page(ctx: Ctx) -> Response:
    return await _render_list(ctx)


@page(role="tenant-admin")
async def create_key(ctx: Ctx) -> Response:
    data: dict[str, Any] = {
        "name": ctx.form.get("name", "").strip(),
        "privacy_policy": ctx.form.get("privacy_policy"),
        "tenant": ctx.tenant_scope or ctx.form.get("tenant"),
        "admin": ctx.tenant_scope is None and ctx.form.get("admin") == "on",
    }
    try:
        body = validate(CreateKey, data, ctx.tr)
        if body.privacy_policy is not None:
            ctx.svc.privacy.check_policy_name(body.privacy_policy)
        tenant_id = None
        if body.tenant is not None:
            tenant_id = (await ctx.svc.db.run(ctx.svc.tenants.get, body.tenant)).id
        key, secret = await ctx.svc.db.run(
            ctx.svc.keys.create,
            body.name,
            admin=body.admin,
            privacy_policy=body.privacy_policy,
            tenant_id=tenant_id,
        )
    except FormError as exc:
        return await _render_list(ctx, 400, errors=exc.errors, form=ctx.form)
    except PlinthError as exc:
        errors = plinth_error_field(exc, ctx.tr)
        return await _render_list(ctx, 400, errors=errors, form=ctx.form)
    # The only time the secret is shown: this response, never stored, never again.
    return await _render_list(ctx, 201, created=key, secret=secret)


@page(role="tenant-admin")
async def revoke_key(ctx: Ctx) -> Response:
    key = await _key(ctx)
    await ctx.svc.db.run(ctx.svc.keys.revoke, key.id)
    ctx.svc.auth.forget(key.id)
    return ctx.redirect("/keys")


def _render_key(ctx: Ctx, key: ApiKey, status: int = 200, **values: Any) -> Response:
    values.setdefault("errors", {})
    values.setdefault("saved", False)
    return ctx.render(
        "key.html", status, key=key, policies=sorted(ctx.svc.privacy.policies), **values
    )


@page()
async def key_page(ctx: Ctx) -> Response:
    key = await _key(ctx)
    limits = await ctx.svc.db.run(ctx.svc.billing.limits.get, "key:" + key.id)
    return _render_key(ctx, key, limits=limits_form(limits))


@page(role="tenant-admin")
async def key_policy(ctx: Ctx) -> Response:
    """Change the key's privacy policy as ``PATCH /admin/keys/{id}`` does; empty: the tenant's."""
    key = await _key(ctx)
    limits = limits_form(await ctx.svc.db.run(ctx.svc.billing.limits.get, "key:" + key.id))
    try:
        body = validate(UpdateKey, {"privacy_policy": ctx.form.get("privacy_policy")}, ctx.tr)
        key = await set_key_policy(ctx.svc, key.id, body.privacy_policy)
    except FormError as exc:
        errors = {"policy." + k: v for k, v in exc.errors.items()}
        return _render_key(ctx, key, 400, limits=limits, errors=errors)
    except InvalidRequest as exc:
        errors = {"policy." + k: v for k, v in plinth_error_field(exc, ctx.tr).items()}
        return _render_key(ctx, key, 400, limits=limits, errors=errors)
    return _render_key(ctx, key, limits=limits, saved=True)


def limits_form(limits: Limits | None) -> dict[str, str]:
    if limits is None:
        return {"spend_period": "month", "timezone": "UTC"}
    values = {k: "" if v is None else str(v) for k, v in limits.as_json().items()}
    if limits.spend_micros is not None:
        values["spend"] = str(from_micros(limits.spend_micros))
    return values


async def save_limits(ctx: Ctx, subject: str) -> tuple[dict[str, str], bool]:
    """Validate the limits form as ``PUT /admin/limits`` does, and store it."""
    fields = (
        "spend",
        "spend_period",
        "timezone",
        "requests_per_minute",
        "tokens_per_minute",
        "max_concurrent",
    )
    body = validate(NewLimits, {f: ctx.form.get(f, "").strip() for f in fields}, ctx.tr)
    try:
        limits = await admin_ops.set_limits(ctx.svc, subject, body)
    except InvalidRequest as exc:
        if exc.param != "timezone":
            raise
        raise FormError({"timezone": ctx.tr.t("err.timezone")}) from exc
    return limits_form(limits), True


@page(role="tenant-admin")
async def key_limits(ctx: Ctx) -> Response:
    key = await _key(ctx)
    try:
        values, saved = await save_limits(ctx, "key:" + key.id)
    except FormError as exc:
        return _render_key(ctx, key, 400, limits=ctx.form, errors=exc.errors)
    return _render_key(ctx, key, limits=values, saved=saved)
