"""``GET /health`` (liveness + models) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth import __version__
from plinth.api.http import json_response, services


async def health(request: Request) -> Response:
    svc = services(request)
    models = [{"id": name, "kind": kind} for name, kind in svc.router.public_models()]
    return json_response({"status": "ok", "version": __version__, "models": models})


async def metrics(request: Request) -> Response:
    return Response(services(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
