"""The playground: chat with a served model, and preview what a deployment would receive.

Identity of a console chat: it goes through the real gateway (privacy guard,
budgets, routing, ledger) as a principal named after the console user —
``key_id = "console:<user id>"`` — in the user's tenant, under the tenant's
privacy policy (the server's default for an admin, who has no tenant). Its
ledger row is therefore billed to that tenant and findable by that key id.
Viewers may preview but not send: a chat spends the tenant's money.

The preview runs the privacy guard on the text the user typed and asks the
router for its plan, sending nothing: the browser gets back the user's own
text with placeholders where the policy would redact, and where the request
would be served.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse, Response, StreamingResponse

from plinth.api.http import new_request_id
from plinth.console.grounding import ground
from plinth.console.identity import principal_of
from plinth.console.knowledge import visible_stores
from plinth.console.web import Ctx, page
from plinth.errors import InvalidRequest, NotFound, PlinthError, as_plinth_error
from plinth.privacy.guard import Inspection
from plinth.protocol.chat import ChatCompletionRequest
from plinth.tokens import Estimate

Json = dict[str, Any]
MAX_TURNS = 50
log = logging.getLogger(__name__)


def _models(ctx: Ctx) -> list[str]:
    listed = ctx.svc.router.listed_models(ctx.tenant_scope)
    return sorted(name for name, kind, _ in listed if kind == "chat")


@page()
async def playground_page(ctx: Ctx) -> Response:
    principal = await principal_of(ctx)
    policy = principal.privacy_policy or ctx.svc.privacy.default_policy
    stores = await visible_stores(ctx) if ctx.svc.vector_stores is not None else []
    return ctx.render("playground.html", models=_models(ctx), policy=policy, stores=stores)


def chat_body(form: dict[str, str], *, stream: bool) -> ChatCompletionRequest:
    """The form as a chat request, validated by the API's own model (400s as the API's)."""
    try:
        turns = json.loads(form.get("messages") or "[]")
    except ValueError:
        raise InvalidRequest("messages is not JSON", param="messages") from None
    if not isinstance(turns, list) or len(turns) > MAX_TURNS:
        raise InvalidRequest(f"messages: a list of at most {MAX_TURNS} turns", param="messages")
    messages: list[Json] = []
    if (system := form.get("system", "").strip()) != "":
        messages.append({"role": "system", "content": system})
    messages += [
        {"role": str(t.get("role")), "content": t.get("content")}
        for t in turns
        if isinstance(t, dict)
    ]
    data: Json = {"model": form.get("model", ""), "messages": messages}
    for name, cast in (("temperature", float), ("max_tokens", int)):
        raw = form.get(name, "").strip()
        if raw:
            try:
                data[name] = cast(raw)
            except ValueError:
                raise InvalidRequest(f"{name} must be a number", param=name) from None
    if form.get("json_mode") == "on":
        data["response_format"] = {"type": "json_object"}
    if stream:
        data["stream"] = True
        data["stream_options"] = {"include_usage": True}
    try:
        return ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRequest(f"{where}: {first['msg']}", param=where) from None


def _segments(original: str, redacted: str | None, values: dict[str, str]) -> list[Json]:
    """The redacted text as ``[{text, placeholder}]``: only text the user typed, or a label."""
    if redacted is None:
        return [{"text": original, "placeholder": False}]
    pieces: list[Json] = []
    rest = redacted
    while rest:
        starts = [(rest.find(p), p) for p in values if rest.find(p) >= 0]
        if not starts:
            pieces.append({"text": rest, "placeholder": False})
            break
        at, name = min(starts)
        if at:
            pieces.append({"text": rest[:at], "placeholder": False})
        pieces.append({"text": name, "placeholder": True})
        rest = rest[at + len(name) :]
    return pieces


def _where(ctx: Ctx, body: Json, inspection: Inspection, tenant: str | None) -> Json:
    """The router's plan under the policy's constraint: first deployment and its locality."""
    localities = frozenset({"local"}) if inspection.action == "local_only" else None
    try:
        plan = ctx.svc.router.plan(
            body["model"],
            Estimate(body),
            localities=localities,  # type: ignore[arg-type]
            why_restricted=f"privacy policy '{inspection.policy}'",
            tenant_id=tenant,
        )
    except PlinthError as exc:
        return {"error": exc.message}
    first = plan[0]
    redacts = inspection.redacted_body is not None and first.deployment.locality == "cloud"
    return {
        "deployment": first.id,
        "locality": first.deployment.locality,
        "redacted": redacts,
        "fallbacks": [{"deployment": s.id, "locality": s.deployment.locality} for s in plan[1:]],
    }


@page()
async def preview(ctx: Ctx) -> Response:
    """What the chosen model's deployment would receive, under the user's policy; sends nothing."""
    principal = await principal_of(ctx)
    try:
        request = chat_body(ctx.form, stream=False)
    except PlinthError as exc:
        return ctx.finish(JSONResponse({"error": exc.message, "param": exc.param}, 400))
    body = request.engine_body()
    inspection = await ctx.svc.privacy.inspect_async(body, principal.privacy_policy)
    values = inspection.redactor.values if inspection.redactor else {}
    sent = inspection.redacted_body or body
    messages = []
    for original, shown in zip(body["messages"], sent["messages"], strict=True):
        text = original.get("content") if isinstance(original.get("content"), str) else ""
        redacted = shown.get("content") if shown is not original else None
        messages.append({"role": original["role"], "segments": _segments(text, redacted, values)})
    where = (
        {"error": ctx.tr.t("play.blocked")}
        if inspection.action == "block"
        else _where(ctx, body, inspection, principal.tenant_id)
    )
    if where.get("redacted") is False:
        # A local deployment (or no redaction): it receives the text as typed.
        messages = [
            {"role": m["role"], "segments": [{"text": t, "placeholder": False}]}
            for m, t in zip(
                messages, (str(o.get("content") or "") for o in body["messages"]), strict=True
            )
        ]
    result = {
        "policy": inspection.policy,
        "action": inspection.action,
        "found": inspection.counts,
        "messages": messages,
        "where": where,
    }
    return ctx.finish(JSONResponse(result))


@page(role="tenant-admin")
async def chat(ctx: Ctx) -> Response:
    """One streamed turn through the gateway, as NDJSON lines the page's script reads."""
    principal = await principal_of(ctx)
    try:
        request = chat_body(ctx.form, stream=True)
        if ctx.tenant_scope is not None and request.model not in _models(ctx):
            raise InvalidRequest(f"Model '{request.model}' is not served", param="model")
        form = await ctx.request.form()  # cached: the form the CSRF check read
        stores = [v for v in form.getlist("stores") if isinstance(v, str)]
        request, citations = await ground(ctx, request, stores)
    except PlinthError as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        return ctx.finish(JSONResponse({"error": exc.message, "param": exc.param}, status))
    acct = ctx.svc.gateway.open(new_request_id(), "chat.completions", request.model, principal)
    turn = _turn(ctx, acct, request, citations)
    return ctx.finish(StreamingResponse(turn, media_type="application/x-ndjson"))


def _line(data: Json) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode() + b"\n"


async def _turn(
    ctx: Ctx, acct: Any, request: ChatCompletionRequest, citations: list[Json]
) -> AsyncIterator[bytes]:
    started = time.monotonic()
    usage: Json | None = None
    if citations:
        yield _line({"citations": citations})
    try:
        async for chunk in ctx.svc.gateway.generate_stream(acct, request):
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield _line({"delta": text})
    except Exception as exc:  # the stream's boundary: the error goes to the page
        error = as_plinth_error(exc)
        if error is None:
            log.exception("console chat %s failed", acct.request_id)
        message = error.message if error is not None else "internal error"
        yield _line({"error": message, "request_id": acct.request_id})
        return
    yield _line(
        {
            "done": True,
            "request_id": acct.request_id,
            "usage": usage,
            "cost": ctx.tr.money(acct.cost_micros),
            "latency_ms": round(1000 * (time.monotonic() - started)),
            "deployment": acct.deployment,
            "locality": acct.locality,
        }
    )
