"""Ollama's model routes: ``/api/tags``, ``/api/show``, ``/api/ps``, ``/api/version``, refusals.

``/api/tags`` lists every public model Plinth serves (as ``/v1/models``
does); ``/api/ps`` the local (llama.cpp) ones, which stay loaded while
Plinth runs (so they never expire). A model's ``digest`` identifies its name,
not a file; ``size`` is the GGUF file's for local models and 0 for upstream
ones. ``/api/version`` reports the Ollama API level these routes follow.

Plinth decides which models it serves (the local catalog, ``plinth.toml``,
``/admin/deployments``), so pulling, pushing, creating, copying and deleting
models through the Ollama API are refused with a 403 that says where to do it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth import __version__
from plinth.api.dialect import authenticated, json_answer
from plinth.api.http import parse_json, read_body
from plinth.engines.base import Json
from plinth.errors import InvalidRequest, PermissionDenied, error_body
from plinth.protocol.ollama import ShowRequest
from plinth.routing.state import DeploymentState
from plinth.services import Services

#: The Ollama API version whose routes and fields these follow.
OLLAMA_API_VERSION = "0.12.0"
NEVER_EXPIRES = "9999-12-31T23:59:59Z"
MANAGED_ELSEWHERE = (
    "Plinth decides which models it serves: add local models with 'plinth models', "
    "upstream ones in plinth.toml or with POST /admin/deployments. The Ollama API "
    "here can use models, not {action} them."
)


def ollama_error(exc: BaseException, request_id: str | None) -> Response:
    """Any exception as Ollama's ``{"error": message}``, with the status Plinth's routes give."""
    status, body = error_body(exc, request_id)
    return json_answer({"error": body["error"]["message"]}, request_id, status)


def resolve_model(svc: Services, name: str) -> str:
    """``name``, or without Ollama's default ``:latest`` tag if only that is served."""
    base = name.removesuffix(":latest")
    return base if not svc.router.has(name) and svc.router.has(base) else name


def _json(data: object, request_id: str) -> Response:
    return json_answer(data, request_id)


def _states(svc: Services, model: str) -> list[DeploymentState]:
    return [s for s in svc.router.states() if s.deployment.model == model]


def _local_path(state: DeploymentState) -> Path | None:
    if not state.deployment.is_local:
        return None
    path = state.engine.describe().get("path")
    return Path(path) if isinstance(path, str) and Path(path).is_file() else None


def _details(states: list[DeploymentState]) -> Json:
    local = any(_local_path(s) for s in states)
    return {
        "parent_model": "",
        "format": "gguf" if local else "",
        "family": "",
        "families": None,
        "parameter_size": "",
        "quantization_level": "",
    }


def _entry(svc: Services, model: str, started_at: int) -> Json:
    states = _states(svc, model)
    paths = [p for p in (_local_path(s) for s in states) if p is not None]
    return {
        "name": model,
        "model": model,
        "modified_at": datetime.fromtimestamp(started_at, UTC).isoformat().replace("+00:00", "Z"),
        "size": paths[0].stat().st_size if paths else 0,
        "digest": hashlib.sha256(model.encode()).hexdigest(),
        "details": _details(states),
    }


async def tags(request: Request) -> Response:
    caller = await authenticated(request, "ollama_tags", ollama_error)
    if isinstance(caller, Response):
        return caller
    svc, request_id, _ = caller
    started = svc.started_at
    models = [_entry(svc, name, started) for name, _ in svc.router.public_models()]
    return _json({"models": models}, request_id)


async def running(request: Request) -> Response:
    caller = await authenticated(request, "ollama_ps", ollama_error)
    if isinstance(caller, Response):
        return caller
    svc, request_id, _ = caller
    started = svc.started_at
    models = []
    for name, _ in svc.router.public_models():
        if any(_local_path(s) for s in _states(svc, name)):
            entry = _entry(svc, name, started)
            models.append({**entry, "expires_at": NEVER_EXPIRES, "size_vram": 0})
    return _json({"models": models}, request_id)


async def show(request: Request) -> Response:
    caller = await authenticated(request, "ollama_show", ollama_error)
    if isinstance(caller, Response):
        return caller
    svc, request_id, _ = caller
    try:
        body = parse_json(await read_body(request, svc.settings.max_body_bytes), ShowRequest)
        name = body.model or body.name
        if not name:
            raise InvalidRequest("Missing required parameter: 'model'", param="model")
        name = resolve_model(svc, name)
        kind = svc.router.kind(name)  # an unknown model is a 404
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return ollama_error(exc, request_id)
    states = _states(svc, name)
    entry = _entry(svc, name, svc.started_at)
    capabilities = ["embedding"] if kind == "embedding" else ["completion"]
    if kind == "chat" and any(not s.deployment.is_local for s in states):
        capabilities.append("tools")  # upstream chat APIs take tools; local templates vary
    engines = sorted({s.deployment.engine for s in states})
    return _json(
        {
            "modelfile": "",
            "parameters": "",
            "template": "",
            "details": entry["details"],
            "model_info": {"plinth.kind": kind, "plinth.engines": engines},
            "capabilities": capabilities,
            "modified_at": entry["modified_at"],
        },
        request_id,
    )


async def version(request: Request) -> Response:
    """Public, as Ollama's is: clients probe it before they have a key configured."""
    body = {"version": OLLAMA_API_VERSION, "plinth_version": __version__}
    return json_answer(body, None)


def _refusal(action: str) -> Callable[[Request], Awaitable[Response]]:
    async def refuse(request: Request) -> Response:
        caller = await authenticated(request, f"ollama_{action}", ollama_error)
        if isinstance(caller, Response):
            return caller
        _, request_id, _ = caller
        error = PermissionDenied(MANAGED_ELSEWHERE.format(action=action), code="managed_by_plinth")
        return ollama_error(error, request_id)

    return refuse


routes = [
    Route("/api/tags", tags, methods=["GET"]),
    Route("/api/ps", running, methods=["GET"]),
    Route("/api/show", show, methods=["POST"]),
    Route("/api/version", version, methods=["GET"]),
    Route("/api/pull", _refusal("pull"), methods=["POST"]),
    Route("/api/push", _refusal("push"), methods=["POST"]),
    Route("/api/create", _refusal("create"), methods=["POST"]),
    Route("/api/copy", _refusal("copy"), methods=["POST"]),
    Route("/api/delete", _refusal("delete"), methods=["DELETE"]),
    Route("/api/blobs/{digest:path}", _refusal("upload"), methods=["POST", "HEAD"]),
]
