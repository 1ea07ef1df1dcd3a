"""Models and deployments: live state, prices, local engines; database deployments editable.

Every change goes through the admin API's own checks (:mod:`plinth.deployment_admin`:
the same validation, the same refusal of deployments defined in plinth.toml
or the local catalog) and the same refresh. Only admins change or test;
tenant users see the models and their state, without upstream URLs.

The "test" button sends one tiny chat through the gateway as the console
user (:mod:`plinth.console.identity`), pinned to that deployment: one attempt,
usable or not, past the response cache. Privacy, budgets and the breaker
apply as to any request, and it has a ledger row (linked from the result).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from starlette.responses import Response

from plinth import deployment_admin
from plinth.api.http import new_request_id
from plinth.console.identity import principal_of
from plinth.console.web import Ctx, page, plinth_error_field
from plinth.errors import InvalidRequest, NotFound, PlinthError
from plinth.protocol.chat import ChatCompletionRequest
from plinth.routing.state import DeploymentState

FIELDS = (
    "id",
    "model",
    "engine",
    "kind",
    "base_url",
    "api_key_env",
    "upstream_model",
    "locality",
    "region",
    "priority",
    "weight",
    "input_price_per_mtok",
    "output_price_per_mtok",
    "currency",
)
EDITABLE = (
    "locality",
    "region",
    "priority",
    "weight",
    "input_price_per_mtok",
    "output_price_per_mtok",
    "upstream_model",
    "base_url",
    "api_key_env",
)
TEST_BODY = {"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 8}


def _row(state: DeploymentState) -> dict[str, Any]:
    d = state.deployment
    done = state.requests + state.failures
    return {
        "id": state.id,
        "d": d,
        "source": state.source,
        "usable": state.usable(),
        "healthy": state.healthy,
        "health_error": state.last_health_error,
        "breaker": state.breaker.state,
        "ttft_ms": None if state.ttft_ewma_s is None else state.ttft_ewma_s * 1000,
        "error_rate": state.failures / done if done else None,
        "requests": state.requests,
    }


def _local_engines(ctx: Ctx) -> list[dict[str, Any]]:
    """Loaded local models with their context size and parallel slots, where the engine says."""
    rows = []
    for engine in ctx.svc.engines.all():
        options = getattr(engine, "options", None)
        slots = getattr(options, "parallel_slots", None)
        per_slot = getattr(options, "context_per_slot", None)
        rows.append(
            {
                "model": engine.model_id,
                "kind": engine.kind,
                "engine": engine.describe().get("engine", type(engine).__name__),
                "slots": slots,
                "context": slots * per_slot if slots and per_slot else None,
            }
        )
    return rows


async def _render(ctx: Ctx, status: int = 200, **values: Any) -> Response:
    scope = ctx.tenant_scope
    visible = {name for name, _, _ in ctx.svc.router.listed_models(scope)}
    models: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for state in ctx.svc.router.states():
        if scope is None or state.deployment.model in visible:
            models[state.deployment.model].append(_row(state))
    return ctx.render(
        "models.html",
        status,
        models=dict(sorted(models.items())),
        local=_local_engines(ctx),
        errors=values.pop("errors", {}),
        form=values.pop("form", {}),
        **values,
    )


@page()
async def models_page(ctx: Ctx) -> Response:
    return await _render(ctx)


def _posted(ctx: Ctx, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: ctx.form[n].strip() for n in names if ctx.form.get(n, "").strip() != ""}


@page(role="admin")
async def create_deployment(ctx: Ctx) -> Response:
    svc = ctx.svc
    try:
        if ctx.form.get("api_key", ""):
            raise InvalidRequest("API keys are never stored: use api_key_env", param="api_key_env")
        await deployment_admin.create_deployment(svc, _posted(ctx, FIELDS))
    except PlinthError as exc:
        return await _render(ctx, 400, errors=plinth_error_field(exc, ctx.tr), form=ctx.form)
    return ctx.redirect("/models")


@page(role="admin")
async def deployment_action(ctx: Ctx) -> Response:
    svc = ctx.svc
    action = ctx.request.path_params["action"]
    deployment_id = ctx.request.path_params["deployment_id"]
    state = svc.router.state(deployment_id)
    if state is None or action not in ("edit", "delete", "test"):
        raise NotFound("no such deployment")
    if action == "test":
        return await _render(ctx, tested=deployment_id, result=await _test(ctx, state))
    try:
        if action == "delete":
            await deployment_admin.delete_deployment(svc, deployment_id)
        else:
            changes = _posted(ctx, EDITABLE)
            await deployment_admin.update_deployment(svc, deployment_id, changes)
    except PlinthError as exc:
        errors = {"row:" + deployment_id: plinth_error_field(exc, ctx.tr).popitem()[1]}
        return await _render(ctx, exc.status_code, errors=errors)
    return ctx.redirect("/models")


async def _test(ctx: Ctx, state: DeploymentState) -> dict[str, Any]:
    """One tiny chat to this deployment: latency, tokens, and the answer or the error."""
    request = ChatCompletionRequest.model_validate({**TEST_BODY, "model": state.deployment.model})
    acct = ctx.svc.gateway.open(
        new_request_id(), "chat.completions", request.model, await principal_of(ctx)
    )
    started = time.perf_counter()
    try:
        answer = await ctx.svc.gateway.generate(acct, request, deployment_id=state.id)
    except Exception as exc:  # noqa: BLE001 - the test's boundary: shown, not raised
        message = exc.message if isinstance(exc, PlinthError) else f"{type(exc).__name__}: {exc}"
        await ctx.svc.gateway.wait_for_ledger_row(acct)  # the result links to the row
        return {
            "ok": False,
            "error": message,
            "latency_ms": 1000 * (time.perf_counter() - started),
            "request_id": acct.request_id,
        }
    choices = answer.get("choices") or [{}]
    text = (choices[0].get("message") or {}).get("content") or ""
    return {
        "ok": True,
        "latency_ms": 1000 * (time.perf_counter() - started),
        "usage": answer.get("usage") or {},
        "text": str(text)[:2000],
        "request_id": acct.request_id,
    }
