"""OpenAI's JSON shapes of vector stores, their files, batches and search results.

Pure functions of rows: the HTTP layer and ``plinth kb`` show the same objects.
"""

from __future__ import annotations

from typing import Any

from plinth.knowledge.index import Hit
from plinth.vectorstores.catalog import BatchRow, FileRow, StoreRow

# How soon the SDK's poll helpers should ask again about an in-progress file.
POLL_AFTER_MS = 200


def store_json(store: StoreRow, counts: dict[str, int], now: int) -> dict[str, Any]:
    if store.expired(now):
        status = "expired"
    elif counts["in_progress"]:
        status = "in_progress"
    else:
        status = "completed"
    expires_after = (
        None
        if store.expires_after_days is None
        else {"anchor": "last_active_at", "days": store.expires_after_days}
    )
    return {
        "id": store.id,
        "object": "vector_store",
        "created_at": store.created_at,
        "name": store.name,
        "usage_bytes": store.usage_bytes,
        "file_counts": counts,
        "status": status,
        "expires_after": expires_after,
        "expires_at": store.expires_at,
        "last_active_at": store.last_active_at,
        "metadata": store.metadata,
    }


def batch_json(batch: BatchRow, counts: dict[str, int]) -> dict[str, Any]:
    if batch.cancelled:
        status = "cancelled"
    elif counts["in_progress"]:
        status = "in_progress"
    elif counts["total"] and counts["failed"] == counts["total"]:
        status = "failed"
    else:
        status = "completed"
    return {
        "id": batch.id,
        "object": "vector_store.files_batch",
        "created_at": batch.created_at,
        "vector_store_id": batch.vector_store_id,
        "status": status,
        "file_counts": counts,
    }


def file_json(row: FileRow) -> dict[str, Any]:
    last_error = (
        None
        if row.error_code is None
        else {"code": row.error_code, "message": row.error_message or ""}
    )
    return {
        "id": row.file_id,
        "object": "vector_store.file",
        "usage_bytes": row.usage_bytes,
        "created_at": row.created_at,
        "vector_store_id": row.vector_store_id,
        "status": row.status,
        "last_error": last_error,
        "chunking_strategy": row.chunking,
        "attributes": row.attributes,
    }


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
