"""First-run setup, sign-in, sign-out (here or everywhere) and the language switch."""

from __future__ import annotations

from starlette.responses import Response

from plinth.console.i18n import LANGUAGES
from plinth.console.security import SESSION_COOKIE, console_state
from plinth.console.web import LANG_COOKIE, PREFIX, Ctx, page
from plinth.errors import InvalidRequest, PlinthError
from plinth.store.console_users import validate_password

YEAR = 365 * 24 * 3600


def _safe_next(ctx: Ctx, raw: str | None) -> str:
    """Only a console path of this server: never an open redirect."""
    base = ctx.root + PREFIX
    if raw and raw.startswith(base + "/") and "//" not in raw and "\\" not in raw:
        return raw[len(base) :]
    return "/"


async def _start_session(ctx: Ctx, user_id: str, next_path: str) -> Response:
    state = console_state(ctx.request.app, ctx.svc)
    token, _ = await ctx.svc.db.run(state.sessions.create, user_id)
    ctx.set_cookies.append((SESSION_COOKIE, token, None))
    return ctx.redirect(next_path)


@page(anonymous=True)
async def setup(ctx: Ctx) -> Response:
    """The one-time creation of the first admin user, proven by the admin API key."""
    state = console_state(ctx.request.app, ctx.svc)
    if await ctx.svc.db.run(state.users.count) > 0:
        return ctx.redirect("/signin")
    errors: dict[str, str] = {}
    if ctx.request.method == "POST":
        form = ctx.form
        key = await ctx.svc.db.run(ctx.svc.keys.find_active, form.get("admin_key", "").strip())
        if key is None or not key.is_admin:
            errors["admin_key"] = ctx.tr.t("setup.bad_key")
        if form.get("password", "") != form.get("password2", ""):
            errors["password2"] = ctx.tr.t("err.password_mismatch")
        try:
            validate_password(form.get("password", ""))
        except InvalidRequest:
            errors["password"] = ctx.tr.t("err.password_short")
        if not errors:
            try:
                user = await ctx.svc.db.run(
                    state.users.create, form.get("name", "").strip(), "admin", form["password"]
                )
            except PlinthError as exc:
                errors[exc.param or "name"] = (
                    ctx.tr.t("err.user_name") if exc.param == "name" else exc.message
                )
            else:
                return await _start_session(ctx, user.id, "/")
    return ctx.render("setup.html", 400 if errors else 200, errors=errors, form=ctx.form)


@page(anonymous=True)
async def signin(ctx: Ctx) -> Response:
    state = console_state(ctx.request.app, ctx.svc)
    next_raw = ctx.request.query_params.get("next") or ctx.form.get("next")
    if ctx.request.method == "GET":
        if ctx.user is not None:
            return ctx.redirect(_safe_next(ctx, next_raw))
        if await ctx.svc.db.run(state.users.count) == 0:
            return ctx.redirect("/setup")
        return ctx.render("signin.html", error=None, name="", next=next_raw or "")
    name = ctx.form.get("name", "").strip()
    ip = ctx.request.client.host if ctx.request.client else "-"
    wait = state.limiter.retry_after(name, ip)
    if wait:
        message = ctx.tr.t("signin.limited", minutes=max(1, (wait + 59) // 60))
        return ctx.render("signin.html", 429, error=message, name=name, next=next_raw or "")
    user = await ctx.svc.db.run(state.users.verify, name, ctx.form.get("password", ""))
    if user is None:
        state.limiter.failed(name, ip)
        message = ctx.tr.t("signin.failed")
        return ctx.render("signin.html", 401, error=message, name=name, next=next_raw or "")
    state.limiter.succeeded(name)
    return await _start_session(ctx, user.id, _safe_next(ctx, next_raw))


@page()
async def signout(ctx: Ctx) -> Response:
    state = console_state(ctx.request.app, ctx.svc)
    assert ctx.user is not None
    if ctx.form.get("everywhere"):
        await ctx.svc.db.run(state.sessions.delete_all, ctx.user.id)
    else:
        await ctx.svc.db.run(state.sessions.delete, ctx.request.cookies.get(SESSION_COOKIE, ""))
    ctx.set_cookies.append((SESSION_COOKIE, "", 0))
    return ctx.redirect("/signin")


@page(anonymous=True)
async def language(ctx: Ctx) -> Response:
    lang = ctx.form.get("lang", "")
    if lang in LANGUAGES:
        ctx.set_cookies.append((LANG_COOKIE, lang, YEAR))
        if ctx.user is not None:
            state = console_state(ctx.request.app, ctx.svc)
            await ctx.svc.db.run(state.users.set_language, ctx.user.id, lang)
    return ctx.redirect(_safe_next(ctx, ctx.form.get("next")))
