"""Refusing a URL whose path or query holds a NUL character, before any route runs.

Path parameters and query values go into database queries as text, and
PostgreSQL refuses NUL in text (SQLite stores it): ``/v1/files/%00`` was a 500
on PostgreSQL from every route with an id in its path. One check at the edge
covers every route, present and future, in the route family's error shape.
"""

from __future__ import annotations

import json

from starlette.responses import Response

from plinth.api.dialect_errors import dialect_render
from plinth.api.http import error_response, new_request_id
from plinth.errors import InvalidRequest

_NUL_ESCAPES = (b"%00", b"\x00")


def nul_refusal(path: str, query_string: bytes) -> Response | None:
    """A 400 for a path or query with NUL in it (decoded or %-escaped); else None."""
    if "\x00" not in path and not any(nul in query_string for nul in _NUL_ESCAPES):
        return None
    refused = InvalidRequest("The URL must not contain NUL (%00) characters")
    if path == "/retrieval":  # Dify's External Knowledge API: {error_code, error_msg}
        body = {"error_code": 1000, "error_msg": refused.message}
        return Response(json.dumps(body), 400, media_type="application/json")
    render = dialect_render(path)
    request_id = new_request_id()
    if render is not None:
        return render(refused, request_id)
    return error_response(refused, request_id if path.startswith("/v1/") else None)
