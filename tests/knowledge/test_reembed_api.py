"""``/v1/vector_stores/{id}/reembed`` over HTTP, on an app with two fake embedders."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from kbsupport import fake_embed
from starlette.testclient import TestClient
from vssupport import FAKE_MODEL, FakeEmbedder, fake_settings, new_key, sdk

from plinth.app import create_app
from plinth.engines.base import EmbeddingResult

OTHER_MODEL = "fake-embed-wide"


class WideEmbedder(FakeEmbedder):
    """Another model: the fake's vectors repeated, twice as wide."""

    def __init__(self) -> None:
        super().__init__()
        self.model_id = OTHER_MODEL
        self.calls = 0

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        self.calls += 1
        texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in inputs]
        rows = [np.tile(np.asarray(v), 2).tolist() for v in await fake_embed(texts)]
        return EmbeddingResult(rows, sum(len(t) for t in texts))


@pytest.fixture(scope="module")
def wide() -> WideEmbedder:
    return WideEmbedder()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, wide: WideEmbedder) -> Iterator[TestClient]:
    settings = fake_settings(tmp_path_factory.mktemp("reembed-api"))
    with TestClient(create_app(settings, engines=[FakeEmbedder(), wide])) as client:
        yield client


def wait_for(check: Any, what: str) -> Any:
    for _ in range(400):
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_store_is_re_embedded_in_the_background(app: TestClient, wide: WideEmbedder) -> None:
    key = new_key(app, "reembed-owner")
    client = sdk(app, key)
    headers = {"authorization": f"Bearer {key}"}
    store = client.vector_stores.create(name="docs")
    for name, text in [("a.txt", "Refunds within thirty days."), ("b.txt", "Parcels ship Monday.")]:
        file_id = client.files.create(
            file=(name, io.BytesIO(text.encode())), purpose="assistants"
        ).id
        client.vector_stores.files.create(vector_store_id=store.id, file_id=file_id)
    wait_for(
        lambda: client.vector_stores.retrieve(store.id).file_counts.completed == 2, "ingestion"
    )
    path = f"/v1/vector_stores/{store.id}/reembed"
    assert app.get(path, headers=headers).status_code == 404  # never re-embedded

    started = app.post(path, json={"model": OTHER_MODEL}, headers=headers)
    assert started.status_code == 202, started.text
    assert started.json()["previous_model"] == FAKE_MODEL
    done = wait_for(
        lambda: (r := app.get(path, headers=headers).json())["status"] == "completed" and r,
        "the re-embedding",
    )
    assert done["chunks"] == {"total": 2, "done": 2}
    assert done["current_model"] == done["model"] == OTHER_MODEL
    calls = wide.calls
    hits = client.vector_stores.search(vector_store_id=store.id, query="refunds thirty days")
    assert hits.data[0].filename == "a.txt"
    assert wide.calls == calls + 1  # the query was embedded by the store's new model


def test_client_mistakes_are_4xx(app: TestClient) -> None:
    key = new_key(app, "reembed-mistakes")
    client = sdk(app, key)
    headers = {"authorization": f"Bearer {key}"}
    store = client.vector_stores.create(name="docs")
    path = f"/v1/vector_stores/{store.id}/reembed"
    unknown = app.post(path, json={"model": "no-such-model"}, headers=headers)
    assert unknown.status_code == 409
    assert unknown.json()["error"]["code"] == "embedder_unavailable"
    same = app.post(path, json={"model": FAKE_MODEL}, headers=headers)
    assert same.status_code == 400 and "already embedded" in same.text
    assert app.post(path, json={"model": ""}, headers=headers).status_code == 400
    assert app.post(path, json={"model": "x", "extra": 1}, headers=headers).status_code == 400
    stranger = {"authorization": f"Bearer {new_key(app, 'reembed-stranger')}"}
    assert app.post(path, json={"model": OTHER_MODEL}, headers=stranger).status_code == 404
