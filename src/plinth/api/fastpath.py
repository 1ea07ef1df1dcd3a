"""The generation routes, dispatched without Starlette's router and middleware.

Every streamed chunk of a Starlette response passes through the error
middleware's ``send`` wrappers, and every request through route matching:
about a tenth of Plinth's CPU per proxied request (``benchmarks/
gateway_overhead.py``, profile). The generation handlers turn every error
into a response themselves, so for those three routes the wrapper calls
them directly; everything else goes to the Starlette app as before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from plinth.api.http import error_response
from plinth.api.url_check import nul_refusal

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Endpoint = Callable[[Request], Awaitable[Response]]


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
