"""Knowledge bases: vector stores, their files and ingestion, search side by side, Dify settings.

Everything goes through ``svc.vector_stores`` (the service the API uses) and
the API's own upload and attachment checks. A store made here belongs to the
console user's principal (``console:<user id>``, see ``playground``) and
tenant. Admins see every store; a tenant user sees and manages only the
stores of their tenant (another tenant's store is a 404).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from plinth.api.vector_stores import attachment, enabled_stores
from plinth.console.identity import principal_of
from plinth.console.web import MAX_UPLOAD_FILES, Ctx, page
from plinth.errors import InvalidRequest, NotFound, PlinthError
from plinth.files.uploads import store_upload
from plinth.knowledge.index import SearchMode, SearchOptions
from plinth.vectorstores.catalog import PageRequest, StoreRow
from plinth.vectorstores.service import Owner, VectorStores

MODES: tuple[SearchMode, ...] = ("lexical", "dense", "hybrid")
MAX_NAME = 256


def _stores(ctx: Ctx) -> VectorStores:
    return enabled_stores(ctx.svc)


async def _store(ctx: Ctx) -> StoreRow:
    """The store in the URL, or a 404 when this user may not see it."""
    return await visible_store(ctx, ctx.request.path_params["store_id"])


async def visible_store(ctx: Ctx, store_id: str) -> StoreRow:
    """The store if this user may see it (their tenant's, or any for admins); else a 404."""
    try:
        store = await _stores(ctx).visible(store_id, None)
    except PlinthError:
        raise NotFound("no such store") from None
    if ctx.tenant_scope is not None and store.tenant_id != ctx.tenant_scope:
        raise NotFound("no such store")
    return store


async def visible_stores(ctx: Ctx) -> list[StoreRow]:
    rows = (await _stores(ctx).page(None, PageRequest(limit=100))).rows
    return [s for s in rows if ctx.tenant_scope is None or s.tenant_id == ctx.tenant_scope]


async def _list(ctx: Ctx) -> list[dict[str, Any]]:
    vs = _stores(ctx)
    return [await vs.store_json(s) for s in await visible_stores(ctx)]


@page()
async def knowledge_page(ctx: Ctx) -> Response:
    return ctx.render("knowledge.html", stores=await _list(ctx), errors={}, form={})


@page(role="tenant-admin")
async def create_store(ctx: Ctx) -> Response:
    name = ctx.form.get("name", "").strip()
    if not name or len(name) > MAX_NAME:
        errors = {"name": ctx.tr.t("err.too_long", limit=MAX_NAME) if name else ""}
        errors["name"] = errors["name"] or ctx.tr.t("err.required")
        return ctx.render(
            "knowledge.html", 400, stores=await _list(ctx), errors=errors, form=ctx.form
        )
    principal = await principal_of(ctx)
    store = await _stores(ctx).create(Owner(principal.key_id, principal.tenant_id), name)
    return ctx.redirect(f"/knowledge/{store.id}")


@page(role="tenant-admin")
async def delete_store(ctx: Ctx) -> Response:
    await _stores(ctx).delete(await _store(ctx))
    return ctx.redirect("/knowledge")


async def _search(ctx: Ctx, store: StoreRow, query: str) -> dict[str, Any]:
    """The same query in each mode; a mode the server cannot run shows its reason."""
    results: dict[str, Any] = {}
    for mode in MODES:
        try:
            hits = await _stores(ctx).search(
                store, [query], SearchOptions(max_num_results=5, mode=mode)
            )
        except PlinthError as exc:
            results[mode] = {"error": exc.message}
        else:
            results[mode] = {"hits": [{"hit": h, "filename": name} for h, name in hits]}
    return results


@page()
async def store_page(ctx: Ctx) -> Response:
    store = await _store(ctx)
    vs = _stores(ctx)
    files = (await vs.files(store.id, PageRequest(limit=100))).rows
    query = ctx.request.query_params.get("q", "").strip()[:1000]
    root = str(ctx.request.base_url).rstrip("/")
    return ctx.render(
        "knowledge_store.html",
        store=await vs.store_json(store),
        files=files,
        query=query,
        results=await _search(ctx, store, query) if query else None,
        dify_endpoint=root,
        has_dense=vs.retrieval.embedder is not None,
    )


@page(role="tenant-admin")
async def upload(ctx: Ctx) -> Response:
    """Files (several at once) stored as the API's uploads and attached to the store."""
    store = _stores(ctx).live(await _store(ctx))
    principal = await principal_of(ctx)
    form = await ctx.request.form()
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not uploads or len(uploads) > MAX_UPLOAD_FILES:
        raise InvalidRequest(f"Send 1 to {MAX_UPLOAD_FILES} files", param="files")
    limit = ctx.svc.settings.files_max_bytes
    attached = []
    for item in uploads:
        fields = {"file": item, "purpose": "assistants"}
        record = await store_upload(ctx.svc, principal, fields, limit)
        attached.append(await attachment(ctx.svc, principal, record.id, None, store.chunking))
    rows = await _stores(ctx).attach(store, attached)
    if ctx.request.headers.get("accept", "").startswith("application/json"):
        data = [{"file_id": r.file_id, "filename": r.filename, "status": r.status} for r in rows]
        return ctx.finish(JSONResponse({"files": data}, 201))
    return ctx.redirect(f"/knowledge/{store.id}")
