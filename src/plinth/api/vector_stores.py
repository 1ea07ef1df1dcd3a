"""The OpenAI Vector Stores API: ``/v1/vector_stores``, its files and search.

HTTP only: each handler reads its request (models in ``protocol/vector_stores``)
and calls :class:`~plinth.vectorstores.service.VectorStores`. A key sees the
stores it created (admins see all) and may attach only files it can see.
Attaching is asynchronous: the file is ``in_progress`` until the ingestion
workers finish it. Errors are raised and answered by the app's one handler.
File batches are in ``vector_store_batches``, on the helpers defined here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.http import json_response, new_request_id, parse_json, read_body, services
from plinth.auth import Principal
from plinth.errors import ChunkingError, InvalidRequest, NotFound
from plinth.knowledge.chunking import ChunkingStrategy
from plinth.knowledge.filters import AttributeValue
from plinth.knowledge.index import Hit
from plinth.rerank_hits import STORE_METADATA_KEY, RerankedSearch, RerankOption, rerank_hits
from plinth.services import Services
from plinth.store.files import utc_now
from plinth.vectorstores.catalog import FILE_STATUSES, PageRequest, StoreRow, now_s
from plinth.vectorstores.service import Attachment, Owner, VectorStores, file_json
from plinth.vectorstores.wire import CreateFile, CreateStore, UpdateFile, UpdateStore

_MAX_BODY = 4 * 1024 * 1024
# How soon the SDK's poll helpers should ask again about an in-progress file.
POLL_AFTER_MS = 200


def result_json(hit: Hit, filename: str) -> dict[str, Any]:
    """One item of ``vector_store.search_results.page``."""
    return {
        "file_id": hit.file_id,
        "filename": filename,
        "score": round(hit.score, 6),
        "attributes": hit.attributes,
        "content": [{"type": "text", "text": hit.text}],
    }


def list_page(data: list[dict[str, Any]], has_more: bool, id_key: str = "id") -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0][id_key] if data else None,
        "last_id": data[-1][id_key] if data else None,
        "has_more": has_more,
    }


Handler = Callable[[Request, Services, Principal], Awaitable[Any]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate and run; a raised ``PlinthError`` is answered by the app's handler."""

    async def run(request: Request) -> Response:
        request.state.request_id = request_id = new_request_id()
        svc = services(request)
        principal = await svc.auth.authenticate(request)
        result = await handler(request, svc, principal)
        if isinstance(result, Response):
            return result
        return json_response(result, request_id)

    return run


def enabled_stores(svc: Services) -> VectorStores:
    """The Vector Stores service; a 404 for every route where the app runs without it."""
    if svc.vector_stores is None:
        raise NotFound("Vector stores are not enabled on this server")
    return svc.vector_stores


def owner_filter(principal: Principal) -> str | None:
    return None if principal.is_admin else principal.key_id


async def read_model(request: Request, model: type[Any]) -> Any:
    return parse_json(await read_body(request, _MAX_BODY), model)


async def path_store(request: Request, svc: Services, principal: Principal) -> StoreRow:
    """The store in the path if the caller may see it; another key's reads as unknown (404)."""
    store_id = request.path_params["vector_store_id"]
    return await enabled_stores(svc).visible(store_id, owner_filter(principal))


