"""The OpenAI Vector Stores API's file batches: ``/v1/vector_stores/{id}/file_batches``.

A batch attaches many files in one request (each checked as a single attach
is, before anything is recorded); its status and counts are those of its
files, and cancelling it stops the files still in progress. Ownership, error
mapping and pagination are those of ``vector_stores``, whose helpers these
handlers use.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.routing import Route

from plinth.api.http import json_response
from plinth.api.vector_stores import (
    MAX_BATCH,
    STORE_PATH,
    CreateFile,
    StrictBody,
    attachment,
    enabled_stores,
    endpoint,
    list_page,
    live,
    page_request,
    path_store,
    read_model,
    status_filter,
)
from plinth.auth import Principal
from plinth.errors import InvalidRequest, NotFound
from plinth.knowledge.filters import AttributeValue
from plinth.knowledge.stores import POLL_AFTER_MS, file_json, now_s
from plinth.services import Services


class CreateBatch(StrictBody):
    file_ids: list[str] | None = Field(None, max_length=MAX_BATCH)
    files: list[CreateFile] | None = Field(None, max_length=MAX_BATCH)
    attributes: dict[str, AttributeValue] | None = None
    chunking_strategy: dict[str, Any] | None = None


async def create_batch(request: Request, svc: Services, principal: Principal) -> Any:
    store = live(await path_store(request, svc, principal))
    body: CreateBatch = await read_model(request, CreateBatch)
    if (body.file_ids is None) == (body.files is None):
        raise InvalidRequest("Send exactly one of 'file_ids' and 'files'", param="file_ids")
    if body.files is not None:
        wanted = [(f.file_id, f.attributes, f.chunking_strategy) for f in body.files]
    else:
        assert body.file_ids is not None
        wanted = [(f, body.attributes, body.chunking_strategy) for f in body.file_ids]
    if not wanted:
        raise InvalidRequest("A file batch needs at least one file", param="file_ids")
    items = {}
    for file_id, attributes, chunking in wanted:  # a repeated id: the last one counts
        chunking = chunking or store.chunking
        items[file_id] = await attachment(svc, principal, file_id, attributes, chunking)
    vs = enabled_stores(svc)
    batch = await asyncio.to_thread(vs.catalog.create_batch, store.id, now=now_s())
    await vs.attach(store, list(items.values()), batch_id=batch.id)
    return await vs.batch_json(batch)


async def _batch(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    batch_id = request.path_params["batch_id"]
    batch = await asyncio.to_thread(enabled_stores(svc).catalog.get_batch, store.id, batch_id)
    if batch is None:
        raise NotFound(f"No file batch found with id '{batch_id}'", param="batch_id")
    return batch


async def retrieve_batch(request: Request, svc: Services, principal: Principal) -> Any:
    data = await enabled_stores(svc).batch_json(await _batch(request, svc, principal))
    response = json_response(data)
    if data["status"] == "in_progress":
        response.headers["openai-poll-after-ms"] = str(POLL_AFTER_MS)
    return response


async def cancel_batch(request: Request, svc: Services, principal: Principal) -> Any:
    batch = await _batch(request, svc, principal)
    vs = enabled_stores(svc)
    await vs.cancel_batch(batch)
    refreshed = await asyncio.to_thread(vs.catalog.get_batch, batch.vector_store_id, batch.id)
    assert refreshed is not None
    return await vs.batch_json(refreshed)


async def list_batch_files(request: Request, svc: Services, principal: Principal) -> Any:
    batch = await _batch(request, svc, principal)
    page = await asyncio.to_thread(
        enabled_stores(svc).catalog.page_files,
        batch.vector_store_id,
        page_request(request),
        status=status_filter(request),
        batch_id=batch.id,
    )
    return list_page([file_json(r) for r in page.rows], page.has_more)


_BATCH = STORE_PATH + "/file_batches/{batch_id}"

routes = [
    Route(STORE_PATH + "/file_batches", endpoint(create_batch), methods=["POST"]),
    Route(_BATCH, endpoint(retrieve_batch), methods=["GET"]),
    Route(_BATCH + "/cancel", endpoint(cancel_batch), methods=["POST"]),
    Route(_BATCH + "/files", endpoint(list_batch_files), methods=["GET"]),
]
