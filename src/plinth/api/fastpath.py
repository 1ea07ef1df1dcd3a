"""The app's ASGI entry: NUL-bearing URLs refused, generation routes dispatched directly.

**NUL in the URL.** Path parameters and query values go into database
queries as text, and PostgreSQL refuses NUL in text (SQLite stores it):
``/v1/files/%00`` was a 500 on PostgreSQL from every route with an id in its
path. One check here, before any route runs, covers every route, present and
future, in the route family's error shape.

**The generation routes** skip Starlette's router and middleware. Every
streamed chunk of a Starlette response passes through the error middleware's
``send`` wrappers, and every request through route matching: about a tenth
of Plinth's CPU per proxied request (``benchmarks/gateway_overhead.py``,
profile). The generation handlers turn every error
into a response themselves, so for those three routes the wrapper calls
them directly; everything else goes to the Starlette app as before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from plinth.api.dialect_errors import dialect_render
from plinth.api.http import error_response, new_request_id
from plinth.errors import InvalidRequest

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Endpoint = Callable[[Request], Awaitable[Response]]
_NUL_ESCAPES = (b"%00", b"\x00")


def nul_refusal(path: str, query_string: bytes) -> Response | None:
    """A 400 for a path or query with NUL in it (decoded or %-escaped); else None."""
    if "\x00" not in path and (
        not query_string or not any(nul in query_string for nul in _NUL_ESCAPES)
    ):
        return None  # nearly every request: no query string at all, nothing to scan
    refused = InvalidRequest("The URL must not contain NUL (%00) characters")
    if path == "/retrieval":  # Dify's External Knowledge API: {error_code, error_msg}
        body = {"error_code": 1000, "error_msg": refused.message}
        return Response(json.dumps(body), 400, media_type="application/json")
    render = dialect_render(path)
    request_id = new_request_id()
    if render is not None:
        return render(refused, request_id)
    return error_response(refused, request_id if path.startswith("/v1/") else None)


class FastPathApp:
    def __init__(self, app: Starlette, endpoints: Mapping[str, Endpoint]):
        self.app = app
        self.endpoints = endpoints

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = nul_refusal(scope["path"], scope.get("query_string", b""))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self.app  # what Request.app and services() read
                try:
                    response = await endpoint(Request(scope, receive, send))
                except Exception as exc:
                    log.exception("unhandled error on POST %s", scope["path"], exc_info=exc)
                    response = error_response(exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
