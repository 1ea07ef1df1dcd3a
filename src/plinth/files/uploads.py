"""Storing one uploaded file: its bytes in file storage, its record in the database.

The Files API (``POST /v1/files``) and the console's knowledge page upload
through :func:`store_upload`, so both check ``purpose`` and ``expires_after``
the same way and both stream the bytes with the size limit enforced while
reading.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile

from plinth.errors import InvalidRequest
from plinth.store.files import FileRecord, new_file_id, utc_now

if TYPE_CHECKING:
    from plinth.auth import Principal
    from plinth.services import Services

PURPOSES = ("assistants", "user_data", "batch")
_READ_SIZE = 1 << 20
_MIN_EXPIRY_S, _MAX_EXPIRY_S = 3600, 30 * 86400


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


async def store_upload(svc: Services, principal: Principal, form: Any, limit: int) -> FileRecord:
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
