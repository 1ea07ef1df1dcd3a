"""Ollama's API (/api/chat, /api/generate, /api/embed …) on the bundled models, in-process."""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.testclient import TestClient

from testsupport import ADMIN_KEY, CHAT_MODEL, EMBED_MODEL

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
STATS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)
# The smallest PNG: one transparent pixel.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def chat(content: str = "Say hello.", **extra: Any) -> dict[str, Any]:
    return {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": content}],
        "stream": False,
        "options": {"num_predict": 12},
        **extra,
    }


def ndjson(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


def ollama_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and body["error"].strip()
    return str(body["error"])


def close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-4 for x, y in zip(a, b, strict=True))


def ledger_rows(app_client: TestClient, request_ids: list[str]) -> list[dict[str, Any]]:
    rows = app_client.get("/admin/usage/requests", params={"limit": 10_000}, headers=ADMIN)
    return [r for r in rows.json()["data"] if r["request_id"] in request_ids]


def test_chat_answer_in_ollama_fields(client: TestClient, app_client: TestClient) -> None:
    response = client.post("/api/chat", json=chat(options={"num_predict": 12, "temperature": 0}))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["model"] == CHAT_MODEL and body["created_at"].endswith("Z")
    assert body["message"]["role"] == "assistant" and body["message"]["content"]
    assert body["done"] is True and body["done_reason"] in {"stop", "length"}
    assert all(isinstance(body[name], int) for name in STATS)
    assert body["total_duration"] >= body["eval_duration"] >= 0
    assert body["prompt_eval_count"] > 0 and 0 < body["eval_count"] <= 12
    row = ledger_rows(app_client, [response.headers["x-request-id"]])[0]
    assert row["endpoint"] == "ollama_chat" and row["status"] == "ok"
    assert row["completion_tokens"] == body["eval_count"]


def test_chat_streams_ndjson_by_default(client: TestClient) -> None:
    body = chat("Count to five.")
    del body["stream"]
    lines = ndjson(client.post("/api/chat", json=body))
    assert all(line["done"] is False for line in lines[:-1]) and lines[-1]["done"] is True
    assert "".join(line["message"]["content"] for line in lines)
    assert lines[-1]["done_reason"] in {"stop", "length"}
    assert 0 < lines[-1]["eval_count"] <= 12 and lines[-1]["prompt_eval_count"] > 0


def test_length_and_stop_options(client: TestClient) -> None:
    cut = client.post("/api/chat", json=chat("Write an essay.", options={"num_predict": 3})).json()
    assert cut["done_reason"] == "length" and cut["eval_count"] == 3
    stopped = client.post(
        "/api/chat",
        json=chat("Write three sentences about dogs.", options={"num_predict": 40, "stop": ["."]}),
    ).json()
    assert "." not in stopped["message"]["content"] and stopped["done_reason"] == "stop"


