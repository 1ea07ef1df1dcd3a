"""``/admin/deployments``: see and change where public model names are served.

The checks and steps are :mod:`plinth.deployment_admin`'s, shared with the
console. Changes apply to this replica at once and reach the others within
``routing.refresh_interval_s``. Deployments from ``plinth.toml`` and the local
catalog are shown with their live state but can only be changed where they
are defined.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth import deployment_admin
from plinth.api.admin import admin_only
from plinth.api.http import json_response, load_json_object, read_body
from plinth.errors import InvalidRequest, NotFound
from plinth.services import Services


def _object(raw: bytes) -> dict[str, Any]:
    data = load_json_object(raw)  # bounded depth, no NaN, NUL or lone surrogates
    if "api_key" in data:
        raise InvalidRequest(
            "API keys are never stored: put the key in an environment variable of every "
            "Plinth replica and send its name as 'api_key_env'",
            param="api_key",
        )
    return data


def _snapshot(svc: Services, deployment_id: str) -> dict[str, object]:
    state = svc.router.state(deployment_id)
    if state is None:
        raise NotFound(f"No deployment '{deployment_id}'", param="id")
    return state.snapshot()


async def list_deployments(request: Request, svc: Services) -> Response:
    model = request.query_params.get("model")
    data = [
        s.snapshot() for s in svc.router.states() if model is None or s.deployment.model == model
    ]
    return json_response({"object": "list", "data": data})


async def get_deployment(request: Request, svc: Services) -> Response:
    return json_response(_snapshot(svc, request.path_params["deployment_id"]))


async def create_deployment(request: Request, svc: Services) -> Response:
    data = _object(await read_body(request, svc.settings.max_body_bytes))
    deployment = await deployment_admin.create_deployment(svc, data)
    return json_response(_snapshot(svc, deployment.id), status=201)


async def update_deployment(request: Request, svc: Services) -> Response:
    deployment_id = request.path_params["deployment_id"]
    deployment_admin.check_editable(svc, deployment_id)
    changes = _object(await read_body(request, svc.settings.max_body_bytes))
    await deployment_admin.update_deployment(svc, deployment_id, changes)
    return json_response(_snapshot(svc, deployment_id))


async def delete_deployment(request: Request, svc: Services) -> Response:
    removed = await deployment_admin.delete_deployment(svc, request.path_params["deployment_id"])
    return json_response({"id": removed.id, "object": "deployment", "deleted": True})


routes = [
    Route("/admin/deployments", admin_only(list_deployments), methods=["GET"]),
    Route("/admin/deployments", admin_only(create_deployment), methods=["POST"]),
    Route("/admin/deployments/{deployment_id:path}", admin_only(get_deployment), methods=["GET"]),
    Route(
        "/admin/deployments/{deployment_id:path}",
        admin_only(update_deployment),
        methods=["PATCH"],
    ),
    Route(
        "/admin/deployments/{deployment_id:path}",
        admin_only(delete_deployment),
        methods=["DELETE"],
    ),
]
