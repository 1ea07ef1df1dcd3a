"""One batch line through the gateway, exactly as an interactive request goes.

The line's request id is derived from the batch id and the line's index, so
the ledger's primary key holds a line to one row: a line re-run after a crash
(its outcome was not yet recorded) finds its ledger row taken and is not
billed again.
"""

from __future__ import annotations

from typing import Any, cast

from plinth.api.responses import answer, prepare
from plinth.auth import Principal
from plinth.batches.store import Batch
from plinth.batches.validation import ENDPOINTS, BatchLine
from plinth.engines.base import Json
from plinth.errors import AuthenticationFailed, error_body
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.completions import CompletionRequest
from plinth.protocol.embeddings import EmbeddingRequest
from plinth.protocol.responses import ResponsesRequest
from plinth.services import Services


def line_request_id(batch_id: str, index: int) -> str:
    return f"{batch_id}-{index}"


def _record(line: BatchLine, request_id: str, status: int, body: Json) -> Json:
    """A line of the output (2xx) or error file, in OpenAI's shape."""
    return {
        "id": "batch_req_" + request_id,
        "custom_id": line.custom_id,
        "response": {"status_code": status, "request_id": request_id, "body": body},
        "error": None,
    }


def expired_record(line: BatchLine, batch_id: str) -> Json:
    """The error file's line for a request the batch's window closed on."""
    return {
        "id": "batch_req_" + line_request_id(batch_id, line.index),
        "custom_id": line.custom_id,
        "response": None,
        "error": {
            "code": "batch_expired",
            "message": "This request could not be executed before the completion window expired.",
        },
    }


async def _call(svc: Services, endpoint: str, acct: Any, body: Any) -> Json:
    gateway = svc.gateway
    if endpoint == "/v1/embeddings":
        return await gateway.embed(acct, cast(EmbeddingRequest, body))
    if endpoint == "/v1/responses":
        turn, chat = await prepare(svc, cast(ResponsesRequest, body), acct)
        return answer(turn, await gateway.generate(acct, chat))
    return await gateway.generate(acct, cast(ChatCompletionRequest | CompletionRequest, body))


async def run_line(
    svc: Services, batch: Batch, line: BatchLine, principal: Principal | None
) -> tuple[bool, Json]:
    """Run the line; return (succeeded, its output- or error-file record)."""
    request_id = line_request_id(batch.id, line.index)
    model_cls, label = ENDPOINTS[batch.endpoint]
    model = str(line.body.get("model") or "")
    acct = svc.gateway.open(request_id, label, model, principal)
    acct.batch_id = batch.id
    try:
        if principal is None:
            raise AuthenticationFailed("The batch's API key was revoked", code="invalid_api_key")
        result = await _call(svc, batch.endpoint, acct, model_cls.model_validate(line.body))
    except Exception as exc:  # noqa: BLE001 - every failure becomes the line's error record
        if not acct.closed:
            svc.gateway.fail(acct, exc)  # booked like an interactive request that failed
        status, error = error_body(exc, request_id)
        return False, _record(line, request_id, status, error)
    return True, _record(line, request_id, 200, result)