def _check_metadata(metadata: dict[str, str] | None) -> dict[str, str] | None:
    if metadata is None:
        return None
    if len(metadata) > 16:
        raise InvalidRequest("metadata may have at most 16 keys", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64:
            raise InvalidRequest("metadata keys are at most 64 characters", param="metadata")
        if len(value) > 512:
            raise InvalidRequest(
                f"metadata['{key}'] is longer than 512 characters", param="metadata"
            )
    return metadata


def page_request(request: Request) -> PageRequest:
    """OpenAI's ``limit``/``order``/``after``/``before`` query parameters, checked."""
    params = request.query_params
    try:
        limit = int(params.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("limit must be an integer", param="limit") from None
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be between 1 and 100", param="limit")
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be 'asc' or 'desc'", param="order")
    return PageRequest(limit, order == "desc", params.get("after"), params.get("before"))


def _strategy(chunking: dict[str, Any] | None) -> ChunkingStrategy:
    try:
        return ChunkingStrategy.from_openai(chunking)
    except ChunkingError as exc:  # add which parameter
        raise ChunkingError(exc.message, param="chunking_strategy") from None


async def attachment(
    svc: Services,
    principal: Principal,
    file_id: str,
    attributes: dict[str, AttributeValue] | None,
    chunking: dict[str, Any] | None,
) -> Attachment:
    """Check the file is the caller's and the options valid, before anything is recorded."""
    record = await svc.db.run(svc.files.get, file_id, key_id=owner_filter(principal), now=utc_now())
    if record is None:
        raise NotFound(f"No file found with id '{file_id}'", param="file_id")
    return Attachment(file_id, record.filename, _strategy(chunking), dict(attributes or {}))


# -- stores ---------------------------------------------------------------------


async def create_store(request: Request, svc: Services, principal: Principal) -> Any:
    body: CreateStore = await read_model(request, CreateStore)
    vs = enabled_stores(svc)
    attachments = [
        await attachment(svc, principal, file_id, None, body.chunking_strategy)
        for file_id in dict.fromkeys(body.file_ids)
    ]
    if body.chunking_strategy is not None and not body.file_ids:
        _strategy(body.chunking_strategy)  # still a 400 if malformed
    store = await vs.create(
        Owner(principal.key_id, principal.tenant_id),
        body.name,
        metadata=_check_metadata(body.metadata),
        expires_after_days=None if body.expires_after is None else body.expires_after.days,
    )
    if attachments:
        await vs.attach(store, attachments)
    return await vs.store_json(store)


async def list_stores(request: Request, svc: Services, principal: Principal) -> Any:
    vs = enabled_stores(svc)
    page = await vs.page(owner_filter(principal), page_request(request))
    return list_page([await vs.store_json(s) for s in page.rows], page.has_more)


async def retrieve_store(request: Request, svc: Services, principal: Principal) -> Any:
    return await enabled_stores(svc).store_json(await path_store(request, svc, principal))


async def update_store(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    body: UpdateStore = await read_model(request, UpdateStore)
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.metadata is not None:
        changes["metadata"] = _check_metadata(body.metadata)
    if "expires_after" in body.model_fields_set:  # an explicit null removes the expiry
        changes["expires_after_days"] = body.expires_after and body.expires_after.days
        changes["last_active_at"] = now_s()
    vs = enabled_stores(svc)
    return await vs.store_json(await vs.update(store, changes))


async def delete_store(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    await enabled_stores(svc).delete(store)
    return {"id": store.id, "object": "vector_store.deleted", "deleted": True}


async def search_store(request: Request, svc: Services, principal: Principal) -> Any:
    vs = enabled_stores(svc)
    store = vs.live(await path_store(request, svc, principal))
    body: RerankedSearch = await read_model(request, RerankedSearch)
    queries = [body.query] if isinstance(body.query, str) else body.query
    queries = [q for q in queries if q.strip()]
    if not queries:
        raise InvalidRequest("query must be a non-empty string or list of strings", param="query")
    # The body's rerank, else the store's; none asked: no rerank code runs.
    store_rerank = store.metadata.get(STORE_METADATA_KEY)
    rerank = body.rerank or (RerankOption(model=store_rerank) if store_rerank else None)
    if rerank is None:
        results = await vs.search(store, queries, body.options())
    else:  # more candidates from the store, the best of them by the reranker
        wide = body.model_copy(
            update={"max_num_results": max(rerank.candidates, body.max_num_results)}
        )
        hits = await vs.search(store, queries, wide.options())
        keep = body.max_num_results
        results = await rerank_hits(svc.gateway, principal, rerank, " ".join(queries), hits, keep)
    return {
        "object": "vector_store.search_results.page",
        # No query rewriting here: what was searched is what was sent.
        "search_query": body.query,
        "data": [result_json(hit, filename) for hit, filename in results],
        "has_more": False,
        "next_page": None,
    }


# -- files ----------------------------------------------------------------------


def file_response(data: dict[str, Any]) -> Response:
    response = json_response(data)
    if data["status"] == "in_progress":  # the SDK's poll helpers read this hint
        response.headers["openai-poll-after-ms"] = str(POLL_AFTER_MS)
    return response


async def create_file(request: Request, svc: Services, principal: Principal) -> Any:
    vs = enabled_stores(svc)
    store = vs.live(await path_store(request, svc, principal))
    body: CreateFile = await read_model(request, CreateFile)
    chunking = body.chunking_strategy or store.chunking  # the store's default, if it has one
    item = await attachment(svc, principal, body.file_id, body.attributes, chunking)
    rows = await vs.attach(store, [item])
    return file_response(file_json(rows[0]))


def status_filter(request: Request) -> str | None:
    status = request.query_params.get("filter")
    if status is not None and status not in FILE_STATUSES:
        raise InvalidRequest(f"filter must be one of: {', '.join(FILE_STATUSES)}", param="filter")
    return status


async def list_files(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    page = await enabled_stores(svc).files(
        store.id, page_request(request), status=status_filter(request)
    )
    return list_page([file_json(r) for r in page.rows], page.has_more)


async def retrieve_file(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    row = await enabled_stores(svc).file(store, request.path_params["file_id"])
    return file_response(file_json(row))


async def update_file(request: Request, svc: Services, principal: Principal) -> Any:
    vs = enabled_stores(svc)
    store = await path_store(request, svc, principal)
    row = await vs.file(store, request.path_params["file_id"])
    body: UpdateFile = await read_model(request, UpdateFile)
    return file_json(await vs.set_attributes(store, row, dict(body.attributes or {})))


async def delete_file(request: Request, svc: Services, principal: Principal) -> Any:
    vs = enabled_stores(svc)
    store = await path_store(request, svc, principal)
    row = await vs.file(store, request.path_params["file_id"])
    await vs.remove_file(store, row.file_id)
    return {"id": row.file_id, "object": "vector_store.file.deleted", "deleted": True}


async def file_content(request: Request, svc: Services, principal: Principal) -> Any:
    """The file's extracted text (what was chunked), as one text part: stored, not re-parsed."""
    vs = enabled_stores(svc)
    store = await path_store(request, svc, principal)
    row = await vs.file(store, request.path_params["file_id"])
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": await vs.text(row)}],
        "has_more": False,
        "next_page": None,
    }


STORE_PATH = "/v1/vector_stores/{vector_store_id}"

routes = [
    Route("/v1/vector_stores", endpoint(create_store), methods=["POST"]),
    Route("/v1/vector_stores", endpoint(list_stores), methods=["GET"]),
    Route(STORE_PATH, endpoint(retrieve_store), methods=["GET"]),
    Route(STORE_PATH, endpoint(update_store), methods=["POST"]),
    Route(STORE_PATH, endpoint(delete_store), methods=["DELETE"]),
    Route(STORE_PATH + "/search", endpoint(search_store), methods=["POST"]),
    Route(STORE_PATH + "/files", endpoint(create_file), methods=["POST"]),
    Route(STORE_PATH + "/files", endpoint(list_files), methods=["GET"]),
    Route(STORE_PATH + "/files/{file_id}", endpoint(retrieve_file), methods=["GET"]),
    Route(STORE_PATH + "/files/{file_id}", endpoint(update_file), methods=["POST"]),
    Route(STORE_PATH + "/files/{file_id}", endpoint(delete_file), methods=["DELETE"]),
    Route(STORE_PATH + "/files/{file_id}/content", endpoint(file_content), methods=["GET"]),
]
