"""``GET /v1/models`` and ``GET /v1/models/{model}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.http import json_response, services


def _model_json(name: str, created: int, owned_by: str = "plinth") -> dict[str, object]:
    return {"id": name, "object": "model", "created": created, "owned_by": owned_by}


async def list_models(request: Request) -> Response:
    """Served models and the aliases the caller's tenant may use (``owned_by`` as a
    client of the aliased name expects it, e.g. "openai" for ``gpt-4o-mini``)."""
    svc = services(request)
    principal = await svc.auth.authenticate(request)  # errors: the app's handler answers them
    created = svc.started_at
    listed = svc.router.listed_models(principal.tenant_id)
    data = [_model_json(name, created, owner) for name, _, owner in listed]
    return json_response({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    svc = services(request)
    principal = await svc.auth.authenticate(request)
    name = request.path_params["model"]
    svc.router.kind(name, principal.tenant_id)  # raises ModelNotFound
    owners = {n: owner for n, _, owner in svc.router.listed_models(principal.tenant_id)}
    return json_response(_model_json(name, svc.started_at, owners.get(name, "plinth")))


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", get_model, methods=["GET"]),
]