def test_generate_chat_and_raw(client: TestClient, app_client: TestClient) -> None:
    body = {"model": CHAT_MODEL, "prompt": "Why is the sky blue?", "system": "Be brief."}
    answer = client.post(
        "/api/generate", json=body | {"stream": False, "options": {"num_predict": 8}}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"] and answer.json()["done"] is True
    lines = ndjson(client.post("/api/generate", json=body | {"options": {"num_predict": 8}}))
    assert "".join(line["response"] for line in lines) and lines[-1]["done"] is True
    raw = client.post(
        "/api/generate",
        json={"model": CHAT_MODEL, "prompt": "1, 2, 3,", "raw": True, "stream": False}
        | {"options": {"num_predict": 4}},
    )
    assert raw.status_code == 200 and raw.json()["eval_count"] == 4
    row = ledger_rows(app_client, [raw.headers["x-request-id"]])[0]
    assert row["endpoint"] == "ollama_generate"


def test_json_format(client: TestClient) -> None:
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    reply = client.post(
        "/api/chat",
        json=chat("Are you ok? Answer in JSON.", format=schema, options={"num_predict": 20}),
    ).json()
    assert isinstance(json.loads(reply["message"]["content"])["ok"], bool)


def test_load_requests_answer_without_generating(client: TestClient) -> None:
    loaded = client.post("/api/generate", json={"model": CHAT_MODEL, "stream": False}).json()
    assert loaded["done"] is True and loaded["done_reason"] == "load" and loaded["response"] == ""
    chat_loaded = client.post("/api/chat", json={"model": CHAT_MODEL, "messages": []}).json()
    assert chat_loaded["done_reason"] == "load"


def test_embed_and_old_embeddings(client: TestClient, app_client: TestClient) -> None:
    response = client.post("/api/embed", json={"model": EMBED_MODEL, "input": ["hello", "你好"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [len(v) for v in body["embeddings"]] == [384, 384] and body["prompt_eval_count"] > 0
    single = client.post("/api/embed", json={"model": EMBED_MODEL, "input": "hello"}).json()
    old = client.post("/api/embeddings", json={"model": EMBED_MODEL, "prompt": "hello"})
    # Batched and single inputs may differ in the last float digits.
    assert close(single["embeddings"][0], body["embeddings"][0])
    assert close(old.json()["embedding"], body["embeddings"][0])
    row = ledger_rows(app_client, [response.headers["x-request-id"]])[0]
    assert row["endpoint"] == "ollama_embed" and row["status"] == "ok"


def test_latest_tag_finds_the_model(client: TestClient) -> None:
    reply = client.post("/api/chat", json=chat(model=f"{CHAT_MODEL}:latest")).json()
    assert reply["done"] is True and reply["model"] == f"{CHAT_MODEL}:latest"


def test_model_listing_routes(client: TestClient) -> None:
    tags = client.get("/api/tags").json()["models"]
    names = {m["name"] for m in tags}
    assert {CHAT_MODEL, EMBED_MODEL} <= names
    local = next(m for m in tags if m["name"] == CHAT_MODEL)
    assert local["size"] > 0 and local["details"]["format"] == "gguf" and len(local["digest"]) == 64
    running = client.get("/api/ps").json()["models"]
    assert {CHAT_MODEL, EMBED_MODEL} <= {m["name"] for m in running}
    shown = client.post("/api/show", json={"model": CHAT_MODEL}).json()
    assert shown["capabilities"] == ["completion"] and shown["details"]["format"] == "gguf"
    embed_shown = client.post("/api/show", json={"name": EMBED_MODEL}).json()
    assert embed_shown["capabilities"] == ["embedding"]
    ollama_error(client.post("/api/show", json={"model": "nope"}), 404)
    version = client.get("/api/version").json()
    assert version["version"].count(".") == 2


def test_auth_and_refusals(client: TestClient) -> None:
    no_key = {"authorization": ""}
    assert "Bearer" in ollama_error(client.post("/api/chat", json=chat(), headers=no_key), 401)
    assert client.get("/api/version", headers=no_key).status_code == 200  # public, as Ollama's
    for method, path in [
        ("POST", "/api/pull"),
        ("POST", "/api/push"),
        ("POST", "/api/create"),
        ("POST", "/api/copy"),
        ("DELETE", "/api/delete"),
    ]:
        message = ollama_error(client.request(method, path, json={"model": CHAT_MODEL}), 403)
        assert "plinth models" in message and "/admin/deployments" in message


def test_client_mistakes_are_explained(client: TestClient) -> None:
    unknown = ollama_error(client.post("/api/chat", json=chat(model="no-such-model")), 404)
    assert "no-such-model" in unknown
    top_k = ollama_error(client.post("/api/chat", json=chat(options={"top_k": 5})), 400)
    assert "options.top_k" in top_k
    ignored = client.post("/api/chat", json=chat(options={"num_ctx": 4096, "num_predict": 2}))
    assert ignored.status_code == 200  # how to load a model is Plinth's business
    think = ollama_error(client.post("/api/chat", json=chat(think=True)), 400)
    assert "think" in think
    typo = ollama_error(client.post("/api/chat", json=chat(strem=False)), 400)
    assert "strem" in typo
    bad_image = chat() | {
        "messages": [{"role": "user", "content": "what is this?", "images": ["bm90IGFuIGltYWdl"]}]
    }
    assert "PNG" in ollama_error(client.post("/api/chat", json=bad_image), 400)
    orphan = chat() | {"messages": [{"role": "tool", "content": "42"}]}
    ollama_error(client.post("/api/chat", json=orphan), 400)
    suffix = {"model": CHAT_MODEL, "prompt": "def f(", "suffix": "return 1", "stream": False}
    assert "suffix" in ollama_error(client.post("/api/generate", json=suffix), 400)
    embed_opts = {"model": EMBED_MODEL, "input": "x", "options": {"temperature": 1}}
    ollama_error(client.post("/api/embed", json=embed_opts), 400)


def test_images_reach_the_engine_as_image_parts(client: TestClient) -> None:
    body = chat() | {"messages": [{"role": "user", "content": "What is this?", "images": [PNG]}]}
    response = client.post("/api/chat", json=body)
    # The bundled text model takes no images: refused by the engine, not lost on the way.
    assert response.status_code == 400 and "image" in ollama_error(response, 400).lower()


def test_router_errors_on_api_paths_are_ollama_shaped(client: TestClient) -> None:
    assert "/api/nope" in ollama_error(client.get("/api/nope"), 404)
    ollama_error(client.get("/api/chat"), 405)
