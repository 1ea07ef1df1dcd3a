"""Ollama's API: ``/api/chat``, ``/api/generate``, ``/api/embed`` and ``/api/embeddings``.

Any model Plinth serves can be called by Ollama's clients. One request:
admit (a bearer key, as Ollama clients send when given one; the body
validated) → translate (:mod:`plinth.api.ollama_translate`) → the gateway,
so privacy policies, budgets, routing and the one ledger row (endpoints
``ollama_chat``, ``ollama_generate``, ``ollama_embed``, ``ollama_embeddings``)
are those of the OpenAI routes → the answer in Ollama's fields, streamed as
NDJSON (``application/x-ndjson``) unless ``stream`` is false, as Ollama does.
Errors are Ollama's ``{"error": "..."}`` with the HTTP status Plinth's
OpenAI routes would give; a failure after the stream started is a last
``{"error": ...}`` line. A name with Ollama's default tag (``name:latest``)
finds the model ``name``. A request without input (how Ollama clients load
a model) is answered at once, ``done_reason: "load"``, with no ledger row:
nothing was generated. The model-management routes are in
:mod:`plinth.api.ollama_models`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from plinth.api import ollama_models
from plinth.api.dialect import (
    Admitted,
    admit,
    failed,
    first_chunk,
    json_answer,
    json_bytes,
    refuse,
    translated,
)
from plinth.api.http import REQUEST_ID_HEADER
from plinth.api.ollama_models import ollama_error, resolve_model
from plinth.api.ollama_translate import (
    RUNTIME_OPTIONS,
    ToolCallBuffer,
    chat_messages,
    done_reason,
    function_tools,
    generate_chat_messages,
    generation_fields,
    now_iso,
    ollama_tool_calls,
    refuse_generate_extras,
    stats,
)
from plinth.engines.base import Json
from plinth.errors import InvalidRequest, PlinthError, error_body
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.completions import CompletionRequest
from plinth.protocol.embeddings import EmbeddingRequest
from plinth.protocol.ollama import (
    ChatRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    Options,
)

log = logging.getLogger(__name__)
NDJSON = "application/x-ndjson"


_dumps = json_bytes


def _json(data: Any, request_id: str) -> Response:
    return json_answer(data, request_id)


def _no_sampling(options: Options | None) -> None:
    for name, value in (options or {}).items():
        if value is not None and name not in RUNTIME_OPTIONS:
            raise InvalidRequest(f"Embeddings take no option '{name}'", param=f"options.{name}")


# --- streaming -----------------------------------------------------------------------


def _piece(chunk: Json, kind: str, tools: ToolCallBuffer) -> str:
    text = ""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        text += delta.get("content") or choice.get("text") or ""
        if kind == "chat":
            tools.feed(delta.get("tool_calls") or [])
    return text


async def _lines(
    admitted: Admitted, model: str, kind: str, first: Json, chunks: AsyncIterator[Json]
) -> AsyncIterator[bytes]:
    """The chunks as Ollama's NDJSON lines; the last one has ``done`` and the counts."""
    acct, tools, finish = admitted.acct, ToolCallBuffer(), None

    def line(text: str, **extra: Any) -> bytes:
        message: Json = {"role": "assistant", "content": text}
        fields: Json = {"message": message} if kind == "chat" else {"response": text}
        return _dumps({"model": model, "created_at": now_iso(), **fields, **extra}) + b"\n"

    try:
        pending: Json | None = first
        while True:
            chunk = pending if pending is not None else await anext(chunks, None)
            pending = None
            if chunk is None:
                break
            for choice in chunk.get("choices") or ():
                finish = choice.get("finish_reason") or finish
            text = _piece(chunk, kind, tools)
            if text:
                yield line(text, done=False)
        calls = tools.drain()
        if calls:
            piece = {"role": "assistant", "content": "", "tool_calls": calls}
            yield _dumps({"model": model, "created_at": now_iso(), "message": piece,
                          "done": False}) + b"\n"  # fmt: skip
        yield line("", done=True, done_reason=done_reason(finish), **stats(acct))
    except Exception as exc:  # the status line is sent: an error line is all we can do
        if not isinstance(exc, PlinthError):
            log.exception("ollama stream %s failed unexpectedly", acct.request_id, exc_info=exc)
        _, body = error_body(exc, acct.request_id)
        yield _dumps({"error": body["error"]["message"]}) + b"\n"
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


async def _run(
    admitted: Admitted, request: ChatCompletionRequest | CompletionRequest, kind: str
) -> Response | Json:
    """Call the gateway: a streaming response, an error response, or the finished result."""
    svc, acct = admitted.svc, admitted.acct
    if request.stream:
        chunks = svc.gateway.generate_stream(acct, request)
        first = await first_chunk(chunks)
        if isinstance(first, BaseException):
            return failed(first, acct.request_id, ollama_error)
        lines = _lines(admitted, admitted.body.model, kind, first, chunks)
        headers = {REQUEST_ID_HEADER: acct.request_id, "cache-control": "no-cache"}
        return StreamingResponse(lines, media_type=NDJSON, headers=headers)
    try:
        return await svc.gateway.generate(acct, request)
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return failed(exc, acct.request_id, ollama_error)


