"""Selection-bench reports: list runs, open the stored HTML report, start a run with progress.

A run started here is the CLI's ``plinth bench run`` against this server's own
``/v1``: the bench client is the same, and so are its requests (privacy guard,
budgets, ledger). It authenticates with an API key made for the run, named
``console bench <run id>``, in the user's tenant (so the tenant's privacy
policy applies and the tenant pays), and revoked when the run ends. Each
candidate carries its locality, so a local model's security/compliance score
comes from the data never leaving the machine (see ``bench.matrix``).

The bench client runs on a worker thread with its own event loop: it is HTTP
work, not database work, and it must not share the server's loop with the
requests it measures. Progress lives in memory (one process serves the
console); the run's row and results go through the database door.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response

from plinth.bench import analysis, report, runner
from plinth.bench.config import BenchConfig, Candidate, Profile
from plinth.bench.store import BenchStore, new_run_id
from plinth.bench.workloads import BUILTIN, load_workload
from plinth.console.identity import principal_of
from plinth.console.web import Ctx, page
from plinth.errors import InvalidRequest, NotFound, PlinthError
from plinth.services import Services

log = logging.getLogger(__name__)
# rag_qa needs a vector store set up first: the CLI's job.
WORKLOADS = tuple(name for name in BUILTIN if name != "rag_qa")
MAX_REQUESTS = 20
MAX_CANDIDATES = 6
_tasks: set[asyncio.Task[None]] = set()


def _progress(ctx: Ctx) -> dict[str, dict[str, Any]]:
    state = ctx.request.app.state
    if not hasattr(state, "bench_progress"):
        state.bench_progress = {}
    progress: dict[str, dict[str, Any]] = state.bench_progress
    return progress


def _store(ctx: Ctx) -> BenchStore:
    return BenchStore(ctx.svc.db.engine)


def _mine(ctx: Ctx, run: dict[str, Any]) -> bool:
    """Admins see every run; a tenant user only the runs started from their tenant."""
    scope = ctx.tenant_scope
    return scope is None or (run["config"].get("started_by") or {}).get("tenant_id") == scope


async def _run(ctx: Ctx) -> dict[str, Any]:
    run = await ctx.svc.db.run(_store(ctx).get, ctx.request.path_params["run_id"])
    if run is None or not _mine(ctx, run):
        raise NotFound("no such run")
    return run


def _chat_models(ctx: Ctx) -> list[str]:
    listed = ctx.svc.router.listed_models(ctx.tenant_scope)
    return sorted(name for name, kind, _ in listed if kind == "chat")


async def _list(ctx: Ctx, status: int = 200, error: str | None = None) -> Response:
    store = _store(ctx)
    runs = await ctx.svc.db.run(store.list)
    if ctx.tenant_scope is not None:
        full = [await ctx.svc.db.run(store.get, r["id"]) for r in runs]
        runs = [r for r, f in zip(runs, full, strict=True) if f is not None and _mine(ctx, f)]
    models = _chat_models(ctx)
    return ctx.render(
        "bench.html", status, runs=runs, models=models, workloads=WORKLOADS, error=error
    )


@page()
async def bench_page(ctx: Ctx) -> Response:
    return await _list(ctx)


@page()
async def run_page(ctx: Ctx) -> Response:
    run = await _run(ctx)
    progress = _progress(ctx).get(run["id"])
    return ctx.render("bench_run.html", run=run, progress=progress)


@page()
async def run_report(ctx: Ctx) -> Response:
    """The stored HTML report, framed by the run's page (this origin only, no scripts)."""
    run = await _run(ctx)
    if run["summary"] is None:
        raise NotFound("this run has no report")
    response = ctx.finish(HTMLResponse(report.render_html(run)))
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
    return response


@page()
async def run_progress(ctx: Ctx) -> Response:
    run = await _run(ctx)
    progress = _progress(ctx).get(run["id"]) or {"done": 0, "total": 0}
    return ctx.finish(JSONResponse({"status": run["status"], **progress}))


def _candidate(ctx: Ctx, model: str, policy: str | None) -> Candidate:
    states = [s for s in ctx.svc.router.states() if s.deployment.model == model]
    local = bool(states) and all(s.deployment.locality == "local" for s in states)
    first = states[0].deployment if states else None
    prices: dict[str, Any] = {}
    if first is not None and first.input_price_per_mtok is not None:
        prices = {
            "input_price": float(first.input_price_per_mtok),
            "output_price": float(first.output_price_per_mtok or 0),
            "currency": first.currency,
        }
    return Candidate(
        name=model,
        model=model,
        locality="local" if local else "cloud",
        privacy_policy=policy or ctx.svc.privacy.default_policy,
        **prices,
    )


