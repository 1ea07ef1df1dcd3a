"""The error contract, case by case: exact OpenAI shape, status, type, param and code.

Every error body is ``{"error": {"message", "type", "param", "code"}}`` with all four
keys present; every error on a ``/v1`` route carries the ``x-request-id`` header.
Engine failures are driven through a second app whose engine fails on purpose;
context overflow is a real llama.cpp rejection, not a mock.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gatewaysupport import AppFactory, deployment
from plinth.app import create_app
from plinth.engines.base import Engine, Json
from plinth.errors import EngineError, EngineUnavailable
from plinth.settings import Settings
from testsupport import CHAT_MODEL, EMBED_MODEL, assert_error
from upstreamfake import FakeUpstream

REQUEST_ID = re.compile(r"^req_[0-9a-f]{24}$")


def chat(content: Any = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": CHAT_MODEL, "messages": [{"role": "user", "content": content}], **extra}


# --- 400: bodies that are not JSON objects ---------------------------------------------


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"])
def test_invalid_json_is_400_on_every_endpoint(client: TestClient, path: str) -> None:
    response = client.post(
        path, content=b'{"model": ', headers={"content-type": "application/json"}
    )
    error = assert_error(response, 400, "invalid_request_error")
    assert error["message"].startswith("The request body is not valid JSON")
    assert REQUEST_ID.match(response.headers["x-request-id"])


@pytest.mark.parametrize(
    ("raw", "message_part"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"a string"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"model": "\xff"}', "not valid JSON"),
    ],
)
def test_bodies_that_are_not_json_objects(
    client: TestClient, raw: bytes, message_part: str
) -> None:
    response = client.post(
        "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    error = assert_error(response, 400, "invalid_request_error")
    assert message_part in error["message"]


# --- 400: schema errors name the parameter ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (chat(temperature="hot"), "temperature"),
        (chat(temperature=2.5), "temperature"),
        (chat(top_p=0), "top_p"),
        (chat(max_tokens=0), "max_tokens"),
        (chat(max_completion_tokens=-1), "max_completion_tokens"),
        (chat(stream="maybe"), "stream"),
        (chat(stop=5), "stop"),
        (chat(seed="seven"), "seed"),
        (chat(5), "messages[0].content"),
        ({"model": CHAT_MODEL, "messages": []}, "messages"),
        ({"model": CHAT_MODEL, "messages": "hi"}, "messages"),
        (
            {"model": CHAT_MODEL, "messages": [{"role": "wizard", "content": "x"}]},
            "messages[0].role",
        ),
        (
            {
                "model": CHAT_MODEL,
                "messages": [{"role": "user", "content": "a"}, {"content": "b"}],
            },
            "messages[1].role",
        ),
        ({"model": "", "messages": [{"role": "user", "content": "x"}]}, "model"),
        (chat(response_format={"type": "yaml"}), "response_format.type"),
        (chat(response_format={"type": "json_schema"}), "response_format.json_schema"),
        (
            chat(stream=True, stream_options={"include_usage": "perhaps"}),
            "stream_options.include_usage",
        ),
    ],
)
def test_schema_errors_name_the_parameter(
    client: TestClient, body: dict[str, Any], param: str
) -> None:
    error = assert_error(
        client.post("/v1/chat/completions", json=body), 400, "invalid_request_error", param=param
    )
    assert param in error["message"]


def test_a_nested_field_named_str_is_still_named(client: TestClient) -> None:
    """``json_schema.strict`` is a field whose name starts with "str": the path keeps it."""
    body = chat(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": "maybe"},
        }
    )
    assert_error(
        client.post("/v1/chat/completions", json=body),
        400,
        "invalid_request_error",
        param="response_format.json_schema.strict",
    )


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", {"model": CHAT_MODEL}, "messages"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}, "model"),
        ("/v1/completions", {"model": CHAT_MODEL}, "prompt"),
        ("/v1/embeddings", {"model": EMBED_MODEL}, "input"),
        ("/v1/embeddings", {"input": "x"}, "model"),
    ],
)
def test_missing_required_parameters(
    client: TestClient, path: str, body: dict[str, Any], param: str
) -> None:
    error = assert_error(client.post(path, json=body), 400, "invalid_request_error", param=param)
    assert error["message"] == f"Missing required parameter: '{param}'"


def test_user_message_without_content_is_a_400_not_a_crash(client: TestClient) -> None:
    """llama.cpp refuses a user message whose content is null; that is the client's error."""
    response = client.post("/v1/chat/completions", json=chat(None, max_tokens=2))
    error = assert_error(response, 400, "invalid_request_error", param="messages[0].content")
    assert "content" in error["message"]


