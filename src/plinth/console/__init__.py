"""The web console: server-rendered pages over :class:`plinth.services.Services`.

Mounted by ``app.create_app`` at ``/console`` (``/`` redirects there). Pages
are Jinja2 templates with autoescaping, charts are inline SVG drawn on the
server, and the one script (``static/console.js``, first-party, no library)
only adds copy buttons: ``pip install`` is the whole install.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from plinth.console import (
    audit,
    bench_reports,
    billing,
    dashboard,
    keys,
    knowledge,
    models,
    playground,
    request_log,
    signin,
    tenants,
    users,
)

POST = ["POST"]


async def _root(request: Request) -> Response:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return RedirectResponse(root + "/console/", status_code=303)


_pages: list[BaseRoute] = [
    Route("/", dashboard.dashboard),
    Route("/setup", signin.setup, methods=["GET", "POST"]),
    Route("/signin", signin.signin, methods=["GET", "POST"]),
    Route("/signout", signin.signout, methods=POST),
    Route("/language", signin.language, methods=POST),
    Route("/requests", request_log.requests_page),
    Route("/requests/{request_id}", request_log.request_detail),
    Route("/keys", keys.keys_page),
    Route("/keys", keys.create_key, methods=POST),
    Route("/keys/{key_id}", keys.key_page),
    Route("/keys/{key_id}/revoke", keys.revoke_key, methods=POST),
    Route("/keys/{key_id}/limits", keys.key_limits, methods=POST),
    Route("/keys/{key_id}/policy", keys.key_policy, methods=POST),
    Route("/tenants", tenants.tenants_page),
    Route("/tenants", tenants.create_tenant, methods=POST),
    Route("/tenants/{tenant_id}", tenants.tenant_page),
    Route("/tenants/{tenant_id}/invoices/{period}", billing.invoice),
    Route("/tenants/{tenant_id}/{action}", tenants.tenant_action, methods=POST),
    Route("/billing", billing.billing_page),
    Route("/billing/prices", billing.add_price, methods=POST),
    Route("/billing/plans", billing.add_plan, methods=POST),
    Route("/audit", audit.audit_page),
    Route("/users", users.users_page),
    Route("/users", users.create_user, methods=POST),
    Route("/users/{user_id}/{action}", users.user_action, methods=POST),
    Route("/models", models.models_page),
    Route("/models", models.create_deployment, methods=POST),
    Route("/models/{action}/{deployment_id:path}", models.deployment_action, methods=POST),
    Route("/knowledge", knowledge.knowledge_page),
    Route("/knowledge", knowledge.create_store, methods=POST),
    Route("/knowledge/{store_id}", knowledge.store_page),
    Route("/knowledge/{store_id}/upload", knowledge.upload, methods=POST),
    Route("/knowledge/{store_id}/delete", knowledge.delete_store, methods=POST),
    Route("/bench", bench_reports.bench_page),
    Route("/bench", bench_reports.start_run, methods=POST),
    Route("/bench/{run_id}", bench_reports.run_page),
    Route("/bench/{run_id}/report", bench_reports.run_report),
    Route("/bench/{run_id}/progress", bench_reports.run_progress),
    Route("/playground", playground.playground_page),
    Route("/playground/preview", playground.preview, methods=POST),
    Route("/playground/chat", playground.chat, methods=POST),
    Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
]

routes: list[BaseRoute] = [
    Route("/", _root, methods=["GET"]),
    Mount("/console", routes=_pages),
]