def _loaded(admitted: Admitted, model: str, kind: str) -> Response:
    """Ollama's answer to a request without input: the model is ready (Plinth's always are)."""
    principal = admitted.acct.principal
    tenant_id = principal.tenant_id if principal else None
    admitted.svc.router.kind(model, tenant_id)  # an unknown model is a 404
    empty: Json = {"role": "assistant", "content": ""}
    fields: Json = {"message": empty} if kind == "chat" else {"response": ""}
    answer = {"model": admitted.body.model, "created_at": now_iso(), **fields}
    return _json({**answer, "done": True, "done_reason": "load"}, admitted.acct.request_id)


# --- routes --------------------------------------------------------------------------


async def chat(request: Request) -> Response:
    admitted = await admit(request, "ollama_chat", ChatRequest, ollama_error)
    if isinstance(admitted, Response):
        return admitted
    body: ChatRequest = admitted.body
    try:
        model = resolve_model(admitted.svc, body.model)
        if not body.messages:
            return _loaded(admitted, model, "chat")
        fields: Json = {"model": model, "messages": chat_messages(body.messages)}
        if body.tools:
            fields["tools"] = function_tools(body.tools)
        chat_request = translated(ChatCompletionRequest, fields | generation_fields(body))
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return refuse(admitted, exc, ollama_error)
    result = await _run(admitted, chat_request, "chat")
    if isinstance(result, Response):
        return result
    choice = (result.get("choices") or [{}])[0]
    answer = choice.get("message") or {}
    message: Json = {"role": "assistant", "content": answer.get("content") or ""}
    if answer.get("tool_calls"):
        message["tool_calls"] = ollama_tool_calls(answer["tool_calls"])
    return _json(_final(admitted, {"message": message}, choice), admitted.acct.request_id)


def _final(admitted: Admitted, fields: Json, choice: Json) -> Json:
    return {
        "model": admitted.body.model,
        "created_at": now_iso(),
        **fields,
        "done": True,
        "done_reason": done_reason(choice.get("finish_reason")),
        **stats(admitted.acct),
    }


async def generate(request: Request) -> Response:
    admitted = await admit(request, "ollama_generate", GenerateRequest, ollama_error)
    if isinstance(admitted, Response):
        return admitted
    body: GenerateRequest = admitted.body
    try:
        model = resolve_model(admitted.svc, body.model)
        if not body.prompt and not body.images:
            return _loaded(admitted, model, "generate")
        refuse_generate_extras(body)
        fields = generation_fields(body)
        gen_request: ChatCompletionRequest | CompletionRequest
        if body.raw:  # the prompt as written, no chat template
            if "response_format" in fields:
                raise InvalidRequest("format needs a chat prompt, not a raw one", param="format")
            gen_request = translated(
                CompletionRequest, {"model": model, "prompt": body.prompt} | fields
            )
        else:
            messages = generate_chat_messages(body)
            gen_request = translated(
                ChatCompletionRequest, {"model": model, "messages": messages} | fields
            )
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return refuse(admitted, exc, ollama_error)
    result = await _run(admitted, gen_request, "generate")
    if isinstance(result, Response):
        return result
    choice = (result.get("choices") or [{}])[0]
    text = (choice.get("message") or {}).get("content") or choice.get("text") or ""
    return _json(_final(admitted, {"response": text}, choice), admitted.acct.request_id)


async def _embed(admitted: Admitted, inputs: list[str], dimensions: int | None) -> Json | Response:
    svc, acct = admitted.svc, admitted.acct
    try:
        _no_sampling(admitted.body.options)
        fields: Json = {"model": resolve_model(svc, admitted.body.model), "input": inputs}
        if dimensions is not None:
            fields["dimensions"] = dimensions
        embed_request = translated(EmbeddingRequest, fields)
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return refuse(admitted, exc, ollama_error)
    try:
        return await svc.gateway.embed(acct, embed_request)
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes a response
        return failed(exc, acct.request_id, ollama_error)


async def embed(request: Request) -> Response:
    admitted = await admit(request, "ollama_embed", EmbedRequest, ollama_error)
    if isinstance(admitted, Response):
        return admitted
    body: EmbedRequest = admitted.body
    inputs = [body.input] if isinstance(body.input, str) else body.input
    result = await _embed(admitted, inputs, body.dimensions)
    if isinstance(result, Response):
        return result
    answer = {
        "model": body.model,
        "embeddings": [item["embedding"] for item in result["data"]],
        "total_duration": int(admitted.acct.latency_s() * 1e9),
        "load_duration": 0,
        "prompt_eval_count": result["usage"]["prompt_tokens"],
    }
    return _json(answer, admitted.acct.request_id)


async def embeddings(request: Request) -> Response:
    """The older route: ``prompt`` in, one ``embedding`` out (empty for an empty prompt)."""
    admitted = await admit(request, "ollama_embeddings", EmbeddingsRequest, ollama_error)
    if isinstance(admitted, Response):
        return admitted
    body: EmbeddingsRequest = admitted.body
    if not body.prompt:
        return _json({"embedding": []}, admitted.acct.request_id)
    result = await _embed(admitted, [body.prompt], None)
    if isinstance(result, Response):
        return result
    return _json({"embedding": result["data"][0]["embedding"]}, admitted.acct.request_id)


routes = [
    Route("/api/chat", chat, methods=["POST"]),
    Route("/api/generate", generate, methods=["POST"]),
    Route("/api/embed", embed, methods=["POST"]),
    Route("/api/embeddings", embeddings, methods=["POST"]),
    *ollama_models.routes,
]
