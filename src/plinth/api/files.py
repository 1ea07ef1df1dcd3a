"""The OpenAI Files API: ``/v1/files`` upload, list, retrieve, content, delete.

Uploads are multipart (``file`` + ``purpose``, optionally
``expires_after[anchor]=created_at`` and ``expires_after[seconds]``), streamed
to storage with the size limit enforced while reading — a too-large upload is
cut off with a 413, not buffered first. A key sees the files it uploaded;
admin keys see all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from plinth.api.http import json_response, new_request_id
from plinth.auth import Principal
from plinth.errors import InvalidRequest, NotFound, PayloadTooLarge
from plinth.services import Services, services
from plinth.store.files import FileRecord, new_file_id, utc_now

PURPOSES = ("assistants", "user_data", "batch")
_READ_SIZE = 1 << 20
_MIN_EXPIRY_S, _MAX_EXPIRY_S = 3600, 30 * 86400


def _owner(principal: Principal) -> str | None:
    return None if principal.is_admin else principal.key_id


async def _with_key(request: Request) -> tuple[Services, Principal, str]:
    """Authenticate; the request id is set first, so that every error names it."""
    request_id = request.state.request_id = new_request_id()
    svc = services(request)
    return svc, await svc.auth.authenticate(request), request_id


def _expiry(form: Any, created_at: int) -> int | None:
    anchor = form.get("expires_after[anchor]")
    seconds = form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise InvalidRequest(
            "expires_after[anchor] must be 'created_at'", param="expires_after.anchor"
        )
    try:
        value = int(str(seconds))
    except ValueError:
        raise InvalidRequest(
            "expires_after[seconds] must be an integer", param="expires_after.seconds"
        ) from None
    if not _MIN_EXPIRY_S <= value <= _MAX_EXPIRY_S:
        raise InvalidRequest(
            f"expires_after[seconds] must be between {_MIN_EXPIRY_S} and {_MAX_EXPIRY_S}",
            param="expires_after.seconds",
        )
    return created_at + value


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(_READ_SIZE):
        yield chunk


async def create_file(request: Request) -> Response:
    svc, principal, request_id = await _with_key(request)
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
        record = await _store_upload(svc, principal, form, limit)
    finally:
        await form.close()
    return json_response(record.as_json(), request_id)


async def _store_upload(svc: Services, principal: Principal, form: Any, limit: int) -> FileRecord:
    upload, purpose = form.get("file"), form.get("purpose")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("Missing required parameter: 'file'", param="file")
    if purpose not in PURPOSES:
        raise InvalidRequest(f"purpose must be one of: {', '.join(PURPOSES)}", param="purpose")
    created_at = utc_now()
    expires_at = _expiry(form, created_at)
    file_id = new_file_id()
    size, sha256 = await svc.file_storage.save(file_id, _chunks(upload), limit)
    record = FileRecord(
        id=file_id,
        key_id=principal.key_id,
        filename=(upload.filename or "upload")[:512],
        purpose=str(purpose),
        bytes=size,
        sha256=sha256,
        created_at=created_at,
        expires_at=expires_at,
    )
    try:
        await svc.db.run(svc.files.add, record)
    except BaseException:
        svc.file_storage.delete(file_id)  # no bytes without a record
        raise
    return record


async def list_files(request: Request) -> Response:
    svc, principal, request_id = await _with_key(request)
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
        key_id=_owner(principal),
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
    svc, principal, request_id = await _with_key(request)
    file_id = request.path_params["file_id"]
    record = await svc.db.run(svc.files.get, file_id, key_id=_owner(principal), now=utc_now())
    if record is None:
        raise NotFound(f"No such File object: {file_id}", param="id")
    return svc, record, request_id


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
