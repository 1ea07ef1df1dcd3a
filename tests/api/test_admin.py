"""The admin API: /admin/keys and /admin/usage, with exact shapes."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from testsupport import ADMIN_KEY, CHAT_MODEL, EMBED_MODEL, assert_error

KEY_JSON = [
    "admin",
    "created_at",
    "display",
    "id",
    "name",
    "object",
    "privacy_policy",
    "revoked_at",
    "tenant_id",
]
SUMMARY_COLUMNS = [
    "requests",
    "failed",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "avg_latency_ms",
    "total_tokens",
]


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def create_key(api: TestClient, name: str, **extra: Any) -> dict[str, Any]:
    response = api.post("/admin/keys", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_shows_the_secret_once(admin: TestClient) -> None:
    created = create_key(admin, "created once")
    assert sorted(created) == sorted([*KEY_JSON, "key"])
    secret = created["key"]
    assert re.fullmatch(r"sk-plinth-[A-Za-z0-9_-]{43}", secret)
    assert re.fullmatch(r"key_[0-9a-f]{16}", created["id"])
    assert created["object"] == "api_key" and created["name"] == "created once"
    assert created["display"] == f"{secret[:14]}…{secret[-4:]}"
    assert created["admin"] is False and created["revoked_at"] is None
    assert type(created["created_at"]) is int

    listing = admin.get("/admin/keys")
    assert listing.status_code == 200
    body = listing.json()
    assert body["object"] == "list"
    entry = next(k for k in body["data"] if k["id"] == created["id"])
    assert entry == {k: v for k, v in created.items() if k != "key"}
    assert all(sorted(k) == KEY_JSON for k in body["data"])
    assert secret not in listing.text
    assert hashlib.sha256(secret.encode()).hexdigest() not in listing.text


def test_new_key_works_then_revoke_stops_it_at_once(admin: TestClient) -> None:
    created = create_key(admin, "short-lived")
    user = bearer(created["key"])
    assert admin.get("/v1/models", headers=user).status_code == 200  # now cached as valid

    revoked = admin.delete(f"/admin/keys/{created['id']}")
    assert revoked.status_code == 200
    body = revoked.json()
    assert sorted(body) == KEY_JSON and body["id"] == created["id"]
    assert type(body["revoked_at"]) is int and body["revoked_at"] >= created["created_at"]

    denied = admin.get("/v1/models", headers=user)
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "invalid_api_key"
    chat = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}]}
    assert admin.post("/v1/chat/completions", json=chat, headers=user).status_code == 401

    listed = next(k for k in admin.get("/admin/keys").json()["data"] if k["id"] == created["id"])
    assert listed["revoked_at"] == body["revoked_at"]
    again = admin.delete(f"/admin/keys/{created['id']}")
    assert again.status_code == 200 and again.json()["revoked_at"] == body["revoked_at"]


def test_revoking_an_unknown_key_is_404(admin: TestClient) -> None:
    response = admin.delete("/admin/keys/key_0000000000000000")
    assert_error(response, 404, "invalid_request_error", param="key_id", code="not_found")
    assert "key_0000000000000000" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "name", None),
        ({"name": ""}, "name", None),
        ({"name": "n" * 201}, "name", None),
        ({"name": 5}, "name", None),
        ({"name": "x", "admin": "yes please"}, "admin", None),
        ({"name": "x", "scopes": ["all"]}, "scopes", "unsupported_parameter"),
    ],
)
def test_bad_create_bodies_are_400(
    admin: TestClient, body: dict[str, Any], param: str, code: str | None
) -> None:
    response = admin.post("/admin/keys", json=body)
    assert_error(response, 400, "invalid_request_error", param=param, code=code)


def test_create_with_invalid_json_is_400(admin: TestClient) -> None:
    response = admin.post(
        "/admin/keys", content=b"{name", headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "invalid_request_error")


def test_name_of_200_characters_is_accepted(admin: TestClient) -> None:
    assert create_key(admin, "n" * 200)["name"] == "n" * 200


def test_admin_flag_grants_the_admin_routes(admin: TestClient) -> None:
    second = create_key(admin, "second admin", admin=True)
    assert second["admin"] is True
    plain = create_key(admin, "plain user")
    assert admin.get("/admin/keys", headers=bearer(second["key"])).status_code == 200
    created = admin.post("/admin/keys", json={"name": "by second"}, headers=bearer(second["key"]))
    assert created.status_code == 201
    assert admin.get("/admin/keys", headers=bearer(plain["key"])).status_code == 403


def spend(admin: TestClient, key: str) -> list[dict[str, Any]]:
    """Two answered chats and one 404 under ``key``; returns the two usages."""
    usages = []
    for content in ("hi", "hello"):
        response = admin.post(
            "/v1/chat/completions",
            json={
                "model": CHAT_MODEL,
                "messages": [{"role": "user", "content": content}],
                "max_tokens": 3,
            },
            headers=bearer(key),
        )
        assert response.status_code == 200, response.text
        usages.append(response.json()["usage"])
    missing = admin.post(
        "/v1/chat/completions",
        json={"model": "nope", "messages": [{"role": "user", "content": "x"}]},
        headers=bearer(key),
    )
    assert missing.status_code == 404
    return usages


def test_usage_by_key_totals_exactly(admin: TestClient) -> None:
    key = create_key(admin, "metered")
    usages = spend(admin, key["key"])
    response = admin.get("/admin/usage", params={"by": "key"})
    assert response.status_code == 200
    body = response.json()
    assert (body["object"], body["by"]) == ("list", "key")
    row = next(r for r in body["data"] if r["key"] == key["id"])
    assert list(row) == ["key", *SUMMARY_COLUMNS]
    prompt = sum(u["prompt_tokens"] for u in usages)
    completion = sum(u["completion_tokens"] for u in usages)
    cached = sum((u.get("prompt_tokens_details") or {}).get("cached_tokens", 0) for u in usages)
    assert {k: v for k, v in row.items() if k != "avg_latency_ms"} == {
        "key": key["id"],
        "requests": 3,
        "failed": 1,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
        "total_tokens": prompt + completion,
    }
    assert isinstance(row["avg_latency_ms"], float) and row["avg_latency_ms"] > 0


def test_usage_by_model_is_the_default(admin: TestClient) -> None:
    admin.post("/v1/embeddings", json={"model": EMBED_MODEL, "input": "x"})
    default = admin.get("/admin/usage").json()
    explicit = admin.get("/admin/usage", params={"by": "model"}).json()
    assert default["by"] == "model"
    models = [r["model"] for r in explicit["data"]]
    assert {CHAT_MODEL, EMBED_MODEL} <= set(models)
    assert all(list(r) == ["model", *SUMMARY_COLUMNS] for r in explicit["data"])
    for row in explicit["data"]:
        assert row["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"]
        assert 0 <= row["failed"] <= row["requests"]


def test_usage_by_day_uses_the_ledger_dates(admin: TestClient) -> None:
    admin.post("/v1/embeddings", json={"model": EMBED_MODEL, "input": "today"})
    days = [r["day"] for r in admin.get("/admin/usage", params={"by": "day"}).json()["data"]]
    assert days and days == sorted(days) and len(days) == len(set(days))
    rows = admin.get("/admin/usage/requests", params={"limit": 10_000}).json()["data"]
    assert set(days) == {row["created_at"][:10] for row in rows}
    for day in days:
        datetime.strptime(day, "%Y-%m-%d")


@pytest.mark.parametrize("by", ["key", "model", "day"])
def test_usage_csv_matches_json(admin: TestClient, by: str) -> None:
    as_json = admin.get("/admin/usage", params={"by": by}).json()["data"]
    response = admin.get("/admin/usage", params={"by": by, "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert response.text.splitlines()[0] == ",".join([by, *SUMMARY_COLUMNS])
    expected = [{k: "" if v is None else str(v) for k, v in row.items()} for row in as_json]
    assert rows == expected


def test_usage_since_the_future_is_empty(admin: TestClient) -> None:
    assert admin.get("/admin/usage", params={"since": "2999-01-01"}).json()["data"] == []
    assert (
        admin.get("/admin/usage/requests", params={"since": "2999-01-01T00:00:00+00:00"}).json()[
            "data"
        ]
        == []
    )


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/admin/usage", {"by": "colour"}, "by"),
        ("/admin/usage", {"since": "yesterday"}, "since"),
        ("/admin/usage/requests", {"since": "2026-13-45"}, "since"),
        ("/admin/usage/requests", {"limit": "many"}, "limit"),
        ("/admin/usage/requests", {"limit": "0"}, "limit"),
        ("/admin/usage/requests", {"limit": "10001"}, "limit"),
    ],
)
def test_bad_usage_queries_are_400(
    admin: TestClient, path: str, params: dict[str, str], param: str
) -> None:
    response = admin.get(path, params=params)
    assert_error(response, 400, "invalid_request_error", param=param)
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_usage_requests_are_newest_first_and_limited(admin: TestClient) -> None:
    ids = []
    for _ in range(3):
        response = admin.post("/v1/embeddings", json={"model": EMBED_MODEL, "input": "tick"})
        ids.append(response.headers["x-request-id"])
    listing = admin.get("/admin/usage/requests", params={"limit": 2})
    assert listing.status_code == 200
    body = listing.json()
    assert body["object"] == "list"
    assert [r["request_id"] for r in body["data"]] == [ids[2], ids[1]]


def test_usage_request_by_id(admin: TestClient) -> None:
    response = admin.post("/v1/embeddings", json={"model": EMBED_MODEL, "input": "one row"})
    request_id = response.headers["x-request-id"]
    found = admin.get(f"/admin/usage/requests/{request_id}")
    assert found.status_code == 200
    row = found.json()
    assert row["request_id"] == request_id
    assert (row["endpoint"], row["model"], row["status"], row["http_status"]) == (
        "embeddings",
        EMBED_MODEL,
        "ok",
        200,
    )
    missing = admin.get("/admin/usage/requests/req_000000000000000000000000")
    assert_error(missing, 404, "invalid_request_error", param="request_id", code="not_found")


def test_admin_key_from_environment_is_admin(app_client: TestClient) -> None:
    response = app_client.get("/admin/keys", headers=bearer(ADMIN_KEY))
    assert response.status_code == 200
    names = [k["name"] for k in response.json()["data"]]
    assert "admin (PLINTH_ADMIN_KEY)" in names
