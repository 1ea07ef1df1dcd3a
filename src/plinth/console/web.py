"""What every console page shares: the signed-in user, CSRF, rendering, links.

A page is an ``async def handler(ctx: Ctx) -> Response`` wrapped by
:func:`page`, which loads the session (or sends the browser to sign in),
refuses a role that may not see the page with a 404, checks the CSRF token of
every POST, and turns a ``PlinthError`` into the page's own error view.
Templates are Jinja2 with autoescaping on for everything, so text a user or a
model wrote is escaped wherever it appears.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from plinth.api.http import services
from plinth.console.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, negotiate, zone
from plinth.console.security import SESSION_COOKIE, console_state
from plinth.errors import NotFound, PlinthError
from plinth.services import Services
from plinth.store.console_users import ConsoleUser

CSRF_COOKIE = "plinth_csrf"
LANG_COOKIE = "plinth_lang"
PREFIX = "/console"
ROLE_RANK = {"viewer": 0, "tenant-admin": 1, "admin": 2}
#: Console forms are small; only the knowledge page's upload is multipart, with
#: at most this many files of at most ``files_max_bytes`` each. Forms are parsed
#: before anyone is signed in (the CSRF check needs them), so their size is
#: bounded by the declared Content-Length, which the HTTP parser enforces.
FORM_MAX_BYTES = 64 * 1024
FORM_MAX_FIELDS = 200
MAX_UPLOAD_FILES = 20


def form_limit(request: Request, svc: Services) -> int:
    """The largest body a console POST of this content type may declare."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return svc.settings.files_max_bytes * MAX_UPLOAD_FILES + FORM_MAX_BYTES
    return FORM_MAX_BYTES


_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class FormError(Exception):
    """Field errors of a form: ``{field: message}``, shown next to each field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


@dataclass
class Ctx:
    request: Request
    svc: Services
    user: ConsoleUser | None
    csrf: str
    tr: Translator
    form: dict[str, str] = field(default_factory=dict)
    set_cookies: list[tuple[str, str, int | None]] = field(default_factory=list)

    @property
    def root(self) -> str:
        # Inside the /console Mount, "root_path" includes "/console"; the proxy's
        # prefix (uvicorn's --root-path) is what Starlette keeps as "app_root_path".
        scope = self.request.scope
        return str(scope.get("app_root_path", scope.get("root_path", ""))).rstrip("/")

    def href(self, path: str = "/", **query: object) -> str:
        """A link inside the console, under the proxy's path prefix."""
        url = self.root + PREFIX + path
        params = {k: v for k, v in query.items() if v not in (None, "")}
        return url + ("?" + urlencode(params) if params else "")

    def redirect(self, path: str, **query: object) -> Response:
        return self.finish(RedirectResponse(self.href(path, **query), status_code=303))

    @property
    def tenant_scope(self) -> str | None:
        """The only tenant this user may see; None for admins (all of them)."""
        assert self.user is not None
        return None if self.user.is_admin else self.user.tenant_id

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        html = _env.get_template(template).render(
            ctx=self,
            t=self.tr.t,
            tr=self.tr,
            user=self.user,
            csrf=self.csrf,
            href=self.href,
            lang=self.tr.lang,
            languages=LANGUAGES,
            language_names=LANGUAGE_NAMES,
            path=self.request.url.path,
            **values,
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def finish(self, response: Response) -> Response:
        secure = self.request.url.scheme == "https"
        for name, value, max_age in self.set_cookies:
            response.set_cookie(
                name,
                value,
                max_age=max_age,
                path=(self.root + PREFIX) or "/",
                httponly=True,
                samesite="lax",
                secure=secure,
            )
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'"
        )
        return response


def validate(model: type[BaseModel], data: dict[str, Any], tr: Translator) -> Any:
    """The API's own request model, fed from a form; errors keyed by field."""
    cleaned = {k: v for k, v in data.items() if v not in ("", None)}
    try:
        return model.model_validate(cleaned)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "_"
            errors.setdefault(name, _pydantic_message(error, tr))
        raise FormError(errors) from None


