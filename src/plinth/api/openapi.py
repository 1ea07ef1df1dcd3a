"""The OpenAPI 3.1 document of the routes the app serves, built from the app itself.

Paths and methods come from walking the Starlette routes (mounts included),
so a route cannot be served without being described. Request bodies use the
pydantic models the handlers validate with (``REQUEST_MODELS``); a route the
code reads without a model gets a generic object. The error bodies are the
three shapes Plinth answers in: OpenAI's, Anthropic's (``/v1/messages``) and
Ollama's (``/api/*``). The document is built once per app, on first request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute, Mount, Route

from plinth import __version__
from plinth.api.admin import CreateKey, CreateTenant, UpdateKey, UpdateTenant
from plinth.api.dify import Retrieval
from plinth.api.plans import PlanChoice
from plinth.api.vector_store_reembed import StartReembed
from plinth.billing.admin_ops import NewLimits, NewPlan, NewPrice, WalletEntry
from plinth.deployment import Deployment
from plinth.protocol import anthropic, ollama
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.completions import CompletionRequest
from plinth.protocol.embeddings import EmbeddingRequest
from plinth.protocol.passthrough import ENDPOINTS as PASSTHROUGH
from plinth.protocol.responses import ResponsesRequest
from plinth.rerank_hits import RerankedSearch
from plinth.vectorstores import wire

Json = dict[str, Any]
REF = "#/components/schemas/{model}"
_STORE = "/v1/vector_stores/{vector_store_id}"

# (method, path as the document writes it) -> the model its handler validates the body with.
REQUEST_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/v1/chat/completions"): ChatCompletionRequest,
    ("POST", "/v1/completions"): CompletionRequest,
    ("POST", "/v1/embeddings"): EmbeddingRequest,
    ("POST", "/v1/responses"): ResponsesRequest,
    ("POST", "/v1/messages"): anthropic.MessagesRequest,
    ("POST", "/v1/messages/count_tokens"): anthropic.CountTokensRequest,
    ("POST", "/api/chat"): ollama.ChatRequest,
    ("POST", "/api/generate"): ollama.GenerateRequest,
    ("POST", "/api/embed"): ollama.EmbedRequest,
    ("POST", "/api/embeddings"): ollama.EmbeddingsRequest,
    ("POST", "/api/show"): ollama.ShowRequest,
    ("POST", "/v1/vector_stores"): wire.CreateStore,
    ("POST", _STORE): wire.UpdateStore,
    ("POST", _STORE + "/search"): RerankedSearch,
    ("POST", _STORE + "/files"): wire.CreateFile,
    ("POST", _STORE + "/files/{file_id}"): wire.UpdateFile,
    ("POST", _STORE + "/file_batches"): wire.CreateBatch,
    ("POST", _STORE + "/reembed"): StartReembed,
    ("POST", "/retrieval"): Retrieval,
    ("POST", "/admin/keys"): CreateKey,
    ("PATCH", "/admin/keys/{key_id}"): UpdateKey,
    ("POST", "/admin/tenants"): CreateTenant,
    ("PATCH", "/admin/tenants/{tenant}"): UpdateTenant,
    ("POST", "/admin/prices"): NewPrice,
    ("PUT", "/admin/limits/{subject}"): NewLimits,
    ("POST", "/admin/tenants/{tenant}/wallet/{kind}"): WalletEntry,
    ("POST", "/admin/plans"): NewPlan,
    ("PUT", "/admin/tenants/{tenant}/plan"): PlanChoice,
    ("POST", "/admin/deployments"): Deployment,
    **{("POST", e.path): e.wire for e in PASSTHROUGH.values() if not e.multipart},
}
# Multipart uploads (besides /v1/files): path -> the text fields' model (the file is apart).
UPLOAD_MODELS: dict[str, type[BaseModel]] = {
    e.path: e.wire for e in PASSTHROUGH.values() if e.multipart
}

# Routes that stream when the body asks for it, and how.
STREAMING: dict[str, str] = {
    "/v1/chat/completions": "text/event-stream",
    "/v1/completions": "text/event-stream",
    "/v1/responses": "text/event-stream",
    "/v1/messages": "text/event-stream",
    "/api/chat": "application/x-ndjson",
    "/api/generate": "application/x-ndjson",
}

# Routes anyone may call: no API key.
PUBLIC = ("/health", "/metrics", "/openapi.json", "/docs")

Dialect = Literal["openai", "anthropic", "ollama", "dify", "console", "plinth"]


class OpenAIError(BaseModel):
    """``{"error": {...}}``: every /v1 and /admin error."""

    class Detail(BaseModel):
        message: str
        type: str
        param: str | None = None
        code: str | None = None

    error: Detail


class AnthropicError(BaseModel):
    class Detail(BaseModel):
        type: str
        message: str

    type: Literal["error"] = "error"
    error: Detail


class OllamaError(BaseModel):
    error: str


class DifyError(BaseModel):
    error_code: int
    error_msg: str


_ERRORS: dict[Dialect, type[BaseModel]] = {
    "openai": OpenAIError,
    "anthropic": AnthropicError,
    "ollama": OllamaError,
    "dify": DifyError,
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # OpenAPI form: "{name}", no Starlette converters


def walk(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[Endpoint]:
    """Every (method, path) the routes serve; a static mount is one GET with a path parameter."""
    for route in routes:
        if isinstance(route, Route):
            path = _openapi_path(prefix + route.path)
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":  # Starlette adds it to every GET
                    yield Endpoint(method, path)
        elif isinstance(route, Mount):
            if route.routes:
                yield from walk(route.routes, prefix + route.path)
            else:
                yield Endpoint("GET", _openapi_path(prefix + route.path + "/{path}"))


def _openapi_path(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path) or "/"


def dialect_of(path: str) -> Dialect:
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/api/"):
        return "ollama"
    if path == "/retrieval":
        return "dify"
    if path == "/console" or path.startswith("/console/") or path == "/":
        return "console"
    if path.startswith(("/v1/", "/admin/")):
        return "openai"
    return "plinth"


_TAGS: dict[str, str] = {
    "/v1/messages": "Anthropic Messages",
    "/v1/vector_stores": "Vector stores",
    "/v1/files": "Files",
    "/v1/batches": "Batches",
    "/v1/models": "Models",
    "/v1/": "OpenAI generation",
    "/api/": "Ollama",
    "/retrieval": "Dify external knowledge",
    "/admin/deployments": "Admin: deployments",
    "/admin/": "Admin",
    "/console": "Console",
}


def tag_of(path: str) -> str:
    for prefix, tag in _TAGS.items():
        if path.startswith(prefix):
            return tag
    return "Console" if path == "/" else "Service"


def build_document(routes: Sequence[BaseRoute]) -> Json:
    """The whole OpenAPI document for these routes."""
    endpoints = list(dict.fromkeys(walk(routes)))
    models = sorted(
        {*REQUEST_MODELS.values(), *_ERRORS.values()}, key=lambda m: m.__module__ + m.__qualname__
    )
    refs, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schema_ref = {model: refs[(model, "validation")] for model in models}
    paths: dict[str, Json] = {}
    for endpoint in endpoints:
        operation = _operation(endpoint, schema_ref)
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Plinth",
            "version": __version__,
            "description": "OpenAI-compatible gateway for local and hosted models, with "
            "Anthropic, Ollama and Dify dialects, vector stores, batches and admin APIs.",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "console-session": {"type": "apiKey", "in": "cookie", "name": "plinth_session"},
            },
        },
        "security": [{"bearer": []}],
    }


def _operation(endpoint: Endpoint, schema_ref: dict[type[BaseModel], Json]) -> Json:
    path, method = endpoint.path, endpoint.method
    dialect = dialect_of(path)
    operation: Json = {
        "operationId": _operation_id(method, path),
        "tags": [tag_of(path)],
        "summary": f"{method} {path}",
    }
    params = re.findall(r"\{(\w+)\}", path)
    if params:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in params
        ]
    body = _request_body(method, path, dialect, schema_ref)
    if body is not None:
        operation["requestBody"] = body
    operation["responses"] = _responses(path, dialect, schema_ref)
    if path in PUBLIC or path.startswith("/docs"):
        operation["security"] = []
    elif dialect == "console":
        operation["security"] = [{"console-session": []}, {}]
    elif dialect == "anthropic":
        operation["security"] = [{"x-api-key": []}, {"bearer": []}]
    return operation


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"
    return f"{method.lower()}_{words}"


def _request_body(
    method: str, path: str, dialect: Dialect, schema_ref: dict[type[BaseModel], Json]
) -> Json | None:
    if method not in ("POST", "PUT", "PATCH"):
        return None
    model = REQUEST_MODELS.get((method, path))
    if model is not None:
        return {"required": True, "content": {"application/json": {"schema": schema_ref[model]}}}
    if path == "/v1/files":
        form = {
            "type": "object",
            "required": ["file", "purpose"],
            "properties": {
                "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                "purpose": {"type": "string"},
            },
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": form}}}
    if path in UPLOAD_MODELS:
        fields = UPLOAD_MODELS[path].model_json_schema()
        upload = {"type": "string", "contentMediaType": "application/octet-stream"}
        fields["properties"] = {"file": upload, **fields.get("properties", {})}
        fields["required"] = ["file", *fields.get("required", [])]
        return {"required": True, "content": {"multipart/form-data": {"schema": fields}}}
    if dialect == "console":
        return {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}
    return {"content": {"application/json": {"schema": {"type": "object"}}}}


def _responses(path: str, dialect: Dialect, schema_ref: dict[type[BaseModel], Json]) -> Json:
    if dialect == "console" or path == "/docs":
        ok: Json = {"description": "An HTML page", "content": {"text/html": {}}}
    elif path.startswith("/docs/") or path.startswith("/console/static/"):
        ok = {"description": "A static asset", "content": {"*/*": {}}}
    elif path == "/metrics":
        ok = {"description": "Prometheus metrics", "content": {"text/plain": {}}}
    else:
        content: Json = {"application/json": {"schema": {"type": "object"}}}
        if path in STREAMING:
            content[STREAMING[path]] = {"schema": {"type": "string"}}
        ok = {"description": "Success", "content": content}
    responses: Json = {"200": ok}
    error = _ERRORS.get(dialect)
    if error is not None:
        responses["default"] = {
            "description": "An error",
            "content": {"application/json": {"schema": schema_ref[error]}},
        }
    return responses
