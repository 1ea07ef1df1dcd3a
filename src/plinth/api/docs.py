"""``GET /openapi.json`` and the human-readable docs at ``/docs``.

Both are public: they describe the API, not anything it holds. The document
is built from the app's own routes on first request and kept on the app's
state. ``/docs`` is a vendored Swagger UI (``static/docs/VENDORED.md``) served
from package data, so it works with no network.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from plinth.api.openapi import build_document

ASSETS = Path(__file__).parent / "static" / "docs"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Plinth API</title>
<link rel="stylesheet" href="{root}/docs/static/swagger-ui.css">
</head>
<body data-openapi-url="{root}/openapi.json">
<div id="swagger-ui"></div>
<script src="{root}/docs/static/swagger-ui-bundle.js"></script>
<script src="{root}/docs/static/docs.js"></script>
</body>
</html>
"""

# Swagger UI sets style attributes from script; nothing else may come from elsewhere.
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'"
)


async def openapi_json(request: Request) -> Response:
    cached: bytes | None = getattr(request.app.state, "openapi_document", None)
    if cached is None:
        cached = json.dumps(build_document(request.app.routes)).encode()
        request.app.state.openapi_document = cached
    return Response(cached, media_type="application/json")


async def docs_page(request: Request) -> Response:
    root = html.escape(str(request.scope.get("root_path", "")).rstrip("/"))
    return HTMLResponse(_PAGE.format(root=root), headers={"Content-Security-Policy": _CSP})


routes: list[BaseRoute] = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs_page, methods=["GET"]),
    Mount("/docs/static", StaticFiles(directory=ASSETS), name="docs-static"),
]
