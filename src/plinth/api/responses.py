"""``POST /v1/responses``: a chat turn, optionally grounded by the ``file_search`` tool.

One request: admit (auth, body, 400s) → if file_search is on, search the
vector stores (those the caller's key may see, as in the Vector Stores API)
with the last user turn's text → put the numbered sources into that turn →
hand the result to the gateway as a chat completion, so privacy screening,
billing, failover and the one ledger row are exactly those of
``/v1/chat/completions`` (endpoint label ``responses``) → shape the answer as
a Response object, the model's ``[n]`` markers turned into file citations.
Streaming is in ``responses_stream``.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from plinth.api.generation import admit, failure, first_chunk
from plinth.api.http import REQUEST_ID_HEADER, json_response
from plinth.api.responses_objects import FileSearchRun, Turn, ending, usage
from plinth.api.responses_stream import response_events
from plinth.auth import Principal
from plinth.engines.base import Json
from plinth.errors import InvalidRequest
from plinth.metering.accounting import Accounting
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.responses import ResponsesRequest
from plinth.rag.citations import cite
from plinth.rag.prompt import DEFAULT_MAX_TOKENS as RAG_MAX_TOKENS
from plinth.rag.prompt import grounded_messages, search_query
from plinth.services import Services
from plinth.vectorstores.retrieve import retrieve

ENDPOINT = "responses"


# --- before the model call ---------------------------------------------------------------


async def run_file_search(
    svc: Services,
    principal: Principal | None,
    body: ResponsesRequest,
    messages: list[dict[str, str]],
) -> FileSearchRun | None:
    tool = body.file_search
    if tool is None:
        return None
    query = search_query(messages)
    if query is None:
        raise InvalidRequest(
            "file_search needs a user message with text to search for", param="input"
        )
    index = next(i for i, t in enumerate(body.tools or ()) if t.get("type") == "file_search")
    param = f"tools[{index}]"
    try:
        options = tool.options()
    except InvalidRequest as exc:  # add which tool the knob belongs to
        raise InvalidRequest(exc.message, param=f"{param}.{exc.param}", code=exc.code) from None
    # The Vector Stores API's rule: a key searches the stores it created, an admin any.
    key_id = None if principal is None or principal.is_admin else principal.key_id
    stores = svc.vector_stores
    sources = await retrieve(stores, key_id, tool.vector_store_ids, query, options, param=param)
    return FileSearchRun("fs_" + secrets.token_hex(16), query, sources)


async def prepare(
    svc: Services, body: ResponsesRequest, acct: Accounting
) -> tuple[Turn, ChatCompletionRequest]:
    """Search (if asked, as the caller) and build the chat request the gateway runs."""
    messages = body.messages()
    search = await run_file_search(svc, acct.principal, body, messages)
    if search is not None:
        messages = grounded_messages(messages, search.sources)
    chat: Json = {"model": body.model, "messages": messages, "stream": body.stream}
    if body.temperature is not None:
        chat["temperature"] = body.temperature
    if body.top_p is not None:
        chat["top_p"] = body.top_p
    if body.max_output_tokens is not None:
        chat["max_tokens"] = body.max_output_tokens
    elif search is not None:
        chat["max_tokens"] = RAG_MAX_TOKENS
    if body.stream:
        chat["stream_options"] = {"include_usage": True}  # the usage of response.completed
    if body.user is not None:
        chat["user"] = body.user
    response_format = body.text_format.response_format()
    if response_format is not None:
        chat["response_format"] = response_format
    return Turn(body, acct.request_id, search), ChatCompletionRequest.model_validate(chat)


# --- the route ---------------------------------------------------------------------------


def answer(turn: Turn, result: Json) -> Json:
    """A finished chat completion as the Response object."""
    choice = (result.get("choices") or [{}])[0]
    raw = (choice.get("message") or {}).get("content") or ""
    text, annotations = cite(raw, turn.citable) if turn.citable else (raw, [])
    status, incomplete = ending(choice.get("finish_reason"))
    output = [*turn.search_item(), turn.message(text, annotations, status)]
    return turn.response(
        status, output, usage=usage(result.get("usage")), incomplete_details=incomplete
    )


async def create_response(request: Request) -> Response:
    # admit() validates any request model; its signature names the generation ones.
    admitted = await admit(request, ENDPOINT, cast(Any, ResponsesRequest))
    if isinstance(admitted, Response):
        return admitted
    svc, acct, body = admitted
    body = cast(ResponsesRequest, body)
    try:
        turn, chat = await prepare(svc, body, acct)
    except BaseException as exc:  # the boundary: every error becomes a response
        if not isinstance(exc, Exception):  # cancelled (client gone): book it, then go
            svc.gateway.fail(acct, exc, status="client_disconnected")
            raise
        svc.gateway.fail(acct, exc)
        return failure(exc, acct.request_id)
    if not body.stream:
        try:
            result = await svc.gateway.generate(acct, chat)
        except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
            return failure(exc, acct.request_id)
        return json_response(answer(turn, result), acct.request_id)

    chunks = svc.gateway.generate_stream(acct, chat)
    first = await first_chunk(chunks, acct.request_id)
    if isinstance(first, Response):
        return first
    return StreamingResponse(
        response_events(turn, first, chunks),
        media_type="text/event-stream",
        headers={REQUEST_ID_HEADER: acct.request_id, "cache-control": "no-cache"},
    )


routes = [Route("/v1/responses", create_response, methods=["POST"])]
