"""The OpenAI Vector Stores API: ``/v1/vector_stores``, its files and search.

A key sees the stores it created (admins see all) and may attach only files
it can see. Attaching is asynchronous: the file is ``in_progress`` until the
ingestion workers finish it (see ``knowledge/ingest.py``). Search takes
OpenAI's parameters plus Plinth's ``hybrid_search`` (mode and list weights).
File batches are in ``vector_store_batches``, on the helpers defined here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.http import error_response, json_response, new_request_id, parse_json, read_body
from plinth.auth import Principal
from plinth.errors import InvalidRequest, NotFound, PlinthError
from plinth.knowledge.chunking import ChunkingError, ChunkingStrategy
from plinth.knowledge.filters import AttributeValue, FilterError, validate_attributes
from plinth.knowledge.parsing import ParseError, parse
from plinth.knowledge.stores import (
    POLL_AFTER_MS,
    Attachment,
    Owner,
    SearchOptions,
    VectorStores,
    file_json,
    now_s,
)
from plinth.services import Services, services
from plinth.store.files import utc_now
from plinth.store.vector_stores import FILE_STATUSES, PageRequest, StoreRow

_MAX_BODY = 4 * 1024 * 1024
MAX_BATCH = 2000  # file ids in one request (a store's creation or a file batch)
MAX_QUERIES = 20  # queries in one search: each is embedded and searched in turn


class StrictBody(BaseModel):
    """A request body: an unknown field is a 400, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ExpiresAfter(StrictBody):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class CreateStore(StrictBody):
    name: str = Field("", max_length=256)
    description: str | None = Field(None, max_length=512)  # accepted, not kept
    file_ids: list[str] = Field(default_factory=list, max_length=MAX_BATCH)
    chunking_strategy: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    expires_after: ExpiresAfter | None = None


class UpdateStore(StrictBody):
    name: str | None = Field(None, max_length=256)
    metadata: dict[str, str] | None = None
    expires_after: ExpiresAfter | None = None


class CreateFile(StrictBody):
    file_id: str
    attributes: dict[str, AttributeValue] | None = None
    chunking_strategy: dict[str, Any] | None = None


class UpdateFile(StrictBody):
    attributes: dict[str, AttributeValue] | None


class RankingOptions(StrictBody):
    # "rrf" fuses by reciprocal rank; everything else by the weighted sum of
    # min-max normalised scores, the better of the two on SciFact (nDCG@10
    # 0.729 vs 0.712, benchmarks/results/retrieval_eval.md) and in Bruch et
    # al.'s analysis of fusion functions for hybrid retrieval (TOIS 2023).
    ranker: Literal["none", "auto", "default-2024-11-15", "rrf", "weighted"] = "auto"
    score_threshold: float = Field(0.0, ge=0.0, le=1.0)


class HybridSearch(StrictBody):
    """Plinth's extension: which lists to read and how much each weighs in the fusion."""

    mode: Literal["hybrid", "lexical", "dense"] = "hybrid"
    lexical_weight: float = Field(1.0, ge=0.0)
    dense_weight: float = Field(1.0, ge=0.0)


class Search(StrictBody):
    query: str | Annotated[list[str], Field(max_length=MAX_QUERIES)]
    filters: dict[str, Any] | None = None
    max_num_results: int = Field(10, ge=1, le=50)
    ranking_options: RankingOptions | None = None
    rewrite_query: bool = False
    hybrid_search: HybridSearch | None = None