def _pydantic_message(error: Any, tr: Translator) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "missing":
        return tr.t("err.required")
    if kind in ("greater_than_equal", "greater_than"):
        return tr.t("err.min", limit=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return tr.t("err.max", limit=ctx.get("le", ctx.get("lt")))
    if kind == "string_too_long":
        return tr.t("err.too_long", limit=ctx.get("max_length"))
    if kind == "string_too_short":
        return tr.t("err.required")
    if kind in ("decimal_parsing", "int_parsing", "float_parsing", "decimal_type"):
        return tr.t("err.number")
    if kind == "literal_error":
        return tr.t("err.choice", choices=ctx.get("expected", ""))
    if kind == "string_pattern_mismatch":
        return tr.t("err.pattern")
    return str(error["msg"])


def plinth_error_field(exc: PlinthError, tr: Translator) -> dict[str, str]:
    """A service's refusal, placed next to the field it names."""
    message = tr.t(f"code.{exc.code}") if exc.code and f"code.{exc.code}" in _codes() else None
    return {exc.param or "_": message or exc.message}


def _codes() -> set[str]:
    from plinth.console.catalog import MESSAGES

    return {k for k in MESSAGES if k.startswith("code.")}


Handler = Callable[[Ctx], Awaitable[Response]]


async def load_ctx(request: Request) -> Ctx:
    svc = services(request)
    state = console_state(request.app, svc)
    session = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        session = await svc.db.run(state.sessions.lookup, token)
    user = session.user if session else None
    cookies: list[tuple[str, str, int | None]] = []
    if session is not None:
        csrf = session.csrf
    else:
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        if len(csrf) < 32:
            csrf = secrets.token_urlsafe(32)
            cookies.append((CSRF_COOKIE, csrf, None))
    lang = request.cookies.get(LANG_COOKIE)
    if lang not in LANGUAGES:
        lang = user.language if user and user.language in LANGUAGES else None
    lang = lang or negotiate(request.headers.get("accept-language"))
    tz = zone(await state.tenant_timezone(user.tenant_id) if user and user.tenant_id else "UTC")
    ctx = Ctx(request, svc, user, csrf, Translator(lang, tz), set_cookies=cookies)
    return ctx


def page(*, role: str = "viewer", anonymous: bool = False) -> Callable[[Handler], Any]:
    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            ctx = await load_ctx(request)
            if request.method == "POST":
                limit = form_limit(request, ctx.svc)
                declared = request.headers.get("content-length")
                if declared is None or not declared.isdigit() or int(declared) > limit:
                    message = ctx.tr.t("err.too_large", limit=limit)
                    return ctx.render("error.html", 413, message=message)
                form = await request.form(
                    max_files=MAX_UPLOAD_FILES,
                    max_fields=FORM_MAX_FIELDS,
                    max_part_size=FORM_MAX_BYTES,
                )
                ctx.form = {k: v for k, v in form.items() if isinstance(v, str)}
                if not secrets.compare_digest(ctx.form.get("csrf", ""), ctx.csrf):
                    return ctx.render("error.html", 403, message=ctx.tr.t("err.csrf"))
            if not anonymous:
                if ctx.user is None:
                    state = console_state(request.app, ctx.svc)
                    if await ctx.svc.db.run(state.users.count) == 0:
                        return ctx.redirect("/setup")
                    return ctx.redirect("/signin", next=request.url.path)
                if ROLE_RANK[ctx.user.role] < ROLE_RANK[role]:
                    return not_found(ctx)
            try:
                return await handler(ctx)
            except NotFound:
                return not_found(ctx)
            except PlinthError as exc:
                return ctx.render("error.html", exc.status_code, message=exc.message)

        return endpoint

    return wrap


def not_found(ctx: Ctx) -> Response:
    return ctx.render("error.html", 404, message=ctx.tr.t("err.not_found"))
