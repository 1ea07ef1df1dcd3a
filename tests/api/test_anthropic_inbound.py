"""POST /v1/messages and /v1/messages/count_tokens on the bundled SmolLM2, in-process."""

from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient

from testsupport import ADMIN_KEY, CHAT_MODEL

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
ID = "11010519491231002X"  # a valid-looking Chinese resident ID: privacy policies see it


def ask(content: Any = "Say hello.", **extra: Any) -> dict[str, Any]:
    return {
        "model": CHAT_MODEL,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": content}],
        **extra,
    }


def new_key(app_client: TestClient, name: str, policy: str | None = None) -> str:
    body = {"name": name} | ({"privacy_policy": policy} if policy else {})
    response = app_client.post("/admin/keys", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def anthropic_error(response: Any, status: int, error_type: str) -> str:
    """The exact Anthropic error shape; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert sorted(body) == ["error", "request_id", "type"] and body["type"] == "error"
    assert body["request_id"] == response.headers["x-request-id"]
    assert sorted(body["error"]) == ["message", "type"]
    assert body["error"]["type"] == error_type and body["error"]["message"].strip()
    return str(body["error"]["message"])


def events(response: Any) -> list[dict[str, Any]]:
    """The stream's events, checking each ``event:`` line names its data's type."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    out = []
    for frame in response.text.split("\n\n")[:-1]:
        name_line, data_line = frame.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert name_line == f"event: {data['type']}"
        out.append(data)
    return out


def ledger_rows(app_client: TestClient, request_ids: list[str]) -> list[dict[str, Any]]:
    rows = app_client.get("/admin/usage/requests", params={"limit": 10_000}, headers=ADMIN)
    return [r for r in rows.json()["data"] if r["request_id"] in request_ids]


def test_message_shape_with_x_api_key(app_client: TestClient) -> None:
    key = new_key(app_client, "messages-shape")
    response = app_client.post(
        "/v1/messages",
        json=ask(system="You are terse.", temperature=0),
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    request_id = response.headers["x-request-id"]
    assert body["id"] == "msg_" + request_id.removeprefix("req_")
    assert (body["type"], body["role"], body["model"]) == ("message", "assistant", CHAT_MODEL)
    assert [block["type"] for block in body["content"]] == ["text"]
    assert body["content"][0]["text"]
    assert body["stop_reason"] in {"end_turn", "max_tokens"} and body["stop_sequence"] is None
    usage = body["usage"]
    assert usage["input_tokens"] > 0 and 0 < usage["output_tokens"] <= 16
    row = ledger_rows(app_client, [request_id])[0]
    assert row["endpoint"] == "messages" and row["status"] == "ok"
    # Anthropic's input_tokens leaves out what the prompt cache served (an
    # earlier request with the same prefix); the ledger counts the whole prompt.
    assert (row["prompt_tokens"], row["completion_tokens"]) == (
        usage["input_tokens"] + usage["cache_read_input_tokens"],
        usage["output_tokens"],
    )


def test_bearer_works_too_and_keys_are_checked(app_client: TestClient) -> None:
    key = new_key(app_client, "messages-bearer")
    ok = app_client.post("/v1/messages", json=ask(), headers={"authorization": f"Bearer {key}"})
    assert ok.status_code == 200, ok.text
    missing = app_client.post("/v1/messages", json=ask())
    assert "x-api-key" in anthropic_error(missing, 401, "authentication_error")
    wrong = app_client.post("/v1/messages", json=ask(), headers={"x-api-key": "sk-nope-0000"})
    anthropic_error(wrong, 401, "authentication_error")


def test_multi_turn_token_limit_and_stop_sequences(client: TestClient) -> None:
    turns = [
        {"role": "user", "content": [{"type": "text", "text": "My name is Ada."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello Ada."}]},
        {"role": "user", "content": "Write a long essay about rivers."},
    ]
    cut = client.post("/v1/messages", json=ask(max_tokens=3) | {"messages": turns}).json()
    assert cut["stop_reason"] == "max_tokens" and cut["usage"]["output_tokens"] == 3
    stopped = client.post(
        "/v1/messages",
        json=ask("Write three sentences about dogs.", max_tokens=40, stop_sequences=["."]),
    ).json()
    assert "." not in stopped["content"][0]["text"]
    assert stopped["stop_reason"] == "end_turn"


def test_stream_events_in_anthropic_order(client: TestClient) -> None:
    stream = events(client.post("/v1/messages", json=ask("Count to five.", stream=True)))
    kinds = [e["type"] for e in stream]
    assert kinds[:3] == ["message_start", "ping", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[3:-3]) == {"content_block_delta"}
    start = stream[0]["message"]
    assert start["id"].startswith("msg_") and start["content"] == []
    assert start["usage"]["input_tokens"] > 0  # an estimate until message_delta's count
    text = "".join(e["delta"]["text"] for e in stream if e["type"] == "content_block_delta")
    assert text
    final = stream[-2]
    assert final["delta"]["stop_reason"] in {"end_turn", "max_tokens"}
    assert final["usage"]["input_tokens"] > 0 and 0 < final["usage"]["output_tokens"] <= 16


def test_client_mistakes_are_anthropic_errors(client: TestClient) -> None:
    no_limit = ask()
    del no_limit["max_tokens"]
    assert "max_tokens" in anthropic_error(
        client.post("/v1/messages", json=no_limit), 400, "invalid_request_error"
    )
    unknown = client.post("/v1/messages", json=ask(model="no-such-model"))
    anthropic_error(unknown, 404, "not_found_error")
    typo = client.post("/v1/messages", json=ask(temprature=0.5))
    assert "temprature" in anthropic_error(typo, 400, "invalid_request_error")
    top_k = client.post("/v1/messages", json=ask(top_k=5))
    assert "top_k" in anthropic_error(top_k, 400, "invalid_request_error")
    bad_role = client.post(
        "/v1/messages", json=ask() | {"messages": [{"role": "system", "content": "x"}]}
    )
    anthropic_error(bad_role, 400, "invalid_request_error")
    not_json = client.post("/v1/messages", content=b"{", headers={"content-type": "text/plain"})
    anthropic_error(not_json, 400, "invalid_request_error")


def test_each_request_writes_one_ledger_row(client: TestClient, app_client: TestClient) -> None:
    ids = [
        client.post("/v1/messages", json=ask()).headers["x-request-id"],
        client.post("/v1/messages", json=ask(stream=True)).headers["x-request-id"],
        client.post("/v1/messages", json=ask(top_k=5)).headers["x-request-id"],
        client.post("/v1/messages", json=ask(model="no-such-model")).headers["x-request-id"],
    ]
    rows = ledger_rows(app_client, ids)
    assert sorted(r["request_id"] for r in rows) == sorted(ids)
    assert {r["endpoint"] for r in rows} == {"messages"}
    assert [r["status"] for r in sorted(rows, key=lambda r: ids.index(r["request_id"]))] == [
        "ok",
        "ok",
        "error",
        "error",
    ]


def test_block_policy_refuses_in_anthropic_shape(app_client: TestClient) -> None:
    key = new_key(app_client, "messages-blocked", policy="block")
    response = app_client.post(
        "/v1/messages", json=ask(f"我的身份证号是{ID}"), headers={"x-api-key": key}
    )
    message = anthropic_error(response, 403, "permission_error")
    assert "CN_RESIDENT_ID" in message and ID not in message
    rows = ledger_rows(app_client, [response.headers["x-request-id"]])
    assert len(rows) == 1 and rows[0]["status"] == "error" and rows[0]["endpoint"] == "messages"


def test_count_tokens(client: TestClient) -> None:
    body = {
        "model": CHAT_MODEL,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "How many tokens is this sentence?"}],
    }
    short = client.post("/v1/messages/count_tokens", json=body)
    assert short.status_code == 200, short.text
    assert list(short.json()) == ["input_tokens"] and short.json()["input_tokens"] > 0
    tool = {"name": "weather", "input_schema": {"type": "object", "properties": {}}}
    longer = client.post("/v1/messages/count_tokens", json=body | {"tools": [tool]}).json()
    assert longer["input_tokens"] > short.json()["input_tokens"]
    unknown = client.post("/v1/messages/count_tokens", json=body | {"model": "nope"})
    anthropic_error(unknown, 404, "not_found_error")


def test_router_errors_on_messages_paths_are_anthropic_shaped(client: TestClient) -> None:
    anthropic_error(client.get("/v1/messages"), 405, "invalid_request_error")
    anthropic_error(client.post("/v1/messages/batches", json={}), 404, "not_found_error")
