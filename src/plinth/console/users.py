"""Console users, for admins: create, reset a password, disable or enable."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from plinth.console.security import console_state
from plinth.console.web import Ctx, page, plinth_error_field
from plinth.errors import PlinthError
from plinth.store.console_users import ROLES


async def _render(ctx: Ctx, status: int = 200, **values: Any) -> Response:
    state = console_state(ctx.request.app, ctx.svc)
    users = await ctx.svc.db.run(state.users.list)
    tenants = await ctx.svc.db.run(ctx.svc.tenants.list)
    return ctx.render(
        "users.html",
        status,
        users=users,
        roles=ROLES,
        tenants=tenants,
        tenant_names={t.id: t.name for t in tenants},
        errors=values.pop("errors", {}),
        form=values.pop("form", {}),
        **values,
    )


@page(role="admin")
async def users_page(ctx: Ctx) -> Response:
    return await _render(ctx)


@page(role="admin")
async def create_user(ctx: Ctx) -> Response:
    state = console_state(ctx.request.app, ctx.svc)
    form = ctx.form
    if form.get("password", "") != form.get("password2", ""):
        return await _render(
            ctx, 400, errors={"password2": ctx.tr.t("err.password_mismatch")}, form=form
        )
    try:
        await ctx.svc.db.run(
            state.users.create,
            form.get("name", "").strip(),
            form.get("role", ""),
            form.get("password", ""),
            tenant_id=form.get("tenant") or None,
        )
    except PlinthError as exc:
        return await _render(ctx, 400, errors=plinth_error_field(exc, ctx.tr), form=form)
    return ctx.redirect("/users")


@page(role="admin")
async def user_action(ctx: Ctx) -> Response:
    state = console_state(ctx.request.app, ctx.svc)
    user_id, action = ctx.request.path_params["user_id"], ctx.request.path_params["action"]
    user = await ctx.svc.db.run(state.users.get, user_id)
    try:
        if action == "password":
            await ctx.svc.db.run(state.users.set_password, user.id, ctx.form.get("password", ""))
        elif action in ("disable", "enable"):
            assert ctx.user is not None
            if user.id == ctx.user.id:
                return await _render(ctx, 400, errors={"_": ctx.tr.t("users.not_self")})
            await ctx.svc.db.run(state.users.set_disabled, user.id, action == "disable")
        else:
            return ctx.redirect("/users")
    except PlinthError as exc:
        errors = {f"{user.id}.{k}": v for k, v in plinth_error_field(exc, ctx.tr).items()}
        return await _render(ctx, 400, errors=errors)
    return await _render(ctx, notice=ctx.tr.t("saved"))
