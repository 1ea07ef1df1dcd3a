"""``/admin/deployments``: see and change where public model names are served.

Changes apply to this replica at once and reach the others within
``routing.refresh_interval_s``. Deployments from ``plinth.toml`` and the local
catalog are shown with their live state but can only be changed where they
are defined.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.admin import admin_only
from plinth.api.http import json_response, load_json_object, read_body, validation_error
from plinth.deployment import Deployment, api_key_env_refusal
from plinth.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
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


def _validate(svc: Services, data: dict[str, Any]) -> Deployment:
    try:
        deployment = Deployment.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    allowed = svc.settings.routing.api_key_env_allow
    refusal = api_key_env_refusal(deployment.api_key_env, allowed)
    if refusal:
        raise InvalidRequest(
            refusal[0].upper() + refusal[1:], param="api_key_env", code="api_key_env_not_allowed"
        )
    return deployment


def _snapshot(svc: Services, deployment_id: str) -> dict[str, object]:
    state = svc.router.state(deployment_id)
    if state is None:
        raise NotFound(f"No deployment '{deployment_id}'", param="id")
    return state.snapshot()


def _editable(svc: Services, deployment_id: str) -> None:
    state = svc.router.state(deployment_id)
    if state is not None and state.source != "api":
        where = "plinth.toml" if state.source == "config" else "the local model catalog"
        raise Conflict(
            f"Deployment '{deployment_id}' is defined in {where}; change it there", param="id"
        )


async def list_deployments(request: Request, svc: Services) -> Response:
    model = request.query_params.get("model")
    data = [
        s.snapshot() for s in svc.router.states() if model is None or s.deployment.model == model
    ]
    return json_response({"object": "list", "data": data})


async def get_deployment(request: Request, svc: Services) -> Response:
    return json_response(_snapshot(svc, request.path_params["deployment_id"]))


async def create_deployment(request: Request, svc: Services) -> Response:
    deployment = _validate(svc, _object(await read_body(request, svc.settings.max_body_bytes)))
    if svc.router.state(deployment.id) is not None:
        raise AlreadyExists(f"A deployment '{deployment.id}' exists already", param="id")
    await svc.db.run(svc.deployments.store.add, deployment)
    await svc.deployments.refresh(force=True)
    if svc.router.state(deployment.id) is None:
        raise InvalidRequest(
            f"Deployment '{deployment.id}' was stored but cannot be served (the log says why)",
            param="id",
        )
    return json_response(_snapshot(svc, deployment.id), status=201)


async def update_deployment(request: Request, svc: Services) -> Response:
    deployment_id = request.path_params["deployment_id"]
    _editable(svc, deployment_id)
    current = await svc.db.run(svc.deployments.store.get, deployment_id)
    if current is None:
        raise NotFound(f"No deployment '{deployment_id}'", param="id")
    changes = _object(await read_body(request, svc.settings.max_body_bytes))
    if changes.get("id", deployment_id) != deployment_id:
        raise InvalidRequest("A deployment's id cannot change", param="id")
    updated = _validate(svc, {**current.model_dump(), **changes})
    await svc.db.run(svc.deployments.store.replace, updated)
    await svc.deployments.refresh(force=True)
    return json_response(_snapshot(svc, deployment_id))


async def delete_deployment(request: Request, svc: Services) -> Response:
    deployment_id = request.path_params["deployment_id"]
    _editable(svc, deployment_id)
    removed = await svc.db.run(svc.deployments.store.remove, deployment_id)
    await svc.deployments.refresh(force=True)
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
