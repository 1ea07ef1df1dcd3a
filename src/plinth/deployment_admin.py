"""Changing the deployments stored in the database: one set of checks and steps.

``/admin/deployments`` and the console's models page both change deployments
through these functions, so a value one refuses the other refuses with the
same rule, and both refresh the router the same way. Deployments from
``plinth.toml`` and the local catalog can only be changed where they are defined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from plinth.api.http import validation_error
from plinth.deployment import Deployment, api_key_env_refusal
from plinth.errors import AlreadyExists, Conflict, InvalidRequest, NotFound

if TYPE_CHECKING:
    from plinth.services import Services


def validate_deployment(svc: Services, data: dict[str, Any]) -> Deployment:
    """The deployment ``data`` describes, or the 400 that says which field is wrong."""
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


def check_editable(svc: Services, deployment_id: str) -> None:
    """Refuse (409) a deployment defined in plinth.toml or the local catalog."""
    state = svc.router.state(deployment_id)
    if state is not None and state.source != "api":
        where = "plinth.toml" if state.source == "config" else "the local model catalog"
        raise Conflict(
            f"Deployment '{deployment_id}' is defined in {where}; change it there", param="id"
        )


async def create_deployment(svc: Services, data: dict[str, Any]) -> Deployment:
    """Validate, store and start serving a new deployment."""
    deployment = validate_deployment(svc, data)
    if svc.router.state(deployment.id) is not None:
        raise AlreadyExists(f"A deployment '{deployment.id}' exists already", param="id")
    await svc.db.run(svc.deployments.store.add, deployment)
    await svc.deployments.refresh(force=True)
    if svc.router.state(deployment.id) is None:
        raise InvalidRequest(
            f"Deployment '{deployment.id}' was stored but cannot be served (the log says why)",
            param="id",
        )
    return deployment


async def update_deployment(
    svc: Services, deployment_id: str, changes: dict[str, Any]
) -> Deployment:
    """Apply ``changes`` to a database deployment, validated as a whole."""
    check_editable(svc, deployment_id)
    current = await svc.db.run(svc.deployments.store.get, deployment_id)
    if current is None:
        raise NotFound(f"No deployment '{deployment_id}'", param="id")
    if changes.get("id", deployment_id) != deployment_id:
        raise InvalidRequest("A deployment's id cannot change", param="id")
    updated = validate_deployment(svc, {**current.model_dump(), **changes})
    await svc.db.run(svc.deployments.store.replace, updated)
    await svc.deployments.refresh(force=True)
    return updated


async def delete_deployment(svc: Services, deployment_id: str) -> Deployment:
    check_editable(svc, deployment_id)
    removed = await svc.db.run(svc.deployments.store.remove, deployment_id)
    await svc.deployments.refresh(force=True)
    return removed
