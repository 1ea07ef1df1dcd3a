"""The OpenAI Batch API: ``/v1/batches`` create, list, retrieve, cancel.

A batch is created from an uploaded ``purpose="batch"`` file; its lines are
validated and run in the background (``plinth.batches.runner``). A key sees
the batches it created; admin keys see all.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.http import json_response, load_json_object, read_body
from plinth.api.keyed import found, owner_scope, with_key
from plinth.batches.runner import BatchRunner
from plinth.batches.store import Batch, new_batch_id
from plinth.batches.validation import ENDPOINTS
from plinth.errors import InvalidRequest, NotFound
from plinth.store.files import utc_now

WINDOWS = {"24h": 24 * 3600}
MAX_METADATA = 16


def runner(request: Request) -> BatchRunner:
    found: BatchRunner = request.app.state.batches
    return found


def _metadata(value: Any) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or len(value) > MAX_METADATA
        or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 512
            for k, v in value.items()
        )
    ):
        raise InvalidRequest(
            f"metadata must be an object of at most {MAX_METADATA} string pairs "
            "(keys up to 64 characters, values up to 512)",
            param="metadata",
        )
    return json.dumps(value)


async def create_batch(request: Request) -> Response:
    svc, principal, request_id = await with_key(request)
    body = load_json_object(await read_body(request, svc.settings.max_body_bytes))
    endpoint, window = body.get("endpoint"), body.get("completion_window")
    if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
        raise InvalidRequest(f"endpoint must be one of: {', '.join(ENDPOINTS)}", param="endpoint")
    if not isinstance(window, str) or window not in WINDOWS:
        raise InvalidRequest("completion_window must be '24h'", param="completion_window")
    file_id = body.get("input_file_id")
    if not isinstance(file_id, str):
        raise InvalidRequest("Missing required parameter: 'input_file_id'", param="input_file_id")
    record = await svc.db.run(svc.files.get, file_id, key_id=owner_scope(principal), now=utc_now())
    if record is None:
        raise NotFound(f"No such File object: {file_id}", param="input_file_id")
    if record.purpose != "batch":
        raise InvalidRequest(
            f"File {file_id} has purpose '{record.purpose}'; a batch needs purpose 'batch'",
            param="input_file_id",
        )
    now = int(time.time())
    batch = Batch(
        id=new_batch_id(),
        key_id=principal.key_id,
        tenant_id=principal.tenant_id,
        endpoint=str(endpoint),
        input_file_id=file_id,
        completion_window=str(window),
        status="validating",
        output_file_id=None,
        error_file_id=None,
        errors=None,
        metadata=_metadata(body.get("metadata")),
        total=0,
        completed=0,
        failed=0,
        created_at=now,
        expires_at=now + WINDOWS[str(window)],
    )
    batches = runner(request)
    await svc.db.run(batches.store.add, batch)
    batches.wake()
    return json_response(batch.as_json(), request_id)


async def _find(request: Request) -> tuple[BatchRunner, Batch, str]:
    svc, principal, request_id = await with_key(request)
    batches = runner(request)
    batch_id = request.path_params["batch_id"]
    batch = await svc.db.run(batches.store.get, batch_id, key_id=owner_scope(principal))
    return batches, found(batch, f"No such batch: {batch_id}", "batch_id"), request_id


async def retrieve_batch(request: Request) -> Response:
    _, batch, request_id = await _find(request)
    return json_response(batch.as_json(), request_id)


async def cancel_batch(request: Request) -> Response:
    """Lines not started never run; lines in flight finish and are recorded."""
    batches, batch, request_id = await _find(request)
    store, db = batches.store, batches.svc.db
    await db.run(
        store.transition,
        batch.id,
        ("validating", "in_progress"),
        "cancelling",
        cancelling_at=int(time.time()),
    )
    batches.wake()
    current = await db.run(store.get, batch.id)
    assert current is not None
    return json_response(current.as_json(), request_id)


async def list_batches(request: Request) -> Response:
    svc, principal, request_id = await with_key(request)
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("limit must be an integer", param="limit") from None
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be between 1 and 100", param="limit")
    found, more = await svc.db.run(
        runner(request).store.page,
        key_id=owner_scope(principal),
        limit=limit,
        after=request.query_params.get("after"),
    )
    data = [batch.as_json() for batch in found]
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


routes = [
    Route("/v1/batches", create_batch, methods=["POST"]),
    Route("/v1/batches", list_batches, methods=["GET"]),
    Route("/v1/batches/{batch_id}", retrieve_batch, methods=["GET"]),
    Route("/v1/batches/{batch_id}/cancel", cancel_batch, methods=["POST"]),
]
