"""Dify's External Knowledge API (``POST /retrieval``) over a vector store."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from vssupport import ADMIN, fake_app, new_key, sdk


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    with fake_app(tmp_path_factory.mktemp("dify")) as app:
        key = new_key(app, "dify")
        client = sdk(app, key)
        store = client.vector_stores.create(name="handbook")
        for name, text, team in [
            ("leave.txt", "Annual leave: employees get 25 days of paid leave per year.", "hr"),
            ("vpn.txt", "VPN access: install the client and sign in with your badge.", "it"),
        ]:
            file_id = client.files.create(
                file=(name, io.BytesIO(text.encode())), purpose="assistants"
            ).id
            done = client.vector_stores.files.create_and_poll(
                vector_store_id=store.id, file_id=file_id, attributes={"team": team}
            )
            assert done.status == "completed"
        yield app, key, store.id


def _retrieve(app: TestClient, key: str | None, body: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {} if key is None else {"authorization": key}
    response = app.post("/retrieval", json=body, headers=headers)
    return response.status_code, response.json()


def test_records(setup: tuple[TestClient, str, str]) -> None:
    app, key, store_id = setup
    status, body = _retrieve(
        app,
        f"Bearer {key}",
        {
            "knowledge_id": store_id,
            "query": "how many days of paid leave",
            "retrieval_setting": {"top_k": 2, "score_threshold": 0.0},
        },
    )
    assert status == 200
    first = body["records"][0]
    assert first["title"] == "leave.txt" and "25 days" in first["content"]
    assert 0 < first["score"] <= 1 and first["metadata"]["team"] == "hr"
    assert len(body["records"]) <= 2


def test_metadata_condition_and_threshold(setup: tuple[TestClient, str, str]) -> None:
    app, key, store_id = setup
    base = {"knowledge_id": store_id, "query": "paid leave VPN badge"}
    status, body = _retrieve(
        app,
        f"Bearer {key}",
        {
            **base,
            "retrieval_setting": {"top_k": 5, "score_threshold": 0.0},
            "metadata_condition": {
                "logical_operator": "or",
                "conditions": [{"name": ["team"], "comparison_operator": "is", "value": "it"}],
            },
        },
    )
    assert status == 200 and [r["title"] for r in body["records"]] == ["vpn.txt"]
    status, body = _retrieve(
        app, f"Bearer {key}", {**base, "retrieval_setting": {"top_k": 5, "score_threshold": 1.0}}
    )
    assert status == 200 and all(r["score"] >= 1.0 for r in body["records"])
    status, body = _retrieve(
        app,
        f"Bearer {key}",
        {
            **base,
            "retrieval_setting": {"top_k": 5, "score_threshold": 0.0},
            "metadata_condition": {
                "conditions": [{"name": ["team"], "comparison_operator": "contains", "value": "h"}]
            },
        },
    )
    assert status == 400 and "contains" in body["error_msg"]


def test_errors_in_difys_shape(setup: tuple[TestClient, str, str]) -> None:
    app, key, store_id = setup
    body = {
        "knowledge_id": store_id,
        "query": "leave",
        "retrieval_setting": {"top_k": 3, "score_threshold": 0.5},
    }
    assert _retrieve(app, None, body) == (
        403,
        {
            "error_code": 1001,
            "error_msg": "Invalid Authorization header format. Expected 'Bearer <api-key>'.",
        },
    )
    assert _retrieve(app, "Token abc", body)[1]["error_code"] == 1001
    assert _retrieve(app, "Bearer sk-wrong", body) == (
        403,
        {"error_code": 1002, "error_msg": "Authorization failed"},
    )
    status, error = _retrieve(app, f"Bearer {key}", {**body, "knowledge_id": "vs_missing"})
    assert (status, error["error_code"]) == (404, 2001)
    # Another key's store is as good as missing.
    stranger = new_key(app, "stranger")
    assert _retrieve(app, f"Bearer {stranger}", body)[1]["error_code"] == 2001
    status, error = _retrieve(app, f"Bearer {key}", {"knowledge_id": store_id, "query": "x"})
    assert status == 400 and "retrieval_setting" in error["error_msg"]


def test_visibility_follows_the_vector_stores_api(setup: tuple[TestClient, str, str]) -> None:
    """A key reads only its own stores (another key's answers as unknown); an admin reads all."""
    app, _, store_id = setup
    body = {
        "knowledge_id": store_id,
        "query": "paid leave",
        "retrieval_setting": {"top_k": 2, "score_threshold": 0.0},
    }
    stranger = new_key(app, "dify-stranger")
    hidden = _retrieve(app, f"Bearer {stranger}", body)
    assert hidden == _retrieve(app, f"Bearer {stranger}", {**body, "knowledge_id": "vs_none"})
    assert hidden == (404, {"error_code": 2001, "error_msg": "The knowledge does not exist"})
    status, found = _retrieve(app, f"Bearer {ADMIN}", body)
    assert status == 200 and found["records"][0]["title"] == "leave.txt"


def test_an_expired_store_is_refused(setup: tuple[TestClient, str, str]) -> None:
    app, key, store_id = setup
    client = sdk(app, key)
    stale = client.vector_stores.create(
        name="stale", expires_after={"anchor": "last_active_at", "days": 1}
    )
    catalog = app.app.state.services.vector_stores.catalog  # type: ignore[attr-defined]
    catalog.update_store(stale.id, {"last_active_at": 1_000})  # long ago
    query = {"query": "leave", "retrieval_setting": {"top_k": 2, "score_threshold": 0.0}}
    status, body = _retrieve(app, f"Bearer {key}", {"knowledge_id": stale.id, **query})
    assert status == 400 and "expired" in body["error_msg"]
    status, _ = _retrieve(app, f"Bearer {key}", {"knowledge_id": store_id, **query})
    assert status == 200
