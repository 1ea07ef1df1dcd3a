"""Admin-only routes: ``/admin/keys``, ``/admin/usage``, ``/admin/audit``, ``/admin/tenants``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import get_args

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.http import json_response, parse_json, read_body, services
from plinth.errors import InvalidRequest, NotFound
from plinth.protocol.common import WireModel
from plinth.reporting import parse_since, to_csv
from plinth.services import Services
from plinth.store.keys import ApiKey
from plinth.store.usage import GroupBy

Handler = Callable[[Request, Services], Awaitable[Response]]


def admin_only(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The route, for admin keys only (errors are answered by the app's one handler)."""

    async def endpoint(request: Request) -> Response:
        svc = services(request)
        await svc.auth.authenticate(request, admin=True)
        return await handler(request, svc)

    return endpoint


class CreateKey(WireModel):
    name: str = Field(min_length=1, max_length=200)
    admin: bool = False
    privacy_policy: str | None = Field(None, min_length=1, max_length=100)
    tenant: str | None = Field(None, min_length=1, max_length=200, description="Id or name.")


class UpdateKey(WireModel):
    """A key's changeable settings; a field left out is left as it is."""

    privacy_policy: str | None = Field(
        None, min_length=1, max_length=100, description="null: the tenant's policy."
    )


class CreateTenant(WireModel):
    name: str = Field(min_length=1, max_length=200)
    privacy_policy: str | None = Field(None, min_length=1, max_length=100)


class UpdateTenant(WireModel):
    privacy_policy: str | None = Field(None, min_length=1, max_length=100)


async def create_key(request: Request, svc: Services) -> Response:
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), CreateKey)
    if body.privacy_policy is not None:
        svc.privacy.check_policy_name(body.privacy_policy)
    tenant_id = None
    if body.tenant is not None:
        tenant_id = (await svc.db.run(svc.tenants.get, body.tenant)).id
    key, plaintext = await svc.db.run(
        svc.keys.create,
        body.name,
        admin=body.admin,
        privacy_policy=body.privacy_policy,
        tenant_id=tenant_id,
    )
    # The only time the secret is ever shown.
    return json_response({**key.as_json(), "key": plaintext}, status=201)


async def list_keys(request: Request, svc: Services) -> Response:
    keys = await svc.db.run(svc.keys.list)
    return json_response({"object": "list", "data": [k.as_json() for k in keys]})


async def revoke_key(request: Request, svc: Services) -> Response:
    key = await svc.db.run(svc.keys.revoke, request.path_params["key_id"])
    svc.auth.forget(key.id)
    return json_response(key.as_json())


async def set_key_policy(svc: Services, key_id: str, policy: str | None) -> ApiKey:
    """Change a key's privacy policy (None: its tenant's), checked as at creation,
    and drop the key from the auth cache so its next request obeys the new one."""
    if policy is not None:
        svc.privacy.check_policy_name(policy)
    key = await svc.db.run(svc.keys.set_privacy_policy, key_id, policy)
    svc.auth.forget(key.id)
    return key


async def update_key(request: Request, svc: Services) -> Response:
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), UpdateKey)
    key_id = request.path_params["key_id"]
    if "privacy_policy" in body.model_fields_set:
        key = await set_key_policy(svc, key_id, body.privacy_policy)
    else:
        key = await svc.db.run(svc.keys.get, key_id)  # nothing to change; 404 if unknown
    return json_response(key.as_json())


async def usage_summary(request: Request, svc: Services) -> Response:
    by = request.query_params.get("by", "model")
    if by not in get_args(GroupBy):
        raise InvalidRequest("by must be one of: key, model, day", param="by")
    since = parse_since(request.query_params.get("since"))
    await svc.recorder.flush()  # what this process served is readable at once
    rows = await svc.db.run(svc.usage.summary, by, since=since)  # type: ignore[arg-type]
    if request.query_params.get("format") == "csv":
        return Response(to_csv(rows), media_type="text/csv")
    return json_response({"object": "list", "by": by, "data": rows})


def _limit(request: Request, default: int = 100, most: int = 10_000) -> int:
    """The ``limit`` query parameter of a listing."""
    try:
        limit = int(request.query_params.get("limit", str(default)))
    except ValueError:
        raise InvalidRequest("limit must be an integer", param="limit") from None
    if not 1 <= limit <= most:
        raise InvalidRequest(f"limit must be between 1 and {most}", param="limit")
    return limit


async def usage_requests(request: Request, svc: Services) -> Response:
    limit = _limit(request)
    since = parse_since(request.query_params.get("since"))
    await svc.recorder.flush()
    rows = await svc.db.run(svc.usage.rows, since=since, limit=limit)
    return json_response({"object": "list", "data": rows})


async def usage_request(request: Request, svc: Services) -> Response:
    await svc.recorder.flush()
    row = await svc.db.run(svc.usage.get, request.path_params["request_id"])
    if row is None:
        raise NotFound("No ledger row for that request id", param="request_id")
    return json_response(row)


async def privacy_audit(request: Request, svc: Services) -> Response:
    limit = _limit(request)
    action = request.query_params.get("action")
    if action is not None and action not in ("allow", "redact", "local_only", "block"):
        raise InvalidRequest(
            "action must be one of: allow, redact, local_only, block", param="action"
        )
    since = parse_since(request.query_params.get("since"))
    await svc.recorder.flush()
    rows = await svc.db.run(svc.audit.rows, since=since, limit=limit, action=action)
    return json_response({"object": "list", "data": rows})


async def list_tenants(request: Request, svc: Services) -> Response:
    tenants = await svc.db.run(svc.tenants.list)
    return json_response({"object": "list", "data": [t.as_json() for t in tenants]})


async def create_tenant(request: Request, svc: Services) -> Response:
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), CreateTenant)
    if body.privacy_policy is not None:
        svc.privacy.check_policy_name(body.privacy_policy)
    tenant = await svc.db.run(svc.tenants.create, body.name, privacy_policy=body.privacy_policy)
    return json_response(tenant.as_json(), status=201)


async def update_tenant(request: Request, svc: Services) -> Response:
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), UpdateTenant)
    if body.privacy_policy is not None:
        svc.privacy.check_policy_name(body.privacy_policy)
    tenant = await svc.db.run(
        svc.tenants.set_privacy_policy, request.path_params["tenant"], body.privacy_policy
    )
    svc.auth.clear()  # keys pick up their tenant's new policy at once
    return json_response(tenant.as_json())


routes = [
    Route("/admin/keys", admin_only(list_keys), methods=["GET"]),
    Route("/admin/keys", admin_only(create_key), methods=["POST"]),
    Route("/admin/keys/{key_id}", admin_only(update_key), methods=["PATCH"]),
    Route("/admin/keys/{key_id}", admin_only(revoke_key), methods=["DELETE"]),
    Route("/admin/usage", admin_only(usage_summary), methods=["GET"]),
    Route("/admin/audit", admin_only(privacy_audit), methods=["GET"]),
    Route("/admin/tenants", admin_only(list_tenants), methods=["GET"]),
    Route("/admin/tenants", admin_only(create_tenant), methods=["POST"]),
    Route("/admin/tenants/{tenant}", admin_only(update_tenant), methods=["PATCH"]),
    Route("/admin/usage/requests", admin_only(usage_requests), methods=["GET"]),
    Route("/admin/usage/requests/{request_id}", admin_only(usage_request), methods=["GET"]),
]
