"""One batch line through the gateway, exactly as an interactive request goes.

The line's request id is derived from the batch id and the line's index, so
the ledger's primary key holds a line to one row: a line re-run after a crash
(its outcome was not yet recorded) finds its ledger row taken and is not
billed again.

A line on an in-process model runs as a stream (collected into the whole
response), since only a stream can be stopped part-way: the runner stops
such a line when interactive traffic arrives and runs it again later. A line
stopped that way is ``withdrawn`` in its accounting, so the gateway books
nothing for it; the run that finishes it is booked once, as usual.
"""

from __future__ import annotations

from typing import Any, cast

from plinth.api.responses import answer, prepare
from plinth.auth import Principal
from plinth.batches.collect import whole_response
from plinth.batches.store import Batch
from plinth.batches.validation import ENDPOINTS, BatchLine
from plinth.engines.base import Json
from plinth.errors import AuthenticationFailed, error_body
from plinth.metering.accounting import Accounting
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.common import StreamOptions
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


GenerationRequest = ChatCompletionRequest | CompletionRequest


async def _generate(
    svc: Services, acct: Accounting, request: GenerationRequest, stream: bool
) -> Json:
    if not stream:
        return await svc.gateway.generate(acct, request)
    streamed = request.model_copy(
        update={"stream": True, "stream_options": StreamOptions(include_usage=True)}
    )
    chunks = [chunk async for chunk in svc.gateway.generate_stream(acct, streamed)]
    return whole_response(chunks, is_chat=isinstance(request, ChatCompletionRequest))


async def _call(svc: Services, endpoint: str, acct: Accounting, body: Any, stream: bool) -> Json:
    if endpoint == "/v1/embeddings":
        return await svc.gateway.embed(acct, cast(EmbeddingRequest, body))
    if endpoint == "/v1/responses":
        turn, chat = await prepare(svc, cast(ResponsesRequest, body), acct)
        return answer(turn, await _generate(svc, acct, chat, stream))
    return await _generate(svc, acct, cast(GenerationRequest, body), stream)


def open_line(
    svc: Services, batch: Batch, line: BatchLine, principal: Principal | None
) -> Accounting:
    """The line's accounting, as the gateway books it (batch id, batch price)."""
    _, label = ENDPOINTS[batch.endpoint]
    model = str(line.body.get("model") or "")
    acct = svc.gateway.open(line_request_id(batch.id, line.index), label, model, principal)
    acct.batch_id = batch.id
    return acct


async def run_line(
    svc: Services, batch: Batch, line: BatchLine, acct: Accounting, *, stream: bool = False
) -> tuple[bool, Json]:
    """Run the line; return (succeeded, its output- or error-file record).

    ``stream``: run a generation line as a stream, so cancelling this call
    stops the model at its next token (see the module's docstring).
    """
    request_id = acct.request_id
    model_cls, _ = ENDPOINTS[batch.endpoint]
    try:
        if acct.principal is None:
            raise AuthenticationFailed("The batch's API key was revoked", code="invalid_api_key")
        body = model_cls.model_validate(line.body)
        result = await _call(svc, batch.endpoint, acct, body, stream)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the line's error record
        if not acct.closed:
            svc.gateway.fail(acct, exc)  # booked like an interactive request that failed
        status, error = error_body(exc, request_id)
        return False, _record(line, request_id, status, error)
    return True, _record(line, request_id, 200, result)
