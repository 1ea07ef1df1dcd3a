"""The OpenAI Files API: ``/v1/files`` upload, list, retrieve, content, delete.

Uploads are multipart (``file`` + ``purpose``, optionally
``expires_after[anchor]=created_at`` and ``expires_after[seconds]``), streamed
to storage with the size limit enforced while reading — a too-large upload is
cut off with a 413, not buffered first. A key sees the files it uploaded;
admin keys see all.
"""

from __future__ import annotations

from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from plinth.api.http import json_response
from plinth.api.keyed import found, owner_scope, with_key
from plinth.errors import InvalidRequest, PayloadTooLarge
from plinth.files.uploads import store_upload
from plinth.services import Services
from plinth.store.files import FileRecord, utc_now


async def create_file(request: Request) -> Response:
    svc, principal, request_id = await with_key(request)
    limit = svc.settings.files_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise PayloadTooLarge(f"Files may be at most {limit} bytes")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("Upload files as multipart/form-data with fields 'file' and 'purpose'")
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=limit)
    except MultiPartException as exc:
        raise InvalidRequest(f"Malformed multipart body: {exc.message}") from None
    try:
        record = await store_upload(svc, principal, form, limit)
    finally:
        await form.close()
    return json_response(record.as_json(), request_id)


async def list_files(request: Request) -> Response:
    svc, principal, request_id = await with_key(request)
    params = request.query_params
    purpose = params.get("purpose")
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be 'asc' or 'desc'", param="order")
    try:
        limit = int(params.get("limit", "10000"))
    except ValueError:
        raise InvalidRequest("limit must be an integer", param="limit") from None
    if not 1 <= limit <= 10_000:
        raise InvalidRequest("limit must be between 1 and 10000", param="limit")
    records, more = await svc.db.run(
        svc.files.page,
        key_id=owner_scope(principal),
        now=utc_now(),
        purpose=purpose,
        limit=limit,
        after=params.get("after"),
        descending=order == "desc",
    )
    data = [r.as_json() for r in records]
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
        },
        request_id,
    )


async def _find(request: Request) -> tuple[Services, FileRecord, str]:
    svc, principal, request_id = await with_key(request)
    file_id = request.path_params["file_id"]
    record = await svc.db.run(svc.files.get, file_id, key_id=owner_scope(principal), now=utc_now())
    return svc, found(record, f"No such File object: {file_id}", "id"), request_id


async def retrieve_file(request: Request) -> Response:
    _, record, request_id = await _find(request)
    return json_response(record.as_json(), request_id)


async def file_content(request: Request) -> Response:
    svc, record, request_id = await _find(request)
    return FileResponse(
        svc.file_storage.path(record.id),
        media_type="application/octet-stream",
        filename=record.filename,
        headers={"x-request-id": request_id},
    )


async def delete_file(request: Request) -> Response:
    svc, record, request_id = await _find(request)
    await svc.db.run(svc.files.delete, record.id)
    svc.file_storage.delete(record.id)
    return json_response({"id": record.id, "object": "file", "deleted": True}, request_id)


routes = [
    Route("/v1/files", create_file, methods=["POST"]),
    Route("/v1/files", list_files, methods=["GET"]),
    Route("/v1/files/{file_id}", retrieve_file, methods=["GET"]),
    Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
]
