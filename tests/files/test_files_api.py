"""The Files API through the official ``openai`` SDK (in-process transport) and raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from starlette.testclient import TestClient

from testsupport import ADMIN_KEY


@pytest.fixture
def sdk(app_client: TestClient, user_key: str) -> Iterator[openai.OpenAI]:
    # The SDK over the in-process app: TestClient is an httpx.Client.
    yield openai.OpenAI(api_key=user_key, base_url="http://testserver/v1", http_client=app_client)


def test_upload_list_retrieve_content_delete(sdk: openai.OpenAI) -> None:
    body = "第一行：知识库\nsecond line\n".encode()
    created = sdk.files.create(file=("notes.txt", body), purpose="assistants")
    assert created.object == "file" and created.id.startswith("file-")
    assert (created.filename, created.bytes, created.purpose) == (
        "notes.txt",
        len(body),
        "assistants",
    )
    assert created.status == "processed" and created.expires_at is None

    listed = sdk.files.list()
    assert [f.id for f in listed.data] == [created.id]
    assert sdk.files.retrieve(created.id).filename == "notes.txt"
    assert sdk.files.content(created.id).read() == body

    deleted = sdk.files.delete(created.id)
    assert deleted.deleted and deleted.id == created.id
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(created.id)
    assert sdk.files.list().data == []


def test_listing_pages_and_filters_by_purpose(sdk: openai.OpenAI) -> None:
    ids = [sdk.files.create(file=(f"f{i}.txt", b"x"), purpose="user_data").id for i in range(5)]
    sdk.files.create(file=("b.jsonl", b"{}"), purpose="batch")
    page = sdk.files.list(purpose="user_data", limit=2)
    assert len(page.data) == 2 and page.has_more
    every = [f.id for f in sdk.files.list(purpose="user_data", limit=2)]  # the SDK follows pages
    assert sorted(every) == sorted(ids) and len(every) == 5
    assert [f.purpose for f in sdk.files.list(purpose="batch")] == ["batch"]


def test_expiry_is_applied(sdk: openai.OpenAI) -> None:
    created = sdk.files.create(
        file=("t.txt", b"x"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert created.expires_at == created.created_at + 3600


def test_other_keys_cannot_see_a_file(sdk: openai.OpenAI, app_client: TestClient) -> None:
    created = sdk.files.create(file=("secret.txt", b"s"), purpose="user_data")
    other = app_client.post(
        "/admin/keys", json={"name": "other"}, headers={"authorization": f"Bearer {ADMIN_KEY}"}
    ).json()["key"]
    response = app_client.get(
        f"/v1/files/{created.id}", headers={"authorization": f"Bearer {other}"}
    )
    assert response.status_code == 404
    admin = app_client.get(
        f"/v1/files/{created.id}", headers={"authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert admin.status_code == 200


@pytest.mark.parametrize(
    ("data", "files", "param"),
    [
        ({"purpose": "fine-tune"}, {"file": ("a.txt", b"x")}, "purpose"),
        ({"purpose": "assistants"}, None, "file"),
        (
            {
                "purpose": "batch",
                "expires_after[anchor]": "created_at",
                "expires_after[seconds]": "5",
            },
            {"file": ("a.txt", b"x")},
            "expires_after.seconds",
        ),
    ],
)
def test_bad_uploads_are_400(
    client: TestClient, data: dict[str, str], files: dict[str, tuple[str, bytes]] | None, param: str
) -> None:
    response = client.post("/v1/files", data=data, files=files or {"other": ("x", b"y")})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_json_body_is_refused_clearly(client: TestClient) -> None:
    response = client.post("/v1/files", json={"purpose": "assistants"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]


def test_too_large_upload_is_413_and_leaves_nothing(client: TestClient, data_dir: object) -> None:
    big = b"x" * (600 * 1024 * 1024 // 1024)  # 600 KiB, over the test limit below
    app = client.app
    limit = app.state.services.settings.files_max_bytes  # type: ignore[attr-defined]
    app.state.services.settings.files_max_bytes = 512 * 1024  # type: ignore[attr-defined]
    try:
        response = client.post(
            "/v1/files", data={"purpose": "assistants"}, files={"file": ("big", big)}
        )
    finally:
        app.state.services.settings.files_max_bytes = limit  # type: ignore[attr-defined]
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    assert client.get("/v1/files").json()["data"] == []


def test_unauthenticated_is_401(app_client: TestClient) -> None:
    response = app_client.get("/v1/files")
    assert response.status_code == 401
    assert response.headers["x-request-id"].startswith("req_")
