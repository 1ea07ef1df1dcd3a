"""Regressions found in review: each test names the bug it pins down."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from starlette.testclient import TestClient
from vssupport import FakeEmbedder, fake_app, fake_settings, new_key, sdk

from plinth.app import create_app
from plinth.engines.base import EmbeddingResult


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


class GatedEmbedder(FakeEmbedder):
    """Embeds only once the gate is open: a file stays mid-ingestion until then."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()  # open while the app starts (it probes the model's dimensions)

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        await asyncio.to_thread(self.gate.wait, 30)
        return await super().embed(inputs)


def _wait_for(app: TestClient, key: str, store_id: str, file_id: str) -> dict[str, object]:
    for _ in range(200):
        row = app.get(
            f"/v1/vector_stores/{store_id}/files/{file_id}",
            headers={"authorization": f"Bearer {key}"},
        ).json()
        if row["status"] != "in_progress":
            return dict(row)
        time.sleep(0.02)
    raise AssertionError("file never left in_progress")


def test_attributes_set_during_ingestion_reach_the_index(tmp_path: Path) -> None:
    """Attributes updated while a file was being indexed stayed in the row only: filters missed."""
    embedder = GatedEmbedder()
    app = create_app(fake_settings(tmp_path), engines=[embedder])
    with TestClient(app, raise_server_exceptions=False) as http:
        key = new_key(http, "gated")
        embedder.gate.clear()
        client = sdk(http, key)
        file_id = _upload(client, "a.txt", "refunds within thirty days")
        store = client.vector_stores.create(name="gated")
        client.vector_stores.files.create(
            vector_store_id=store.id, file_id=file_id, attributes={"topic": "old"}
        )
        time.sleep(0.3)  # the worker has read the row and waits in embed()
        client.vector_stores.files.update(
            file_id=file_id, vector_store_id=store.id, attributes={"topic": "new"}
        )
        embedder.gate.set()
        assert _wait_for(http, key, store.id, file_id)["status"] == "completed"
        hits = client.vector_stores.search(
            store.id, query="refunds", filters={"type": "eq", "key": "topic", "value": "new"}
        )
        assert [h.file_id for h in hits.data] == [file_id]
        assert hits.data[0].attributes == {"topic": "new"}


def test_reattaching_with_a_new_strategy_during_ingestion_uses_it(tmp_path: Path) -> None:
    """Re-attaching a file mid-ingestion: the first run finished it with the old chunking."""
    embedder = GatedEmbedder()
    app = create_app(fake_settings(tmp_path), engines=[embedder])
    text = " ".join(f"word{i}" for i in range(600))
    small = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}
    with TestClient(app, raise_server_exceptions=False) as http:
        key = new_key(http, "gated-readd")
        embedder.gate.clear()
        client = sdk(http, key)
        file_id = _upload(client, "a.txt", text)
        store = client.vector_stores.create(name="gated")
        client.vector_stores.files.create(vector_store_id=store.id, file_id=file_id)
        time.sleep(0.3)  # the worker embeds with the default (auto) chunking
        client.vector_stores.files.create(
            vector_store_id=store.id,
            file_id=file_id,
            chunking_strategy=small,  # type: ignore[arg-type]
        )
        embedder.gate.set()
        time.sleep(0.3)
        assert _wait_for(http, key, store.id, file_id)["status"] == "completed"
        time.sleep(0.5)  # the second, queued run finishes too
        hits = client.vector_stores.search(store.id, query="word1", max_num_results=50)
        longest = max(len(h.content[0].text.split()) for h in hits.data)
        assert longest <= 100, longest


def test_search_query_list_is_bounded(app: TestClient, key: str) -> None:
    """A search took any number of queries, each embedded and searched in turn."""
    store = sdk(app, key).vector_stores.create(name="bounded")
    response = app.post(
        f"/v1/vector_stores/{store.id}/search",
        json={"query": ["refund"] * 5000},
        headers={"authorization": f"Bearer {key}"},
    )
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["param"] == "query"
    ok = app.post(
        f"/v1/vector_stores/{store.id}/search",
        json={"query": ["refund", "shipping"]},
        headers={"authorization": f"Bearer {key}"},
    )
    assert ok.status_code == 200, ok.text