# --- 400: parameters Plinth cannot honour are refused, never ignored -------------------


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"frobnicate": True}, "frobnicate"),
        ({"functions": []}, "functions"),
        ({"response_format": {"type": "text", "foo": 1}}, "response_format.foo"),
        ({"stream": True, "stream_options": {"bogus": 1}}, "stream_options.bogus"),
    ],
)
def test_unknown_fields_are_unsupported_parameters(
    client: TestClient, extra: dict[str, Any], param: str
) -> None:
    error = assert_error(
        client.post("/v1/chat/completions", json=chat(**extra)),
        400,
        "invalid_request_error",
        param=param,
        code="unsupported_parameter",
    )
    assert error["message"] == f"Unrecognized request argument supplied: {param}"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ],
)
def test_unsupported_values_are_400(client: TestClient, extra: dict[str, Any], param: str) -> None:
    assert_error(
        client.post("/v1/chat/completions", json=chat(**extra)),
        400,
        "invalid_request_error",
        param=param,
        code="unsupported_parameter",
    )


def test_n_of_one_is_accepted(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat(n=1, max_tokens=2))
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == 1


# --- 401 / 403 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/completions"),
        ("POST", "/v1/embeddings"),
        ("GET", "/v1/models"),
        ("GET", f"/v1/models/{CHAT_MODEL}"),
        ("GET", "/admin/keys"),
    ],
)
def test_missing_key_is_401(app_client: TestClient, method: str, path: str) -> None:
    response = app_client.request(method, path, json=chat())
    error = assert_error(response, 401, "authentication_error", code="missing_api_key")
    assert "Authorization: Bearer" in error["message"]
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "sk-plinth-x"])
def test_malformed_authorization_is_401(app_client: TestClient, header: str) -> None:
    response = app_client.post(
        "/v1/chat/completions", json=chat(), headers={"authorization": header}
    )
    assert_error(response, 401, "authentication_error", code="missing_api_key")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "secret",
    [
        "sk-plinth-this-is-not-a-valid-key-0123456789",
        "sk-wrong-1234",  # a short key must not be echoed whole either
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("GET", f"/v1/models/{CHAT_MODEL}")],
)
def test_invalid_key_is_401_and_never_echoed_whole(
    app_client: TestClient, secret: str, method: str, path: str
) -> None:
    response = app_client.request(
        method, path, json=chat(), headers={"authorization": f"Bearer {secret}"}
    )
    error = assert_error(response, 401, "authentication_error", code="invalid_api_key")
    assert response.headers["www-authenticate"] == "Bearer"
    assert error["message"].startswith("Incorrect API key provided")
    assert secret not in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/keys"),
        ("POST", "/admin/keys"),
        ("DELETE", "/admin/keys/key_0000000000000000"),
        ("GET", "/admin/usage"),
        ("GET", "/admin/usage/requests"),
        ("GET", "/admin/usage/requests/req_000000000000000000000000"),
    ],
)
def test_non_admin_key_is_403_on_admin_routes(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={"name": "sneaky", "admin": True})
    error = assert_error(response, 403, "permission_error", code="insufficient_permissions")
    assert "admin" in error["message"]


# --- 404 / 405 / 413 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", chat() | {"model": "gpt-9"}),
        ("/v1/chat/completions", chat(stream=True) | {"model": "gpt-9"}),
        ("/v1/completions", {"model": "gpt-9", "prompt": "x"}),
        ("/v1/embeddings", {"model": "gpt-9", "input": "x"}),
    ],
)
def test_unknown_model_is_404(client: TestClient, path: str, body: dict[str, Any]) -> None:
    error = assert_error(
        client.post(path, json=body),
        404,
        "invalid_request_error",
        param="model",
        code="model_not_found",
    )
    assert "'gpt-9'" in error["message"]