def _own_v1(ctx: Ctx) -> str:
    """This server's /v1 at the socket the request arrived on: never the Host header, which
    the client writes (the run's key must not be sent wherever a header points)."""
    server = ctx.request.scope.get("server")
    if not server:
        raise InvalidRequest("This server's own address is unknown; run 'plinth bench' instead")
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in str(host) else host
    return f"{ctx.request.url.scheme}://{host}:{port}{ctx.root}/v1"


def _config(ctx: Ctx, chosen: list[str], policy: str | None) -> BenchConfig:
    served = set(_chat_models(ctx))
    models = [m for m in dict.fromkeys(chosen) if m]
    if not models or len(models) > MAX_CANDIDATES or not set(models) <= served:
        raise InvalidRequest(f"Choose 1 to {MAX_CANDIDATES} served models", param="models")
    workload = ctx.form.get("workload", "")
    if workload not in WORKLOADS:
        raise InvalidRequest("Choose a workload", param="workload")
    try:
        requests = int(ctx.form.get("requests", "5"))
    except ValueError:
        raise InvalidRequest("requests must be a number", param="requests") from None
    if not 1 <= requests <= MAX_REQUESTS:
        raise InvalidRequest(f"requests: 1 to {MAX_REQUESTS}", param="requests")
    return BenchConfig(
        name=ctx.form.get("name", "").strip()[:100] or None,
        base_url=_own_v1(ctx),
        candidates=[_candidate(ctx, m, policy) for m in models],
        workloads=[workload],
        profile=Profile(requests=requests),
        max_tokens=64,
        timeout_s=60,
    )


@page(role="tenant-admin")
async def start_run(ctx: Ctx) -> Response:
    assert ctx.user is not None
    principal = await principal_of(ctx)
    form = await ctx.request.form()  # cached by Starlette: the same form the CSRF check read
    chosen = [v for v in form.getlist("models") if isinstance(v, str)]
    try:
        config = _config(ctx, chosen, principal.privacy_policy)
    except PlinthError as exc:
        return await _list(ctx, 400, exc.message)
    run_id = new_run_id()
    key, secret = await ctx.svc.db.run(
        ctx.svc.keys.create, f"console bench {run_id}", tenant_id=ctx.user.tenant_id
    )
    config = config.model_copy(update={"api_key": secret})
    stored = config.model_dump(mode="json", exclude={"api_key"})
    stored["started_by"] = {"user": ctx.user.name, "tenant_id": ctx.user.tenant_id}
    await ctx.svc.db.run(_store(ctx).start, run_id, config.name, stored)
    workloads = [load_workload(w) for w in config.workloads]
    progress = {"done": 0, "total": runner.total_requests(config, workloads)}
    _progress(ctx)[run_id] = progress
    task = asyncio.get_running_loop().create_task(
        _measure(ctx.svc, run_id, config, progress, key.id)
    )
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return ctx.redirect(f"/bench/{run_id}")


async def _measure(
    svc: Services, run_id: str, config: BenchConfig, progress: dict[str, Any], key_id: str
) -> None:
    """Run the bench, store its results (or its failure), and revoke the run's key."""
    store = BenchStore(svc.db.engine)

    def tick() -> None:
        progress["done"] += 1

    try:
        points = await asyncio.to_thread(runner.run, config, tick)  # HTTP work, not database
        failed = [r for p in points for r in p.records if r.error is not None]
        total = sum(len(p.records) for p in points)
        if total and len(failed) == total:
            progress["error"] = f"every request failed, e.g. {failed[0].error}"
            await svc.db.run(store.finish, run_id, points, None, status="failed")
        else:
            summary = analysis.analyse(config, points)
            await svc.db.run(store.finish, run_id, points, summary)
    except Exception as exc:  # a background task: the failure is stored and logged, not lost
        log.exception("bench run %s failed", run_id)
        progress["error"] = f"{type(exc).__name__}: {exc}"
        await svc.db.run(store.finish, run_id, [], None, status="failed")
    finally:
        await svc.db.run(svc.keys.revoke, key_id)
        svc.auth.forget(key_id)
