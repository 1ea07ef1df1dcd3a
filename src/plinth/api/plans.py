"""``/admin/plans`` and ``/admin/tenants/{tenant}/plan``: subscription plans.

Amounts go in and out as decimal strings in units of the billing currency.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.admin import admin_only
from plinth.api.http import json_response, parse_json, read_body
from plinth.billing import admin_ops
from plinth.billing.admin_ops import NewPlan
from plinth.billing.plans import Plan, Subscription
from plinth.protocol.common import WireModel
from plinth.services import Services


class PlanChoice(WireModel):
    plan: str | None  # None: back to pay-as-you-go
    effective_from: datetime | None = None  # default: when the current period ends


def plan_json(plan: Plan) -> dict[str, object]:
    return {"object": "plan", **plan.as_json()}


def subscription_json(row: Subscription) -> dict[str, object]:
    return {
        "object": "subscription",
        "id": row.id,
        "tenant_id": row.tenant_id,
        "plan": row.plan,
        "effective_from": row.effective_from.isoformat(),
    }


async def list_plans(request: Request, svc: Services) -> Response:
    rows = await svc.db.run(svc.billing.plans.all)
    return json_response({"object": "list", "data": [plan_json(p) for p in rows]})


async def create_plan(request: Request, svc: Services) -> Response:
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), NewPlan)
    plan = await admin_ops.create_plan(svc, body)
    return json_response(plan_json(plan), status=201)


async def show_plan(request: Request, svc: Services) -> Response:
    plan = await svc.db.run(svc.billing.plans.get, request.path_params["name"])
    return json_response(plan_json(plan))


async def subscribe(request: Request, svc: Services) -> Response:
    tenant = await svc.db.run(svc.tenants.get, request.path_params["tenant"])
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), PlanChoice)
    effective = body.effective_from
    if effective is not None and effective.tzinfo is None:
        effective = effective.replace(tzinfo=UTC)
    row = await svc.db.run(svc.billing.plans.subscribe, tenant.id, body.plan, effective)
    svc.billing.forget()
    return json_response(subscription_json(row))


async def subscriptions(request: Request, svc: Services) -> Response:
    tenant = await svc.db.run(svc.tenants.get, request.path_params["tenant"])
    rows = await svc.db.run(svc.billing.plans.subscriptions, tenant.id)
    return json_response({"object": "list", "data": [subscription_json(r) for r in rows]})


routes = [
    Route("/admin/plans", admin_only(list_plans), methods=["GET"]),
    Route("/admin/plans", admin_only(create_plan), methods=["POST"]),
    Route("/admin/plans/{name}", admin_only(show_plan), methods=["GET"]),
    Route("/admin/tenants/{tenant}/plan", admin_only(subscribe), methods=["PUT"]),
    Route("/admin/tenants/{tenant}/plan", admin_only(subscriptions), methods=["GET"]),
]
