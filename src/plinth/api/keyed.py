"""What the Files and Batch APIs share: the calling key, and what it may see.

A key sees the objects it created; an admin key sees all of them.
"""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request

from plinth.api.http import new_request_id, services
from plinth.auth import Principal
from plinth.errors import NotFound
from plinth.services import Services

T = TypeVar("T")


async def with_key(request: Request) -> tuple[Services, Principal, str]:
    """Authenticate; the request id is set first, so that every error names it."""
    request_id = request.state.request_id = new_request_id()
    svc = services(request)
    return svc, await svc.auth.authenticate(request), request_id


def owner_scope(principal: Principal) -> str | None:
    """The ``key_id`` filter for this key's objects (None: an admin sees all)."""
    return None if principal.is_admin else principal.key_id


def found(obj: T | None, message: str, param: str) -> T:
    """``obj``, or the 404 that says it is not there (or not this key's)."""
    if obj is None:
        raise NotFound(message, param=param)
    return obj
