"""/openapi.json describes every route the app serves and validates; /docs renders offline."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from plinth.api.openapi import REQUEST_MODELS

# POST routes that read a JSON body without a pydantic model (documented as a generic object).
GENERIC_BODIES = {
    "/v1/batches",
    "/v1/batches/{batch_id}/cancel",
    "/v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel",
    "/v1/files",
    # Multipart uploads: the file plus the text fields, described inline.
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
    "/admin/deployments/{deployment_id}",
    # Ollama's model-management calls, which Plinth refuses whatever the body.
    "/api/pull",
    "/api/push",
    "/api/create",
    "/api/copy",
    "/api/blobs/{digest}",
}

STATIC_FILES = {"/console/static/{path}": "console.js", "/docs/static/{path}": "docs.js"}


@pytest.fixture(scope="module")
def document(app_client: TestClient) -> Any:
    response = app_client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()


def served(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route, read off Starlette's own route objects."""
    out: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Route):
            path = re.sub(r":\w+\}", "}", prefix + route.path)
            out |= {(m, path) for m in route.methods or () if m != "HEAD"}
        elif isinstance(route, Mount) and route.routes:
            out |= served(list(route.routes), prefix + route.path)
        elif isinstance(route, Mount):
            out.add(("GET", prefix + route.path + "/{path}"))
    return out


def documented(document: Any) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}


def test_the_document_is_valid_openapi(document: Any) -> None:
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_served_route_is_in_the_document(app_client: TestClient, document: Any) -> None:
    routes = served(list(app_client.app.app.routes))  # type: ignore[attr-defined]
    assert len(routes) > 100
    assert documented(document) == routes
    for needed in [
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/messages"),
        ("POST", "/api/chat"),
        ("POST", "/v1/batches"),
        ("GET", "/console/keys"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    ]:
        assert needed in routes


def test_no_documented_route_is_unknown_to_the_server(
    app_client: TestClient, document: Any
) -> None:
    """A request to each documented (method, path) reaches a route (no 404/405 for the route)."""
    for method, path in sorted(documented(document)):
        # A static mount's {path} is a file it holds; any other parameter is an unknown id.
        concrete = path.replace("/static/{path}", "/static/" + STATIC_FILES.get(path, ""))
        concrete = re.sub(r"\{\w+\}", "x", concrete)
        response = app_client.request(method, concrete, follow_redirects=False)
        body = response.text
        assert "Unknown route" not in body, (method, path)
        assert response.status_code != 405, (method, path)


def test_request_bodies_are_the_models_the_handlers_validate_with(document: Any) -> None:
    ops = document["paths"]
    for (method, path), model in REQUEST_MODELS.items():
        assert path in ops and method.lower() in ops[path], (method, path)
        ref = ops[path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
        name = ref["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"][name]
        assert set(schema["properties"]) == {
            field.alias or key for key, field in model.model_fields.items()
        }, model
    chat = document["components"]["schemas"]["ChatCompletionRequest"]
    assert {"model", "messages"} <= set(chat["required"])


def test_every_json_post_outside_the_console_has_a_schema(document: Any) -> None:
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if method not in ("post", "put", "patch") or path.startswith("/console"):
                continue
            content = op["requestBody"]["content"]
            schema = next(iter(content.values()))["schema"]
            if path not in GENERIC_BODIES:
                assert "$ref" in schema, (method, path)


def test_streaming_routes_and_errors_are_described(document: Any) -> None:
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    error = chat["responses"]["default"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/OpenAIError")
    ollama = document["paths"]["/api/chat"]["post"]["responses"]
    assert "application/x-ndjson" in ollama["200"]["content"]
    assert ollama["default"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/OllamaError"
    )
    assert document["paths"]["/health"]["get"]["security"] == []


def test_docs_page_and_its_vendored_assets(app_client: TestClient) -> None:
    page = app_client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3
    assert 'data-openapi-url="/openapi.json"' in page.text
    for asset in assets:
        response = app_client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 300
    bundle = app_client.get("/docs/static/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    licence = app_client.get("/docs/static/LICENSE")
    assert "Apache License" in licence.text
