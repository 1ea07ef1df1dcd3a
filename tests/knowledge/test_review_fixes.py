"""Regressions found in review: each test names the bug it pins down."""

from __future__ import annotations

import io
from collections.abc import Iterator

import openai
import pytest
from starlette.testclient import TestClient
from vssupport import fake_app, new_key, sdk


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with fake_app(tmp_path_factory.mktemp("vs-review")) as client:
        yield client


@pytest.fixture
def key(app: TestClient, request: pytest.FixtureRequest) -> str:
    return new_key(app, request.node.name[:100])


def _upload(client: openai.OpenAI, name: str, text: str) -> str:
    return client.files.create(file=(name, io.BytesIO(text.encode())), purpose="assistants").id


def test_file_cursor_is_scoped_to_the_store(app: TestClient, key: str) -> None:
    """A file attached to two stores: paging one store's files after it was a 500."""
    client = sdk(app, key)
    shared = _upload(client, "shared.txt", "shared text about refunds")
    other = _upload(client, "other.txt", "other text about shipping")
    first = client.vector_stores.create(name="first", file_ids=[shared, other])
    second = client.vector_stores.create(name="second", file_ids=[shared])
    for store in (first, second):
        page = app.get(
            f"/v1/vector_stores/{store.id}/files",
            params={"after": shared, "limit": 1},
            headers={"authorization": f"Bearer {key}"},
        )
        assert page.status_code == 200, page.text
    listed = client.vector_stores.files.list(first.id, order="asc")
    ids = [f.id for f in listed.data]
    after_first = client.vector_stores.files.list(first.id, order="asc", after=ids[0])
    assert [f.id for f in after_first.data] == ids[1:]
