"""``GET /v1/models`` and ``GET /v1/models/{model}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.http import json_response
from plinth.services import services


def _model_json(name: str, created: int) -> dict[str, object]:
    return {"id": name, "object": "model", "created": created, "owned_by": "plinth"}


async def list_models(request: Request) -> Response:
    svc = services(request)
    await svc.auth.authenticate(request)  # errors: the app's handler answers them
    created = svc.started_at
    data = [_model_json(name, created) for name, _ in svc.router.public_models()]
    return json_response({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    svc = services(request)
    await svc.auth.authenticate(request)
    name = request.path_params["model"]
    svc.router.kind(name)  # raises ModelNotFound
    return json_response(_model_json(name, svc.started_at))


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", get_model, methods=["GET"]),
]
