"""Regressions found in review: each test names the bug it pins down."""

from __future__ import annotations

import asyncio
import io
import threading
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
    """Embeds only once the gate is open; ``entered`` tells the test a worker is waiting.

    The worker reads the file's row before it embeds, so once ``entered`` is set
    the run is mid-ingestion with the row as it was: the race window, held open.
    """

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()  # open while the app starts (it probes the model's dimensions)
        self.entered = threading.Event()

    def hold(self) -> None:
        """Close the gate: the next embedding call waits (and says so) until ``release``."""
        self.entered.clear()
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        self.entered.set()
        await asyncio.to_thread(self.gate.wait, 30)
        return await super().embed(inputs)


def _ingested(http: TestClient) -> None:
    """Wait until the ingestion queue is empty (every queued run finished), on the app's loop."""
    stores = http.app.app.state.services.vector_stores  # type: ignore[attr-defined]
    http.portal.call(stores.ingestor.idle)  # type: ignore[union-attr]


def test_attributes_set_during_ingestion_reach_the_index(tmp_path: Path) -> None:
    """Attributes updated while a file was being indexed stayed in the row only: filters missed."""
    embedder = GatedEmbedder()
    app = create_app(fake_settings(tmp_path), engines=[embedder])
    with TestClient(app, raise_server_exceptions=False) as http:
        key = new_key(http, "gated")
        client = sdk(http, key)
        file_id = _upload(client, "a.txt", "refunds within thirty days")
        store = client.vector_stores.create(name="gated")
        embedder.hold()
        client.vector_stores.files.create(
            vector_store_id=store.id, file_id=file_id, attributes={"topic": "old"}
        )
        assert embedder.entered.wait(30)  # the worker has read the row and waits in embed()
        client.vector_stores.files.update(
            file_id=file_id, vector_store_id=store.id, attributes={"topic": "new"}
        )
        embedder.release()
        _ingested(http)
        row = client.vector_stores.files.retrieve(file_id=file_id, vector_store_id=store.id)
        assert row.status == "completed"
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
        client = sdk(http, key)
        file_id = _upload(client, "a.txt", text)
        store = client.vector_stores.create(name="gated")
        embedder.hold()
        client.vector_stores.files.create(vector_store_id=store.id, file_id=file_id)
        assert embedder.entered.wait(30)  # the first run embeds with the default (auto) chunking
        client.vector_stores.files.create(
            vector_store_id=store.id,
            file_id=file_id,
            chunking_strategy=small,  # type: ignore[arg-type]
        )
        embedder.release()
        _ingested(http)  # the first run and the second, queued one
        row = client.vector_stores.files.retrieve(file_id=file_id, vector_store_id=store.id)
        assert row.status == "completed"
        assert row.chunking_strategy.static.max_chunk_size_tokens == 100  # type: ignore[union-attr]
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
