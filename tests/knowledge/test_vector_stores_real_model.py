"""Vector stores on the real app (bundled MiniLM embedder), through the ``openai`` SDK."""

from __future__ import annotations

import io

import openai
from starlette.testclient import TestClient

ENGLISH = (
    "Photosynthesis is how green plants turn sunlight, water and carbon dioxide into "
    "sugar and oxygen. It happens in the chloroplasts of leaf cells."
)
CHINESE = "长城是中国古代修建的军事防御工程，全长两万多公里，横跨北方多个省份。"
COOKING = "To bake bread, knead flour, water, salt and yeast, let the dough rise, then bake it."


def test_real_embedder_finds_english_and_chinese(app_client: TestClient, user_key: str) -> None:
    client = openai.OpenAI(
        api_key=user_key, base_url="http://testserver/v1", http_client=app_client, max_retries=0
    )
    store = client.vector_stores.create(name="real-model")
    batch = client.vector_stores.file_batches.upload_and_poll(
        store.id,
        files=[
            ("biology.txt", io.BytesIO(ENGLISH.encode())),
            ("great_wall.txt", io.BytesIO(CHINESE.encode())),
            ("bread.txt", io.BytesIO(COOKING.encode())),
        ],
    )
    assert batch.status == "completed" and batch.file_counts.completed == 3

    english = client.vector_stores.search(store.id, query="how do leaves make food from light")
    assert english.data[0].filename == "biology.txt"
    chinese = client.vector_stores.search(store.id, query="长城有多长？")
    assert chinese.data[0].filename == "great_wall.txt"
    dense = client.vector_stores.with_raw_response.search(
        store.id,
        query="making a loaf in the oven",
        extra_body={"hybrid_search": {"mode": "dense"}},
    ).parse()
    assert dense.data[0].filename == "bread.txt"
    # 384 float32 dimensions per chunk are counted in usage_bytes.
    assert client.vector_stores.retrieve(store.id).usage_bytes > 3 * 384 * 4
    client.vector_stores.delete(store.id)
