"""The Vector Stores API through the official ``openai`` SDK, on an app with a fake embedder."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from starlette.testclient import TestClient
from vssupport import ADMIN, fake_app, new_key, sdk

from plinth.store.database import open_database
from plinth.vectorstores.catalog import VectorStoreCatalog

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
RETURNS = "Refunds: items may be returned within 30 days of delivery with the receipt."
SHIPPING = "Shipping: parcels leave the warehouse within two business days by courier."
PANDAS = "大熊猫主要生活在中国四川的山区竹林里，以竹子为食。"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with fake_app(tmp_path_factory.mktemp("vs-api")) as client:
        yield client


@pytest.fixture
def client(app: TestClient, request: pytest.FixtureRequest) -> openai.OpenAI:
    return sdk(app, new_key(app, request.node.name[:100]))


def _upload(client: openai.OpenAI, name: str, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return client.files.create(file=(name, io.BytesIO(data)), purpose="assistants").id


def test_store_lifecycle_and_search(client: openai.OpenAI) -> None:
    store = client.vector_stores.create(
        name="policies",
        metadata={"team": "support"},
        expires_after={"anchor": "last_active_at", "days": 7},
    )
    assert store.id.startswith("vs_") and store.object == "vector_store"
    assert store.status == "completed" and store.file_counts.total == 0
    assert store.expires_after is not None and store.expires_after.days == 7
    assert store.expires_at == store.last_active_at + 7 * 86400

    returns = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("returns.txt", io.BytesIO(RETURNS.encode()))
    )
    assert returns.status == "completed" and returns.last_error is None
    assert returns.usage_bytes > len(RETURNS) and returns.object == "vector_store.file"
    shipping_id = _upload(client, "shipping.md", SHIPPING)
    shipping = client.vector_stores.files.create_and_poll(
        vector_store_id=store.id,
        file_id=shipping_id,
        attributes={"topic": "shipping", "year": 2024},
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
        },
    )
    assert shipping.status == "completed" and shipping.attributes == {
        "topic": "shipping",
        "year": 2024,
    }
    assert shipping.chunking_strategy is not None
    assert shipping.chunking_strategy.static.max_chunk_size_tokens == 200  # type: ignore[union-attr]

    retrieved = client.vector_stores.retrieve(store.id)
    assert retrieved.file_counts.completed == 2 and retrieved.status == "completed"
    assert retrieved.usage_bytes == returns.usage_bytes + shipping.usage_bytes

    page = client.vector_stores.search(store.id, query="how do I return an item for a refund")
    assert page.data[0].file_id == returns.id and page.data[0].filename == "returns.txt"
    assert page.data[0].content[0].type == "text" and "30 days" in page.data[0].content[0].text
    assert 0 < page.data[0].score <= 1

    filtered = client.vector_stores.search(
        store.id,
        query="return refund shipping",
        filters={"type": "eq", "key": "topic", "value": "shipping"},
    )
    assert [r.file_id for r in filtered.data] == [shipping_id]
    compound = client.vector_stores.search(
        store.id,
        query="return refund shipping",
        filters={
            "type": "and",
            "filters": [
                {"type": "gte", "key": "year", "value": 2024},
                {"type": "ne", "key": "topic", "value": "returns"},
            ],
        },
    )
    assert [r.file_id for r in compound.data] == [shipping_id]
    strict = client.vector_stores.search(
        store.id, query="refund", ranking_options={"score_threshold": 0.99}
    )
    assert all(r.score >= 0.99 for r in strict.data)

    content = list(client.vector_stores.files.content(shipping_id, vector_store_id=store.id))
    assert content[0].type == "text" and content[0].text == SHIPPING

    updated = client.vector_stores.files.update(
        shipping_id, vector_store_id=store.id, attributes={"topic": "logistics"}
    )
    assert updated.attributes == {"topic": "logistics"}
    relabelled = client.vector_stores.search(
        store.id, query="parcels", filters={"type": "eq", "key": "topic", "value": "logistics"}
    )
    assert [r.file_id for r in relabelled.data] == [shipping_id]

    deleted = client.vector_stores.files.delete(returns.id, vector_store_id=store.id)
    assert deleted.deleted and deleted.object == "vector_store.file.deleted"
    after = client.vector_stores.search(store.id, query="return an item for a refund")
    assert returns.id not in {r.file_id for r in after.data}
    assert client.vector_stores.retrieve(store.id).usage_bytes == shipping.usage_bytes

    renamed = client.vector_stores.update(store.id, name="policies-v2", expires_after=None)
    assert renamed.name == "policies-v2" and renamed.expires_at is None
    gone = client.vector_stores.delete(store.id)
    assert gone.deleted and gone.object == "vector_store.deleted"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(store.id)


def test_failing_file_has_last_error(client: openai.OpenAI) -> None:
    store = client.vector_stores.create(name="mixed")
    image = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("photo.png", io.BytesIO(PNG))
    )
    assert image.status == "failed" and image.last_error is not None
    assert image.last_error.code == "unsupported_file" and ".png" in image.last_error.message
    empty = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("blank.txt", io.BytesIO(b"  \n "))
    )
    assert empty.status == "failed" and empty.last_error is not None
    assert empty.last_error.code == "invalid_file"
    counts = client.vector_stores.retrieve(store.id).file_counts
    assert (counts.failed, counts.total, counts.in_progress) == (2, 2, 0)
    failed = client.vector_stores.files.list(vector_store_id=store.id, filter="failed")
    assert {f.id for f in failed.data} == {image.id, empty.id}
    assert client.vector_stores.files.list(vector_store_id=store.id, filter="completed").data == []


def test_file_batches_and_chinese_text(client: openai.OpenAI) -> None:
    store = client.vector_stores.create(name="zoo")
    batch = client.vector_stores.file_batches.upload_and_poll(
        store.id,
        files=[
            ("pandas.txt", io.BytesIO(PANDAS.encode())),
            ("shipping.txt", io.BytesIO(SHIPPING.encode())),
        ],
    )
    assert batch.object == "vector_store.files_batch" and batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.total) == (2, 2)
    listed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert len(listed.data) == 2 and all(f.status == "completed" for f in listed.data)
    hits = client.vector_stores.search(store.id, query="熊猫吃竹子").data
    assert hits[0].filename == "pandas.txt" and "竹子" in hits[0].content[0].text

    ids = [_upload(client, f"n{i}.txt", f"note number {i} about parcels") for i in range(3)]
    created = client.vector_stores.file_batches.create_and_poll(
        store.id,
        files=[{"file_id": ids[0], "attributes": {"n": 0}}, {"file_id": ids[1]}],
    )
    assert created.status == "completed" and created.file_counts.total == 2
    by_ids = client.vector_stores.file_batches.create(
        store.id, file_ids=[ids[2]], attributes={"n": 2}
    )
    cancelled = client.vector_stores.file_batches.cancel(by_ids.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled"
    final = client.vector_stores.file_batches.poll(by_ids.id, vector_store_id=store.id)
    assert final.status == "cancelled"
    assert final.file_counts.in_progress == 0


def test_pagination(client: openai.OpenAI) -> None:
    made = [client.vector_stores.create(name=f"page-{i}").id for i in range(5)]
    first = client.vector_stores.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    every = [s.id for s in client.vector_stores.list(limit=2)]  # auto-paging
    assert sorted(every) == sorted(made) and len(every) == 5
    ascending = [s.id for s in client.vector_stores.list(limit=100, order="asc")]
    assert ascending == list(reversed(every))
    before = client.vector_stores.list(limit=2, before=every[3])
    assert [s.id for s in before.data] == every[1:3]

    store = made[0]
    ids = [_upload(client, f"p{i}.txt", f"page text {i}") for i in range(3)]
    for file_id in ids:
        client.vector_stores.files.create(vector_store_id=store, file_id=file_id)
    files = [f.id for f in client.vector_stores.files.list(vector_store_id=store, limit=1)]
    assert sorted(files) == sorted(ids)


def test_scoping_and_client_errors(app: TestClient, client: openai.OpenAI) -> None:
    mine = client.vector_stores.create(name="mine")
    other = sdk(app, new_key(app, "someone-else"))
    with pytest.raises(openai.NotFoundError):
        other.vector_stores.retrieve(mine.id)
    assert mine.id not in {s.id for s in other.vector_stores.list()}
    their_file = _upload(other, "theirs.txt", "private notes")
    with pytest.raises(openai.NotFoundError) as missing:
        client.vector_stores.files.create(vector_store_id=mine.id, file_id=their_file)
    assert "theirs" not in str(missing.value) and their_file in str(missing.value)
    admin = sdk(app, ADMIN)
    assert admin.vector_stores.retrieve(mine.id).name == "mine"

    own = _upload(client, "ok.txt", "fine text")
    bad_requests = [
        lambda: client.vector_stores.search(mine.id, query="x", filters={"type": "nope"}),
        lambda: client.vector_stores.search(mine.id, query="x", max_num_results=51),
        lambda: client.vector_stores.search(
            mine.id, query="x", ranking_options={"score_threshold": 2}
        ),
        lambda: client.vector_stores.create(metadata={f"k{i}": "v" for i in range(17)}),
        lambda: client.vector_stores.create(name="x", metadata={"k": "v" * 513}),
        lambda: client.vector_stores.files.create(
            vector_store_id=mine.id,
            file_id=own,
            chunking_strategy={
                "type": "static",
                "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0},
            },
        ),
        lambda: client.vector_stores.files.create(
            vector_store_id=mine.id, file_id=own, attributes={"k" * 65: 1}
        ),
        lambda: client.vector_stores.files.list(vector_store_id=mine.id, limit=101),
        lambda: client.vector_stores.file_batches.create(mine.id),
    ]
    for call in bad_requests:
        with pytest.raises(openai.BadRequestError) as error:
            call()
        assert error.value.status_code == 400 and error.value.message
    raw = app.post(
        f"/v1/vector_stores/{mine.id}/search",
        content=b"{not json",
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
    assert app.get("/v1/vector_stores").status_code == 401


def test_hybrid_search_extension(app: TestClient, client: openai.OpenAI) -> None:
    store = client.vector_stores.create(name="hybrid")
    client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("returns.txt", io.BytesIO(RETURNS.encode()))
    )
    key = client.api_key
    for mode in ("lexical", "dense", "hybrid"):
        response = app.post(
            f"/v1/vector_stores/{store.id}/search",
            json={
                "query": ["refund", "returned items"],
                "hybrid_search": {"mode": mode, "lexical_weight": 2, "dense_weight": 1},
                "ranking_options": {"ranker": "weighted"},
                "rewrite_query": True,
            },
            headers={"authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "vector_store.search_results.page"
        assert body["search_query"] == ["refund", "returned items"]
        assert body["data"] and body["data"][0]["filename"] == "returns.txt"


def test_interrupted_files_are_requeued_on_start(tmp_path: Path) -> None:
    with fake_app(tmp_path) as app:
        client = sdk(app, ADMIN)
        store = client.vector_stores.create(name="restart")
        file_id = _upload(client, "returns.txt", RETURNS)
        # Record the file in progress without queueing it: as if the process died mid-way.
        catalog = VectorStoreCatalog(open_database(f"sqlite:///{tmp_path / 'plinth.db'}"))
        catalog.add_file(
            store.id, file_id, filename="returns.txt", chunking={"type": "auto"},
            attributes={}, batch_id=None, now=0,
        )  # fmt: skip
        assert client.vector_stores.retrieve(store.id).status == "in_progress"
    with fake_app(tmp_path) as app:
        client = sdk(app, ADMIN)
        done = client.vector_stores.files.poll(file_id, vector_store_id=store.id)
        assert done.status == "completed"
        assert client.vector_stores.retrieve(store.id).status == "completed"
