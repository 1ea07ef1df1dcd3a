"""Issue 4's end-to-end case: one public name, a local model and a cloud upstream.

The cloud side is a fake upstream on loopback (real HTTP) that echoes what it
receives, so the test sees both what left Plinth and what the client got back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from plinth.settings import Settings
from testsupport import ADMIN_KEY, CHAT_MODEL
from upstreamfake import FakeUpstream

ID = "11010519491231002X"
PHONE = "13812345678"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def hybrid(app_client: TestClient) -> Iterator[FakeUpstream]:
    """'assistant' served by the cloud first (priority 0), the local model as fallback."""
    with FakeUpstream() as cloud:
        made = [
            {
                "id": "assistant-cloud",
                "model": "assistant",
                "base_url": cloud.base_url,
                "locality": "cloud",
                "priority": 0,
                "upstream_model": "big-cloud-model",
            },
            {
                "id": "assistant-local",
                "model": "assistant",
                "engine": "llamacpp",
                "upstream_model": CHAT_MODEL,
                "locality": "local",
                "priority": 1,
            },
        ]
        for spec in made:
            response = app_client.post("/admin/deployments", json=spec, headers=ADMIN)
            assert response.status_code == 201, response.text
        try:
            yield cloud
        finally:
            for spec in made:
                app_client.delete(f"/admin/deployments/{spec['id']}", headers=ADMIN)


def key(app_client: TestClient, policy: str) -> dict[str, str]:
    response = app_client.post(
        "/admin/keys", json={"name": f"hybrid-{policy}", "privacy_policy": policy}, headers=ADMIN
    )
    return {"authorization": f"Bearer {response.json()['key']}"}


def ask(text: str, **extra: object) -> dict[str, object]:
    return {
        "model": "assistant",
        "max_tokens": 4,
        "messages": [{"role": "user", "content": text}],
    } | extra


def audit(app_client: TestClient, request_id: str) -> dict[str, object]:
    rows = app_client.get("/admin/audit?limit=10000", headers=ADMIN).json()["data"]
    return next(r for r in rows if r["request_id"] == request_id)


def test_allow_goes_to_the_cloud_with_the_values(
    app_client: TestClient, hybrid: FakeUpstream
) -> None:
    response = app_client.post(
        "/v1/chat/completions", json=ask(f"ID {ID}"), headers=key(app_client, "allow")
    )
    assert response.status_code == 200, response.text
    assert ID in json.dumps(hybrid.generation_requests()[-1].body)


def test_local_only_keeps_a_resident_id_on_the_local_model(
    app_client: TestClient, hybrid: FakeUpstream
) -> None:
    response = app_client.post(
        "/v1/chat/completions",
        json=ask(f"我的身份证号是{ID}，请记住"),
        headers=key(app_client, "local_only"),
    )
    assert response.status_code == 200, response.text
    assert hybrid.generation_requests() == []  # nothing reached the cloud
    row = audit(app_client, response.headers["x-request-id"])
    assert (row["deployment"], row["locality"], row["action"]) == (
        "assistant-local",
        "local",
        "local_only",
    )
    assert row["entities"] == {"CN_RESIDENT_ID": 1}


def test_local_only_without_a_local_deployment_is_a_403_that_says_why(
    app_client: TestClient,
) -> None:
    with FakeUpstream() as cloud:
        spec = {
            "id": "cloud-only",
            "model": "cloud-only",
            "base_url": cloud.base_url,
            "locality": "cloud",
        }
        assert app_client.post("/admin/deployments", json=spec, headers=ADMIN).status_code == 201
        try:
            body = ask(f"ID {ID}") | {"model": "cloud-only"}
            response = app_client.post(
                "/v1/chat/completions", json=body, headers=key(app_client, "local_only")
            )
        finally:
            app_client.delete("/admin/deployments/cloud-only", headers=ADMIN)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "locality_not_available" and error["type"] == "permission_error"
    assert "local" in error["message"] and "CN_RESIDENT_ID" in error["message"]
    assert cloud.generation_requests() == []


@pytest.mark.parametrize("stream", [False, True])
def test_redact_sends_placeholders_and_restores_the_answer(
    app_client: TestClient, hybrid: FakeUpstream, stream: bool
) -> None:
    text = f"身份证 {ID}，手机 {PHONE}。"
    response = app_client.post(
        "/v1/chat/completions", json=ask(text, stream=stream), headers=key(app_client, "redact")
    )
    assert response.status_code == 200, response.text
    seen = json.dumps(hybrid.generation_requests()[-1].body, ensure_ascii=False)
    assert ID not in seen and PHONE not in seen  # no raw value left the building
    assert "[CN_RESIDENT_ID_1]" in seen and "[CN_MOBILE_1]" in seen
    if stream:
        frames = [line[6:] for line in response.text.split("\n") if line.startswith("data: {")]
        answer = "".join(
            c["choices"][0]["delta"].get("content") or ""
            for c in map(json.loads, frames)
            if c.get("choices")
        )
    else:
        answer = response.json()["choices"][0]["message"]["content"]
    assert answer == text  # the echo came back with the values restored
    row = audit(app_client, response.headers["x-request-id"])
    assert row["redacted"] is True and row["locality"] == "cloud"


def test_redact_covers_tool_call_arguments_sent_upstream(
    app_client: TestClient, hybrid: FakeUpstream
) -> None:
    hybrid.reply = None
    body = ask(f"call {PHONE}") | {
        "tools": [
            {"type": "function", "function": {"name": "dial", "parameters": {"type": "object"}}}
        ]
    }
    earlier = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "dial", "arguments": json.dumps({"n": PHONE})},
            }
        ],
    }
    body["messages"] = [
        earlier,
        {"role": "tool", "tool_call_id": "c1", "content": "busy"},
        *body["messages"],
    ]  # type: ignore[index]
    response = app_client.post("/v1/chat/completions", json=body, headers=key(app_client, "redact"))
    assert response.status_code == 200, response.text
    sent = hybrid.generation_requests()[-1].body
    assert sent is not None
    assert json.loads(sent["messages"][0]["tool_calls"][0]["function"]["arguments"]) == {
        "n": "[CN_MOBILE_1]"
    }


# --- issue 14: the new types (names, addresses, plates) and the new forms of numbers ------

NEW_VALUES = {
    "PERSON": "上官婉清",
    "ADDRESS": "杭州市西湖区文三路478号华星大厦",
    "CN_PLATE": "浙AD27183",
    "CN_BANK_CARD": "62283301756820528",  # 17 digits: a real UnionPay length
    "CN_MOBILE": "147.3321.0958",
}
NEW_TEXT = (
    f"联系人：{NEW_VALUES['PERSON']}，地址：{NEW_VALUES['ADDRESS']}，"
    f"车牌{NEW_VALUES['CN_PLATE']}，卡号{NEW_VALUES['CN_BANK_CARD']}，"
    f"电话{NEW_VALUES['CN_MOBILE']}。"
)


def with_tool_call(body: dict[str, object]) -> dict[str, object]:
    """The same values once more, inside an earlier turn's tool-call arguments."""
    arguments = json.dumps(
        {"name": NEW_VALUES["PERSON"], "plate": NEW_VALUES["CN_PLATE"]}, ensure_ascii=False
    )
    earlier = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": arguments}}
        ],
    }
    messages = [earlier, {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
    return body | {"messages": [*messages, *body["messages"]]}  # type: ignore[list-item]


def answer_of(response: httpx.Response, stream: bool) -> str:
    if not stream:
        return str(response.json()["choices"][0]["message"]["content"])
    frames = [line[6:] for line in response.text.split("\n") if line.startswith("data: {")]
    chunks = [json.loads(frame) for frame in frames]
    return "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )


def assert_nowhere(
    values: dict[str, str], *, data_dir: Path, logs: str, cloud: FakeUpstream
) -> None:
    recorded = json.dumps([r.body for r in cloud.requests], ensure_ascii=False)
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    for value in values.values():
        assert value not in recorded, value
        assert value not in logs, value
        assert value.encode() not in stored, value


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("tools", [False, True])
def test_redact_hides_every_new_type_and_restores_it(
    app_client: TestClient,
    hybrid: FakeUpstream,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
    tools: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = ask(NEW_TEXT, stream=stream)
    response = app_client.post(
        "/v1/chat/completions",
        json=with_tool_call(body) if tools else body,
        headers=key(app_client, "redact"),
    )
    assert response.status_code == 200, response.text
    sent = json.dumps(hybrid.generation_requests()[-1].body, ensure_ascii=False)
    for entity in NEW_VALUES:
        assert f"[{entity}_1]" in sent, (entity, sent)
    assert answer_of(response, stream) == NEW_TEXT  # the echo came back with the values
    row = audit(app_client, response.headers["x-request-id"])
    assert row["redacted"] is True and set(NEW_VALUES) <= set(row["entities"])  # type: ignore[arg-type]
    assert_nowhere(NEW_VALUES, data_dir=settings.data_dir, logs=caplog.text, cloud=hybrid)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("tools", [False, True])
def test_local_only_keeps_every_new_type_off_the_cloud(
    app_client: TestClient,
    hybrid: FakeUpstream,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
    tools: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    for entity, value in NEW_VALUES.items():
        body = ask(f"{value}", stream=stream) if entity != "PERSON" else ask(f"联系人：{value}")
        body = with_tool_call(ask("hi", stream=stream)) if tools and entity == "PERSON" else body
        response = app_client.post(
            "/v1/chat/completions", json=body, headers=key(app_client, "local_only")
        )
        assert response.status_code == 200, (entity, response.text)
        row = audit(app_client, response.headers["x-request-id"])
        assert (row["locality"], row["action"]) == ("local", "local_only"), entity
        assert entity in row["entities"], (entity, row["entities"])  # type: ignore[operator]
    assert hybrid.generation_requests() == []  # nothing reached the cloud
    assert_nowhere(NEW_VALUES, data_dir=settings.data_dir, logs=caplog.text, cloud=hybrid)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("tools", [False, True])
def test_block_refuses_every_new_type(
    app_client: TestClient,
    hybrid: FakeUpstream,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
    tools: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = key(app_client, "block")
    for entity, value in NEW_VALUES.items():
        body = ask(f"请处理：{value}", stream=stream)
        if entity == "PERSON":
            body = with_tool_call(ask("hi", stream=stream)) if tools else ask(f"联系人：{value}")
        response = app_client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 403, (entity, response.text)
        error = response.json()["error"]
        assert error["code"] == "sensitive_data_blocked" and entity in error["message"]
        assert value not in response.text
    assert hybrid.generation_requests() == []
    assert_nowhere(NEW_VALUES, data_dir=settings.data_dir, logs=caplog.text, cloud=hybrid)
