"""``PATCH /admin/keys/{id}``: a key's privacy policy changed through the admin API."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from testsupport import CHAT_MODEL, assert_error

RESIDENT_ID = "11010519491231002X"


def _create(admin: TestClient, **extra: Any) -> dict[str, Any]:
    response = admin.post("/admin/keys", json={"name": "policy-key", **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_new_policy_applies_to_the_keys_next_request(admin: TestClient) -> None:
    created = _create(admin, privacy_policy="allow")
    user = {"authorization": f"Bearer {created['key']}"}
    assert admin.get("/v1/models", headers=user).status_code == 200  # cached with "allow"

    changed = admin.patch(f"/admin/keys/{created['id']}", json={"privacy_policy": "block"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["privacy_policy"] == "block" and changed.json()["id"] == created["id"]
    assert "key" not in changed.json()  # never the secret again

    chat = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": f"ID {RESIDENT_ID}"}]}
    refused = admin.post("/v1/chat/completions", json=chat, headers=user)
    assert refused.status_code == 403, refused.text  # no wait for the auth cache
    assert refused.json()["error"]["code"] == "sensitive_data_blocked"
    listed = next(k for k in admin.get("/admin/keys").json()["data"] if k["id"] == created["id"])
    assert listed["privacy_policy"] == "block"


def test_null_clears_it_and_an_empty_body_changes_nothing(admin: TestClient) -> None:
    created = _create(admin, privacy_policy="redact")
    path = f"/admin/keys/{created['id']}"
    unchanged = admin.patch(path, json={})
    assert unchanged.status_code == 200 and unchanged.json()["privacy_policy"] == "redact"
    cleared = admin.patch(path, json={"privacy_policy": None})
    assert cleared.status_code == 200 and cleared.json()["privacy_policy"] is None
    listed = next(k for k in admin.get("/admin/keys").json()["data"] if k["id"] == created["id"])
    assert listed["privacy_policy"] is None


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"privacy_policy": "paranoid"}, "privacy_policy", None),
        ({"privacy_policy": ""}, "privacy_policy", None),
        ({"privacy_policy": "p" * 101}, "privacy_policy", None),
        ({"privacy_policy": 3}, "privacy_policy", None),
        ({"name": "renamed"}, "name", "unsupported_parameter"),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(
    admin: TestClient, body: dict[str, Any], param: str, code: str | None
) -> None:
    created = _create(admin, privacy_policy="redact")
    response = admin.patch(f"/admin/keys/{created['id']}", json=body)
    assert_error(response, 400, "invalid_request_error", param=param, code=code)
    listed = next(k for k in admin.get("/admin/keys").json()["data"] if k["id"] == created["id"])
    assert listed["privacy_policy"] == "redact"


def test_unknown_key_is_404_and_a_user_key_is_refused(admin: TestClient, user_key: str) -> None:
    for body in ({"privacy_policy": "block"}, {}):
        missing = admin.patch("/admin/keys/key_0000000000000000", json=body)
        assert_error(missing, 404, "invalid_request_error", param="key_id", code="not_found")
    created = _create(admin)
    denied = admin.patch(
        f"/admin/keys/{created['id']}",
        json={"privacy_policy": "allow"},
        headers={"authorization": f"Bearer {user_key}"},
    )
    assert denied.status_code == 403, denied.text
