"""Keys and usage through the admin API."""

from __future__ import annotations

from starlette.testclient import TestClient

from testsupport import ADMIN_KEY

CHAT = "smollm2-135m-instruct"


def test_key_lifecycle(admin: TestClient) -> None:
    created = admin.post("/admin/keys", json={"name": "lifecycle"})
    assert created.status_code == 201
    key = created.json()
    assert key["key"].startswith("sk-plinth-") and key["admin"] is False
    listing = admin.get("/admin/keys").text
    assert key["id"] in listing and key["key"] not in listing and key["display"] in listing

    user = {"authorization": f"Bearer {key['key']}"}
    assert admin.get("/v1/models", headers=user).status_code == 200
    revoked = admin.delete(f"/admin/keys/{key['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert admin.get("/v1/models", headers=user).status_code == 401
    assert admin.delete("/admin/keys/key_doesnotexist").status_code == 404


def test_admin_keys_can_administer(admin: TestClient) -> None:
    key = admin.post("/admin/keys", json={"name": "second admin", "admin": True}).json()
    response = admin.get("/admin/keys", headers={"authorization": f"Bearer {key['key']}"})
    assert response.status_code == 200


def test_bad_create_bodies(admin: TestClient) -> None:
    for body in ({}, {"name": ""}, {"name": "x", "admin": "yes please"}, {"name": "x", "y": 1}):
        response = admin.post("/admin/keys", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_usage_summaries(admin: TestClient) -> None:
    admin.post(
        "/v1/chat/completions",
        json={"model": CHAT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
    )
    by_model = admin.get("/admin/usage", params={"by": "model"}).json()
    row = next(r for r in by_model["data"] if r["model"] == CHAT)
    assert row["requests"] >= 1 and row["completion_tokens"] >= 1
    assert row["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"]
    by_day = admin.get("/admin/usage", params={"by": "day"}).json()["data"]
    assert len(by_day[-1]["day"]) == 10
    csv_text = admin.get("/admin/usage", params={"by": "key", "format": "csv"}).text
    assert csv_text.splitlines()[0].startswith("key,requests,failed")
    assert admin.get("/admin/usage", params={"since": "2999-01-01"}).json()["data"] == []
    for params, param in (
        ({"by": "colour"}, "by"),
        ({"since": "yesterday"}, "since"),
        ({"limit": "many"}, "limit"),
    ):
        path = "/admin/usage/requests" if "limit" in params else "/admin/usage"
        response = admin.get(path, params=params)
        assert response.status_code == 400 and response.json()["error"]["param"] == param


def test_admin_key_from_environment_is_admin(app_client: TestClient) -> None:
    response = app_client.get("/admin/keys", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    names = [k["name"] for k in response.json()["data"]]
    assert "admin (PLINTH_ADMIN_KEY)" in names