def test_unknown_model_on_models_route_is_404(client: TestClient) -> None:
    error = assert_error(
        client.get("/v1/models/no-such-model"),
        404,
        "invalid_request_error",
        param="model",
        code="model_not_found",
    )
    assert error["message"] == (
        "The model 'no-such-model' does not exist or is not served here; "
        "GET /v1/models lists the available ones"
    )


def test_oversized_body_is_413(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat("x" * 70_000))
    error = assert_error(response, 413, "invalid_request_error", code="payload_too_large")
    assert "65536" in error["message"]


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    """No content-length to trust: the limit is enforced while reading."""

    def body() -> Iterator[bytes]:
        yield b'{"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}]}'

    response = client.post(
        "/v1/chat/completions", content=body(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    error = assert_error(response, 413, "invalid_request_error", code="payload_too_large")
    assert "65536" in error["message"]


def test_body_just_under_the_limit_is_read(client: TestClient) -> None:
    raw = json.dumps(chat("x" * 60_000, max_tokens=1)).encode()
    assert len(raw) < 64 * 1024
    response = client.post(
        "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    # Read and parsed; far too long for a 1024-token context, which llama.cpp says.
    assert_error(
        response, 400, "invalid_request_error", param="messages", code="context_length_exceeded"
    )


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/chat", "/nothing", "/v1/embeddings/x"])
def test_unknown_route_is_404(client: TestClient, path: str) -> None:
    error = assert_error(client.get(path), 404, "invalid_request_error", code="not_found")
    assert path in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/chat/completions"),
        ("PUT", "/v1/embeddings"),
        ("POST", "/v1/models"),
        ("DELETE", "/health"),
        ("PATCH", "/admin/keys"),
    ],
)
def test_wrong_method_is_405(client: TestClient, method: str, path: str) -> None:
    error = assert_error(
        client.request(method, path), 405, "invalid_request_error", code="method_not_allowed"
    )
    assert method in error["message"] and path in error["message"]


# --- 409: every "already exists" ----------------------------------------------------------


def test_every_already_exists_is_409_already_exists(
    gateway_app: AppFactory, upstreams: Callable[[], FakeUpstream]
) -> None:
    up = upstreams()
    client = gateway_app([deployment(up, id="configured")])
    plan = {"name": "pro", "period": "month", "fee": "1", "included": "0"}
    for path, body, param in [
        ("/admin/tenants", {"name": "acme"}, "name"),
        ("/admin/plans", plan, "name"),
        ("/admin/deployments", deployment(up, id="live"), "id"),
    ]:
        first = client.post(path, json=body)
        assert first.status_code == 201, first.text
        again = client.post(path, json=body)
        error = assert_error(
            again, 409, "invalid_request_error", param=param, code="already_exists"
        )
        assert "exists" in error["message"]
    # A deployment that plinth.toml defines exists as much as one the API added.
    taken = client.post("/admin/deployments", json=deployment(up, id="configured"))
    assert_error(taken, 409, "invalid_request_error", param="id", code="already_exists")


# --- library errors that are client mistakes: one table, one handler ---------------------


def test_a_library_error_maps_through_the_table_to_a_400(
    gateway_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = gateway_app([])

    def too_deep(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(client.app.state.services.tenants, "list", too_deep)  # type: ignore[attr-defined]
    response = client.get("/admin/tenants")
    error = assert_error(response, 400, "invalid_request_error")
    assert error["message"] == "The request is nested too deeply"


def test_a_fault_outside_the_fast_path_is_a_500_naming_only_the_request_id(
    gateway_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = gateway_app([])

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail at 0xdeadbeef")

    monkeypatch.setattr(client.app.state.services.router, "listed_models", broken)  # type: ignore[attr-defined]
    response = client.get("/v1/models")
    error = assert_error(response, 500, "server_error", code="internal_error")
    request_id = response.headers["x-request-id"]
    assert REQUEST_ID.match(request_id) and request_id in error["message"]
    assert "secret" not in response.text


def test_a_deeply_nested_body_on_an_admin_route_is_a_400(admin: TestClient) -> None:
    """Parsing it fails deep in a library; whichever layer notices, the client gets a 400."""
    depth = 30_000  # under the 64 KiB body limit of the test settings
    raw = b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
    for path in ("/admin/keys", "/admin/tenants", "/admin/plans"):
        response = admin.post(path, content=raw, headers={"content-type": "application/json"})
        assert_error(response, 400, "invalid_request_error")


# --- a real llama.cpp rejection ----------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_context_overflow_is_400(client: TestClient, stream: bool) -> None:
    response = client.post(
        "/v1/chat/completions", json=chat("word " * 1500, max_tokens=4, stream=stream)
    )
    # A stream that fails before any output gets a real status, not an SSE frame.
    error = assert_error(
        response, 400, "invalid_request_error", param="messages", code="context_length_exceeded"
    )
    numbers = [int(n) for n in re.findall(r"\d+", error["message"])]
    assert 1024 in numbers and any(n > 1024 for n in numbers)


# --- every /v1 error names its request ---------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "authenticated"),
    [
        ("POST", "/v1/chat/completions", chat(), False),
        ("POST", "/v1/chat/completions", chat(n=3), True),
        ("POST", "/v1/chat/completions", chat() | {"model": "gpt-9"}, True),
        ("POST", "/v1/completions", {"model": CHAT_MODEL, "prompt": "x", "echo": True}, True),
        ("POST", "/v1/embeddings", {"model": EMBED_MODEL, "input": ""}, True),
        ("GET", "/v1/models", None, False),
        ("GET", "/v1/models/gpt-9", None, True),
        ("GET", "/v1/nothing", None, True),
        ("GET", "/v1/chat/completions", None, True),
    ],
)
def test_every_v1_error_carries_a_request_id(
    app_client: TestClient,
    user_key: str,
    method: str,
    path: str,
    body: Any,
    authenticated: bool,
) -> None:
    headers = {"authorization": f"Bearer {user_key}"} if authenticated else {}
    response = app_client.request(method, path, json=body, headers=headers)
    assert response.status_code >= 400
    assert REQUEST_ID.match(response.headers.get("x-request-id", "")), dict(response.headers)


# --- engine failures, on an app whose engine fails on purpose ----------------------------

FAILING_ADMIN = "sk-plinth-failing-admin-0123456789"


def chunk(content: str) -> Json:
    return {
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "internal-name",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }


class FailingEngine(Engine):
    """Stands in for a backend that fails; the gateway's mapping is under test."""

    def __init__(self, failure: BaseException, *, chunks: list[Json] | None = None):
        super().__init__("failing", "chat")
        self.failure = failure
        self.chunks = chunks or []

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def chat(self, body: Json) -> Json:
        raise self.failure

    async def _stream(self) -> AsyncIterator[Json]:
        for item in self.chunks:
            yield dict(item)
        raise self.failure

    def chat_stream(self, body: Json) -> AsyncIterator[Json]:
        return self._stream()


@pytest.fixture
def failing_app(tmp_path: Path) -> Callable[[Engine], TestClient]:
    def make(engine: Engine) -> TestClient:
        settings = Settings(data_dir=tmp_path, admin_key=FAILING_ADMIN)  # type: ignore[arg-type]
        test_client = TestClient(
            create_app(settings, engines=[engine]), raise_server_exceptions=False
        )
        test_client.headers["authorization"] = f"Bearer {FAILING_ADMIN}"
        return test_client

    return make


def failing_chat(**extra: Any) -> dict[str, Any]:
    return {"model": "failing", "messages": [{"role": "user", "content": "x"}], **extra}


@pytest.mark.parametrize("stream", [False, True])
def test_engine_error_is_500_with_its_message(
    failing_app: Callable[[Engine], TestClient], stream: bool
) -> None:
    with failing_app(FailingEngine(EngineError("Model 'failing' failed: out of memory"))) as c:
        response = c.post("/v1/chat/completions", json=failing_chat(stream=stream))
    error = assert_error(response, 500, "server_error", code="engine_error")
    assert error["message"] == "Model 'failing' failed: out of memory"
    assert REQUEST_ID.match(response.headers["x-request-id"])


def test_engine_unavailable_is_503(failing_app: Callable[[Engine], TestClient]) -> None:
    with failing_app(FailingEngine(EngineUnavailable("the model is still loading"))) as c:
        response = c.post("/v1/chat/completions", json=failing_chat())
    error = assert_error(response, 503, "server_error", code="engine_unavailable")
    assert error["message"] == "the model is still loading"


@pytest.mark.parametrize("stream", [False, True])
def test_unexpected_exception_is_500_naming_only_the_request_id(
    failing_app: Callable[[Engine], TestClient], stream: bool
) -> None:
    with failing_app(FailingEngine(RuntimeError("secret detail at 0xdeadbeef"))) as c:
        response = c.post("/v1/chat/completions", json=failing_chat(stream=stream))
    error = assert_error(response, 500, "server_error", code="internal_error")
    request_id = response.headers["x-request-id"]
    assert REQUEST_ID.match(request_id)
    assert request_id in error["message"]
    assert "secret detail" not in error["message"] and "RuntimeError" not in error["message"]


def sse_frames(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("\n\n")
    frames = response.text.split("\n\n")[:-1]
    assert all(frame.startswith("data: ") for frame in frames), frames
    return [frame.removeprefix("data: ") for frame in frames]


def test_stream_failing_after_output_ends_with_exactly_one_error_frame(
    failing_app: Callable[[Engine], TestClient],
) -> None:
    engine = FailingEngine(
        EngineError("Model 'failing' failed: decode error"), chunks=[chunk("Hi")]
    )
    with failing_app(engine) as c:
        response = c.post("/v1/chat/completions", json=failing_chat(stream=True))
    request_id = response.headers["x-request-id"]
    frames = sse_frames(response)
    assert len(frames) == 2
    assert json.loads(frames[0]) == chunk("Hi") | {
        "id": f"chatcmpl-{request_id}",
        "model": "failing",
    }
    assert frames[1].startswith('{"error":')
    assert json.loads(frames[1]) == {
        "error": {
            "message": "Model 'failing' failed: decode error",
            "type": "server_error",
            "param": None,
            "code": "engine_error",
        }
    }
    assert "[DONE]" not in response.text


def test_unexpected_mid_stream_failure_frame_hides_internals(
    failing_app: Callable[[Engine], TestClient],
) -> None:
    engine = FailingEngine(RuntimeError("secret detail"), chunks=[chunk("a"), chunk("b")])
    with failing_app(engine) as c:
        response = c.post("/v1/chat/completions", json=failing_chat(stream=True))
    request_id = response.headers["x-request-id"]
    frames = sse_frames(response)
    assert [json.loads(f)["choices"][0]["delta"]["content"] for f in frames[:2]] == ["a", "b"]
    assert len(frames) == 3
    error = json.loads(frames[2])
    assert sorted(error["error"]) == ["code", "message", "param", "type"]
    assert (error["error"]["type"], error["error"]["param"], error["error"]["code"]) == (
        "server_error",
        None,
        "internal_error",
    )
    assert request_id in error["error"]["message"]
    assert "secret detail" not in response.text


def test_stream_failing_before_output_gets_a_real_status(
    failing_app: Callable[[Engine], TestClient],
) -> None:
    with failing_app(FailingEngine(EngineError("Model 'failing' failed: upstream gone"))) as c:
        response = c.post("/v1/chat/completions", json=failing_chat(stream=True))
    assert not response.headers["content-type"].startswith("text/event-stream")
    error = assert_error(response, 500, "server_error", code="engine_error")
    assert error["message"] == "Model 'failing' failed: upstream gone"


def test_an_empty_stream_is_a_500(failing_app: Callable[[Engine], TestClient]) -> None:
    class EmptyStream(FailingEngine):
        async def _stream(self) -> AsyncIterator[Json]:
            for item in ():
                yield item

    with failing_app(EmptyStream(EngineError("unused"))) as c:
        response = c.post("/v1/chat/completions", json=failing_chat(stream=True))
    error = assert_error(response, 500, "server_error", code="internal_error")
    assert response.headers["x-request-id"] in error["message"]
