"""The OpenAI Vector Stores API's file batches: ``/v1/vector_stores/{id}/file_batches``.

A batch attaches many files in one request (each checked as a single attach
is, before anything is recorded); its status and counts are those of its
files, and cancelling it stops the files still in progress. Ownership, error
mapping and pagination are those of ``vector_stores``, whose helpers these
handlers use.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from plinth.api.vector_stores import (
    STORE_PATH,
    attachment,
    enabled_stores,
    endpoint,
    file_response,
    list_page,
    page_request,
    path_store,
    read_model,
    status_filter,
)
from plinth.auth import Principal
from plinth.errors import InvalidRequest
from plinth.services import Services
from plinth.vectorstores.catalog import BatchRow
from plinth.vectorstores.service import file_json
from plinth.vectorstores.wire import CreateBatch


async def create_batch(request: Request, svc: Services, principal: Principal) -> Any:
    vs = enabled_stores(svc)
    store = vs.live(await path_store(request, svc, principal))
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
    batch = await vs.create_batch(store, list(items.values()))
    return await vs.batch_json(batch)


async def _batch(request: Request, svc: Services, principal: Principal) -> BatchRow:
    store = await path_store(request, svc, principal)
    return await enabled_stores(svc).batch(store, request.path_params["batch_id"])


async def retrieve_batch(request: Request, svc: Services, principal: Principal) -> Any:
    data = await enabled_stores(svc).batch_json(await _batch(request, svc, principal))
    return file_response(data)


async def cancel_batch(request: Request, svc: Services, principal: Principal) -> Any:
    vs = enabled_stores(svc)
    store = await path_store(request, svc, principal)
    batch = await vs.batch(store, request.path_params["batch_id"])
    return await vs.batch_json(await vs.cancel_batch(store, batch))


async def list_batch_files(request: Request, svc: Services, principal: Principal) -> Any:
    batch = await _batch(request, svc, principal)
    page = await enabled_stores(svc).files(
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