Handler = Callable[[Request, Services, Principal], Awaitable[Any]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, run, and map every client mistake to an OpenAI-shaped 4xx."""

    async def run(request: Request) -> Response:
        request_id = new_request_id()
        try:
            svc = services(request)
            principal = await svc.auth.authenticate(request)
            result = await handler(request, svc, principal)
        except PlinthError as exc:
            return error_response(exc, request_id)
        except (FilterError, ChunkingError) as exc:
            return error_response(InvalidRequest(str(exc)), request_id)
        if isinstance(result, Response):
            return result
        return json_response(result, request_id)

    return run


def enabled_stores(svc: Services) -> VectorStores:
    """The Vector Stores service; a 404 for every route where the app runs without it."""
    if svc.vector_stores is None:
        raise NotFound("Vector stores are not enabled on this server")
    return svc.vector_stores


def _owner_filter(principal: Principal) -> str | None:
    return None if principal.is_admin else principal.key_id


async def read_model(request: Request, model: type[Any]) -> Any:
    return parse_json(await read_body(request, _MAX_BODY), model)


async def path_store(request: Request, svc: Services, principal: Principal) -> StoreRow:
    """The store in the path if the caller may see it; another key's reads as unknown (404)."""
    store_id = request.path_params["vector_store_id"]
    store = await asyncio.to_thread(
        enabled_stores(svc).catalog.get_store, store_id, key_id=_owner_filter(principal)
    )
    if store is None:
        raise NotFound(f"No vector store found with id '{store_id}'", param="vector_store_id")
    return store


def live(store: StoreRow) -> StoreRow:
    """The store, unless expired: an expired store is still listed but takes no new work."""
    if store.expired(now_s()):
        raise InvalidRequest(f"Vector store '{store.id}' has expired", code="vector_store_expired")
    return store


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


def list_page(data: list[dict[str, Any]], has_more: bool, id_key: str = "id") -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0][id_key] if data else None,
        "last_id": data[-1][id_key] if data else None,
        "has_more": has_more,
    }


async def attachment(
    svc: Services,
    principal: Principal,
    file_id: str,
    attributes: dict[str, Any] | None,
    chunking: dict[str, Any] | None,
) -> Attachment:
    """Check the file is the caller's and the options valid, before anything is recorded."""
    record = await asyncio.to_thread(
        svc.files.get, file_id, key_id=_owner_filter(principal), now=utc_now()
    )
    if record is None:
        raise NotFound(f"No file found with id '{file_id}'", param="file_id")
    try:
        strategy = ChunkingStrategy.from_openai(chunking)
    except ChunkingError as exc:
        raise InvalidRequest(str(exc), param="chunking_strategy") from None
    try:
        clean = validate_attributes(attributes)
    except FilterError as exc:
        raise InvalidRequest(str(exc), param="attributes") from None
    return Attachment(file_id, record.filename, strategy, clean)


# -- stores ---------------------------------------------------------------------


async def create_store(request: Request, svc: Services, principal: Principal) -> Any:
    body: CreateStore = await read_model(request, CreateStore)
    vs = enabled_stores(svc)
    attachments = [
        await attachment(svc, principal, file_id, None, body.chunking_strategy)
        for file_id in dict.fromkeys(body.file_ids)
    ]
    if body.chunking_strategy is not None and not body.file_ids:
        ChunkingStrategy.from_openai(body.chunking_strategy)  # still a 400 if malformed
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
    page = await asyncio.to_thread(
        vs.catalog.page_stores, key_id=_owner_filter(principal), request=page_request(request)
    )
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
    await asyncio.to_thread(vs.catalog.update_store, store.id, changes)
    return await retrieve_store(request, svc, principal)


