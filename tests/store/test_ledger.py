"""Every request writes exactly one ledger row, keyed by the x-request-id the client saw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from plinth.store.database import open_database
from plinth.store.migrations import MIGRATIONS, migrate
from testsupport import ADMIN_KEY

CHAT = "smollm2-135m-instruct"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def row_for(client: TestClient, response: Any) -> dict[str, Any]:
    request_id = response.headers["x-request-id"]
    found = client.get(f"/admin/usage/requests/{request_id}", headers=ADMIN)
    assert found.status_code == 200, found.text
    return dict(found.json())


def key_id(client: TestClient, user_key: str) -> str:
    keys = client.get("/admin/keys", headers=ADMIN).json()["data"]
    return str(
        next(
            k["id"]
            for k in keys
            if user_key.endswith(k["display"][-4:]) and k["display"][:14] == user_key[:14]
        )
    )


def test_successful_chat_row(client: TestClient, user_key: str) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={"model": CHAT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
    )
    usage = response.json()["usage"]
    row = row_for(client, response)
    assert row["status"] == "ok" and row["http_status"] == 200
    assert row["endpoint"] == "chat.completions" and row["model"] == CHAT
    assert row["prompt_tokens"] == usage["prompt_tokens"]
    assert row["completion_tokens"] == usage["completion_tokens"]
    assert row["key_id"] == key_id(client, user_key)
    assert 0 < row["ttft_ms"] < row["latency_ms"]  # the decode time is not counted in TTFT
    assert row["finish_reason"] in {"stop", "length"} and row["stream"] is False


def test_streaming_row_matches_the_usage_chunk(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={
            "model": CHAT,
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 6,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    frames = [f for f in response.text.split("\n\n") if f and f != "data: [DONE]"]
    usage = json.loads(frames[-1][6:])["usage"]
    row = row_for(client, response)
    assert row["stream"] is True and row["status"] == "ok"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )


def test_failures_are_booked_too(client: TestClient) -> None:
    missing = client.post(
        "/v1/chat/completions",
        json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]},
    )
    row = row_for(client, missing)
    assert (row["status"], row["http_status"], row["error_code"], row["model"]) == (
        "error",
        404,
        "model_not_found",
        "nope",
    )
    garbled = client.post(
        "/v1/chat/completions", content=b"{", headers={"content-type": "application/json"}
    )
    row = row_for(client, garbled)
    assert (row["status"], row["http_status"], row["prompt_tokens"]) == ("error", 400, 0)


def test_embeddings_row(client: TestClient) -> None:
    response = client.post(
        "/v1/embeddings", json={"model": "all-minilm-l6-v2", "input": ["one", "two three"]}
    )
    row = row_for(client, response)
    assert row["endpoint"] == "embeddings"
    assert row["prompt_tokens"] == response.json()["usage"]["prompt_tokens"] > 0


def test_request_ids_are_unique(client: TestClient) -> None:
    ids = {
        client.get("/v1/models").status_code
        and client.post("/v1/embeddings", json={"model": "all-minilm-l6-v2", "input": "x"}).headers[
            "x-request-id"
        ]
        for _ in range(5)
    }
    assert len(ids) == 5


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    assert migrate(engine) == []
    with engine.connect() as conn:
        versions = [r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_migrations")]
    assert versions == [version for version, _, _ in MIGRATIONS]
