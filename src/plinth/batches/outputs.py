"""A finished batch's output and error files, stored as Files of the batch's key."""

from __future__ import annotations

from collections.abc import AsyncIterator

from plinth.batches.store import Batch, BatchStore
from plinth.services import Services
from plinth.store.files import FileRecord, new_file_id, utc_now

CHUNK_LINES = 256


async def _chunks(lines: list[str]) -> AsyncIterator[bytes]:
    for start in range(0, len(lines), CHUNK_LINES):
        yield "".join(line + "\n" for line in lines[start : start + CHUNK_LINES]).encode()


async def _save(svc: Services, batch: Batch, name: str, lines: list[str]) -> str:
    file_id = new_file_id()
    limit = 1 << 62  # our own output: the upload limit does not apply
    size, sha256 = await svc.file_storage.save(file_id, _chunks(lines), limit)
    record = FileRecord(
        id=file_id,
        key_id=batch.key_id,
        filename=f"{batch.id}_{name}.jsonl",
        purpose="batch_output",
        bytes=size,
        sha256=sha256,
        created_at=utc_now(),
        expires_at=None,
    )
    await svc.db.run(svc.files.add, record)
    return file_id


async def write_outputs(
    svc: Services, store: BatchStore, batch: Batch
) -> tuple[str | None, str | None]:
    """(output file id, error file id); a file with no lines is not made (None)."""
    results = await svc.db.run(store.results, batch.id)
    good = [result for status, result in results if status == "completed"]
    bad = [result for status, result in results if status == "failed"]
    output = await _save(svc, batch, "output", good) if good else None
    errors = await _save(svc, batch, "error", bad) if bad else None
    return output, errors
