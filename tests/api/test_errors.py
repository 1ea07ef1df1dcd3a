"""Every failure is OpenAI-shaped JSON with the right status, including SSE error frames."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from plinth.app import create_app
from plinth.engines.base import Engine, Json
from plinth.errors import EngineError
from plinth.settings import Settings

CHAT = "smollm2-135m-instruct"


def assert_error(
    response: Any, status: int, error_type: str, *, param: Any = None, code: Any = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == error_type
    assert error["param"] == param
    assert error["code"] == code
    return dict(error)


def chat(content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": CHAT, "messages": [{"role": "user", "content": content}], **extra}


def test_invalid_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions", content=b'{"model": ', headers={"content-type": "application/json"}
    )
    error = assert_error(response, 400, "invalid_request_error")
    assert "not valid JSON" in error["message"]
    assert response.headers["x-request-id"].startswith("req_")


def test_empty_body_and_non_object_are_400(client: TestClient) -> None:
    assert_error(client.post("/v1/chat/completions", content=b""), 400, "invalid_request_error")
    assert_error(client.post("/v1/chat/completions", json=[1, 2]), 400, "invalid_request_error")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (chat(temperature="hot"), "temperature"),
        (chat(temperature=3), "temperature"),
        ({"model": CHAT}, "messages"),
        ({"model": CHAT, "messages": []}, "messages"),
        ({"model": CHAT, "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        (chat(max_tokens=0), "max_tokens"),
        (chat(response_format={"type": "yaml"}), "response_format.type"),
    ],
)
def test_schema_errors_name_the_parameter(
    client: TestClient, body: dict[str, Any], param: str
) -> None:
    error = assert_error(
        client.post("/v1/chat/completions", json=body), 400, "invalid_request_error", param=param
    )
    assert (
        param.split("[")[0].split(".")[0] in error["message"] or "Invalid value" in error["message"]
    )


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"frobnicate": True}, "frobnicate"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_unsupported_parameters_are_400_not_ignored(
    client: TestClient, extra: dict[str, Any], param: str
) -> None:
    assert_error(
        client.post("/v1/chat/completions", json=chat(**extra)),
        400,
        "invalid_request_error",
        param=param,
        code="unsupported_parameter",
    )


def test_missing_key_is_401(app_client: TestClient) -> None:
    response = app_client.post("/v1/chat/completions", json=chat())
    assert_error(response, 401, "authentication_error", code="missing_api_key")
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_key_is_401_and_not_echoed(app_client: TestClient) -> None:
    secret = "sk-plinth-this-is-not-a-valid-key-123456"
    response = app_client.get("/v1/models", headers={"authorization": f"Bearer {secret}"})
    error = assert_error(response, 401, "authentication_error", code="invalid_api_key")
    assert secret not in error["message"]


def test_non_admin_key_is_403_on_admin_routes(client: TestClient) -> None:
    for method, path in [("GET", "/admin/keys"), ("POST", "/admin/keys"), ("GET", "/admin/usage")]:
        assert_error(
            client.request(method, path), 403, "permission_error", code="insufficient_permissions"
        )


def test_unknown_model_is_404(client: TestClient) -> None:
    for path, body in [
        ("/v1/chat/completions", chat() | {"model": "gpt-9"}),
        ("/v1/completions", {"model": "gpt-9", "prompt": "x"}),
        ("/v1/embeddings", {"model": "gpt-9", "input": "x"}),
    ]:
        assert_error(
            client.post(path, json=body),
            404,
            "invalid_request_error",
            param="model",
            code="model_not_found",
        )
    assert_error(
        client.get("/v1/models/gpt-9"),
        404,
        "invalid_request_error",
        param="model",
        code="model_not_found",
    )


def test_oversized_body_is_413(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat("x" * 70_000))
    assert_error(response, 413, "invalid_request_error", code="payload_too_large")


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing"), 404, "invalid_request_error", code="not_found")
    assert_error(
        client.get("/v1/chat/completions"), 405, "invalid_request_error", code="method_not_allowed"
    )


def test_context_overflow_from_llama_cpp_is_400(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat("word " * 1500, max_tokens=4))
    error = assert_error(
        response, 400, "invalid_request_error", param="messages", code="context_length_exceeded"
    )
    assert "tokens" in error["message"]


class BrokenEngine(Engine):
    """Stands in for a backend that fails, to test the mapping (not the engine)."""

    def __init__(self, failure: BaseException, *, chunks_before_failure: int = 0):
        super().__init__("broken", "chat")
        self.failure = failure
        self.chunks_before_failure = chunks_before_failure

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def chat(self, body: Json) -> Json:
        raise self.failure

    async def _chunks(self) -> AsyncIterator[Json]:
        for i in range(self.chunks_before_failure):
            yield {
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "broken",
                "choices": [{"index": 0, "delta": {"content": f"t{i}"}, "finish_reason": None}],
            }
        raise self.failure

    def chat_stream(self, body: Json) -> AsyncIterator[Json]:
        return self._chunks()


@pytest.fixture
def broken_app(tmp_path: Path) -> Iterator[Any]:
    def make(engine: Engine) -> TestClient:
        settings = Settings(
            data_dir=tmp_path,
            admin_key="sk-plinth-broken-admin-0000",  # type: ignore[arg-type]
            load_bundled_models=False,
        )
        client = TestClient(create_app(settings, engines=[engine]), raise_server_exceptions=False)
        client.headers["authorization"] = "Bearer sk-plinth-broken-admin-0000"
        return client

    yield make


def broken_chat(**extra: Any) -> dict[str, Any]:
    return {"model": "broken", "messages": [{"role": "user", "content": "x"}], **extra}


def test_engine_failure_is_5xx_with_a_helpful_message(broken_app: Any) -> None:
    with broken_app(BrokenEngine(EngineError("Model 'broken' failed: out of memory"))) as c:
        error = assert_error(
            c.post("/v1/chat/completions", json=broken_chat()),
            500,
            "server_error",
            code="engine_error",
        )
    assert "out of memory" in error["message"]


def test_unexpected_exception_is_500_without_internals(broken_app: Any) -> None:
    with broken_app(BrokenEngine(RuntimeError("secret internal detail"))) as c:
        response = c.post("/v1/chat/completions", json=broken_chat())
    error = assert_error(response, 500, "server_error", code="internal_error")
    assert "secret internal detail" not in error["message"]
    assert response.headers["x-request-id"] in error["message"]


def test_stream_failing_before_output_gets_a_real_status(broken_app: Any) -> None:
    with broken_app(BrokenEngine(EngineError("upstream went away"))) as c:
        response = c.post("/v1/chat/completions", json=broken_chat(stream=True))
    assert_error(response, 500, "server_error", code="engine_error")


def test_stream_failing_after_output_ends_with_one_error_frame(broken_app: Any) -> None:
    import json

    engine = BrokenEngine(
        EngineError("Model 'broken' failed: decode error"), chunks_before_failure=2
    )
    with broken_app(engine) as c:
        response = c.post("/v1/chat/completions", json=broken_chat(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames)
    assert [json.loads(f[6:])["choices"][0]["delta"]["content"] for f in frames[:2]] == ["t0", "t1"]
    assert len(frames) == 3, "no [DONE] after an error frame"
    assert json.loads(frames[2][6:]) == {
        "error": {
            "message": "Model 'broken' failed: decode error",
            "type": "server_error",
            "param": None,
            "code": "engine_error",
        }
    }
