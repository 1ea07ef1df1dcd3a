"""Re-embedding a vector store with another model: ``/v1/vector_stores/{id}/reembed``.

A Plinth extension (OpenAI has no such route). ``POST`` with ``{"model": …}``
starts a background run and answers at once (202) with its progress object;
``GET`` reports it (``status``, ``chunks.done`` of ``chunks.total``). Searches
keep working throughout, on the old vectors until the new set is complete
(``vectorstores/reembed.py``). The caller must be able to see the store, as
for every other vector-store route.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.routing import Route

from plinth.api.http import json_response
from plinth.api.vector_stores import STORE_PATH, enabled_stores, endpoint, path_store, read_model
from plinth.auth import Principal
from plinth.errors import NotFound
from plinth.services import Services


class StartReembed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1, max_length=200)


async def start_reembed(request: Request, svc: Services, principal: Principal) -> Any:
    vs = enabled_stores(svc)
    store = vs.live(await path_store(request, svc, principal))
    body: StartReembed = await read_model(request, StartReembed)
    run = await vs.reembeds.start(store, body.model)
    return json_response(run.json(), request.state.request_id, status=202)


async def reembed_status(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    run = await enabled_stores(svc).reembeds.status(store.id)
    if run is None:
        raise NotFound(f"Vector store '{store.id}' has not been re-embedded")
    return {**run.json(), "current_model": run.current_model}


routes = [
    Route(STORE_PATH + "/reembed", endpoint(start_reembed), methods=["POST"]),
    Route(STORE_PATH + "/reembed", endpoint(reembed_status), methods=["GET"]),
]