async def delete_store(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    await enabled_stores(svc).delete(store)
    return {"id": store.id, "object": "vector_store.deleted", "deleted": True}


async def search_store(request: Request, svc: Services, principal: Principal) -> Any:
    store = live(await path_store(request, svc, principal))
    body: Search = await read_model(request, Search)
    queries = [body.query] if isinstance(body.query, str) else body.query
    queries = [q for q in queries if q.strip()]
    if not queries:
        raise InvalidRequest("query must be a non-empty string or list of strings", param="query")
    ranking = body.ranking_options or RankingOptions()
    hybrid = body.hybrid_search or HybridSearch()
    options = SearchOptions(
        max_num_results=body.max_num_results,
        mode=hybrid.mode,
        fusion="rrf" if ranking.ranker == "rrf" else "weighted",
        lexical_weight=hybrid.lexical_weight,
        dense_weight=hybrid.dense_weight,
        filters=body.filters,
        score_threshold=ranking.score_threshold,
    )
    results = await enabled_stores(svc).search(store, queries, options)
    return {
        "object": "vector_store.search_results.page",
        # No query rewriting here: what was searched is what was sent.
        "search_query": body.query,
        "data": [
            {
                "file_id": hit.file_id,
                "filename": filename,
                "score": round(hit.score, 6),
                "attributes": hit.attributes,
                "content": [{"type": "text", "text": hit.text}],
            }
            for hit, filename in results
        ],
        "has_more": False,
        "next_page": None,
    }


# -- files ----------------------------------------------------------------------


async def _file_row(request: Request, svc: Services, store: StoreRow) -> Any:
    file_id = request.path_params["file_id"]
    row = await asyncio.to_thread(enabled_stores(svc).catalog.get_file, store.id, file_id)
    if row is None:
        raise NotFound(
            f"No file found with id '{file_id}' in vector store '{store.id}'", param="file_id"
        )
    return row


def _file_response(data: dict[str, Any]) -> Response:
    response = json_response(data)
    if data["status"] == "in_progress":  # the SDK's poll helpers read this hint
        response.headers["openai-poll-after-ms"] = str(POLL_AFTER_MS)
    return response


async def create_file(request: Request, svc: Services, principal: Principal) -> Any:
    store = live(await path_store(request, svc, principal))
    body: CreateFile = await read_model(request, CreateFile)
    chunking = body.chunking_strategy or store.chunking  # the store's default, if it has one
    item = await attachment(svc, principal, body.file_id, body.attributes, chunking)
    rows = await enabled_stores(svc).attach(store, [item])
    return _file_response(file_json(rows[0]))


async def list_files(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    status = status_filter(request)
    page = await asyncio.to_thread(
        enabled_stores(svc).catalog.page_files, store.id, page_request(request), status=status
    )
    return list_page([file_json(r) for r in page.rows], page.has_more)


def status_filter(request: Request) -> str | None:
    status = request.query_params.get("filter")
    if status is not None and status not in FILE_STATUSES:
        raise InvalidRequest(f"filter must be one of: {', '.join(FILE_STATUSES)}", param="filter")
    return status


async def retrieve_file(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    return _file_response(file_json(await _file_row(request, svc, store)))


async def update_file(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    row = await _file_row(request, svc, store)
    body: UpdateFile = await read_model(request, UpdateFile)
    try:
        clean = validate_attributes(body.attributes)
    except FilterError as exc:
        raise InvalidRequest(str(exc), param="attributes") from None
    return file_json(await enabled_stores(svc).set_attributes(store, row, clean))


async def delete_file(request: Request, svc: Services, principal: Principal) -> Any:
    store = await path_store(request, svc, principal)
    row = await _file_row(request, svc, store)
    await enabled_stores(svc).remove_file(store, row.file_id)
    return {"id": row.file_id, "object": "vector_store.file.deleted", "deleted": True}


async def file_content(request: Request, svc: Services, principal: Principal) -> Any:
    """The file's extracted text (what was chunked), as one text part."""
    store = await path_store(request, svc, principal)
    row = await _file_row(request, svc, store)
    try:
        data = await asyncio.to_thread(svc.file_storage.path(row.file_id).read_bytes)
        text = await asyncio.to_thread(parse, data, row.filename)
    except FileNotFoundError:
        raise NotFound(f"The content of file '{row.file_id}' is no longer stored") from None
    except ParseError as exc:
        raise InvalidRequest(f"The file '{row.file_id}' has no readable text: {exc}") from None
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": text}],
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
