"""Privacy policies on the real app with the bundled (local) models."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from testsupport import ADMIN_KEY, CHAT_MODEL, EMBED_MODEL

ID = "11010519491231002X"
PHONE = "13812345678"


def key_with(app_client: TestClient, policy: str | None, name: str) -> dict[str, str]:
    body = {"name": name} | ({"privacy_policy": policy} if policy else {})
    response = app_client.post(
        "/admin/keys", json=body, headers={"authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert response.status_code == 201, response.text
    return {"authorization": f"Bearer {response.json()['key']}"}


def chat(text: str) -> dict[str, object]:
    return {"model": CHAT_MODEL, "max_tokens": 2, "messages": [{"role": "user", "content": text}]}


def audit_row(app_client: TestClient, request_id: str) -> dict[str, object]:
    rows = app_client.get(
        "/admin/audit?limit=1000", headers={"authorization": f"Bearer {ADMIN_KEY}"}
    ).json()["data"]
    return next(r for r in rows if r["request_id"] == request_id)


def test_block_refuses_with_403_naming_types_not_values(app_client: TestClient) -> None:
    headers = key_with(app_client, "block", "blocked")
    response = app_client.post(
        "/v1/chat/completions", json=chat(f"我的身份证号是{ID}"), headers=headers
    )
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "sensitive_data_blocked" and error["type"] == "permission_error"
    assert "CN_RESIDENT_ID" in error["message"] and ID not in error["message"]
    row = audit_row(app_client, response.headers["x-request-id"])
    assert row["action"] == "block" and row["entities"] == {"CN_RESIDENT_ID": 1}
    assert row["deployment"] is None


def test_block_lets_clean_requests_through(app_client: TestClient) -> None:
    headers = key_with(app_client, "block", "blocked-clean")
    response = app_client.post("/v1/chat/completions", json=chat("hello"), headers=headers)
    assert response.status_code == 200, response.text
    row = audit_row(app_client, response.headers["x-request-id"])
    assert row["action"] == "allow" and row["entities"] == {}


def test_local_only_is_served_by_the_local_model(app_client: TestClient) -> None:
    headers = key_with(app_client, "local_only", "local")
    response = app_client.post("/v1/chat/completions", json=chat(f"phone {PHONE}"), headers=headers)
    assert response.status_code == 200, response.text
    row = audit_row(app_client, response.headers["x-request-id"])
    assert row["action"] == "local_only"
    assert (row["deployment"], row["locality"]) == (CHAT_MODEL, "local")


def test_embeddings_and_multi_part_content_are_screened(app_client: TestClient) -> None:
    headers = key_with(app_client, "block", "blocked-embed")
    response = app_client.post(
        "/v1/embeddings", json={"model": EMBED_MODEL, "input": ["ok", f"id {ID}"]}, headers=headers
    )
    assert response.status_code == 403
    parts = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": f"tel {PHONE}"}]}],
    }
    assert app_client.post("/v1/chat/completions", json=parts, headers=headers).status_code == 403
    prompt = {"model": CHAT_MODEL, "prompt": f"tel {PHONE}", "max_tokens": 1}
    assert app_client.post("/v1/completions", json=prompt, headers=headers).status_code == 403


def test_unknown_policy_names_are_refused(app_client: TestClient) -> None:
    response = app_client.post(
        "/admin/keys",
        json={"name": "x", "privacy_policy": "paranoid"},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "privacy_policy"


def test_planted_values_appear_nowhere_in_the_database(
    app_client: TestClient, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    planted_id, planted_phone = "44030519900101123X", "13900001111"  # valid check digit
    assert planted_id[:6] == "440305"
    for policy in ("allow", "local_only", "redact", "block"):
        headers = key_with(app_client, policy, f"planted-{policy}")
        app_client.post(
            "/v1/chat/completions",
            json=chat(f"身份证{planted_id} 电话{planted_phone}"),
            headers=headers,
        )
    app_client.get("/admin/audit", headers={"authorization": f"Bearer {ADMIN_KEY}"})  # flush
    dump = subprocess.run(
        ["sqlite3", str(data_dir / "plinth.db"), ".dump"], capture_output=True, text=True
    )
    text = (
        dump.stdout
        if dump.returncode == 0
        else (data_dir / "plinth.db").read_bytes().decode("latin-1")
    )
    assert "CN_MOBILE" in text and "CN_RESIDENT_ID" in text  # the audit rows are there…
    assert planted_id not in text and planted_phone not in text  # …the values are not
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert planted_id not in logged and planted_phone not in logged
