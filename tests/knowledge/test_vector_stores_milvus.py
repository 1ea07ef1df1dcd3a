"""`knowledge.backend = "milvus"` serves the Vector Stores API on Milvus (milvus-lite here)."""

from __future__ import annotations

import io
from pathlib import Path

from starlette.testclient import TestClient
from vssupport import ADMIN, FakeEmbedder, fake_settings, sdk

from plinth.app import create_app
from plinth.knowledge.milvus import MilvusIndex

RETURNS = "Refunds: items may be returned within 30 days of delivery with the receipt."
PANDAS = "大熊猫主要生活在中国四川的山区竹林里，以竹子为食。"


def test_the_api_runs_on_milvus_when_configured(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path).model_copy(
        update={
            "knowledge": fake_settings(tmp_path).knowledge.model_copy(
                update={"backend": "milvus", "milvus_uri": str(tmp_path / "milvus.db")}
            )
        }
    )
    app = create_app(settings, engines=[FakeEmbedder()])
    with TestClient(app, raise_server_exceptions=False) as http:
        assert isinstance(app.state.services.vector_stores.index, MilvusIndex)
        client = sdk(http, ADMIN)
        store = client.vector_stores.create(name="on-milvus")
        for name, text in (("returns.txt", RETURNS), ("pandas.txt", PANDAS)):
            done = client.vector_stores.files.upload_and_poll(
                vector_store_id=store.id, file=(name, io.BytesIO(text.encode()))
            )
            assert done.status == "completed", done.last_error
        english = client.vector_stores.search(store.id, query="return an item for a refund")
        assert english.data[0].filename == "returns.txt"
        chinese = client.vector_stores.search(store.id, query="大熊猫吃什么")
        assert chinese.data[0].filename == "pandas.txt"

        # Removing a file frees its entries in Milvus: the next search can't find it.
        client.vector_stores.files.delete(file_id=english.data[0].file_id, vector_store_id=store.id)
        after = client.vector_stores.search(store.id, query="return an item for a refund")
        assert all(hit.filename != "returns.txt" for hit in after.data)
    assert (tmp_path / "milvus.db").exists()
