"""Vector-store search reordered by a rerank deployment, when the request or the store asks."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from gatewaysupport import AppFactory
from passthroughfake import PassthroughUpstream

CHUNKS = {
    "short.txt": b"refund policy",
    "long.txt": b"the refund policy of the shop explains in detail how a refund works",
    "mid.txt": b"refund policy for members only",
}


def store_with_files(client: TestClient, **fields: Any) -> str:
    ids = []
    for name, data in CHUNKS.items():
        made = client.post(
            "/v1/files", data={"purpose": "assistants"}, files={"file": (name, data, "text/plain")}
        )
        assert made.status_code == 200, made.text
        ids.append(made.json()["id"])
    store = client.post("/v1/vector_stores", json={"name": "kb", "file_ids": ids, **fields})
    assert store.status_code == 200, store.text
    stores = client.app.app.state.services.vector_stores  # type: ignore[attr-defined]
    client.portal.call(stores.ingestor.idle)  # type: ignore[union-attr]
    return str(store.json()["id"])


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["filename"] for hit in response.json()["data"]]


def ranker(up: PassthroughUpstream) -> dict[str, Any]:
    return {"model": "ranker", "base_url": up.base_url, "endpoints": ["rerank"]}


def test_a_search_asking_for_rerank_gets_the_rerankers_order(gateway_app: AppFactory) -> None:
    with PassthroughUpstream() as up:
        client = gateway_app([ranker(up)])
        store = store_with_files(client)
        search = {"query": "refund policy", "max_num_results": 2}
        plain = names(client.post(f"/v1/vector_stores/{store}/search", json=search))
        reranked = client.post(
            f"/v1/vector_stores/{store}/search", json=search | {"rerank": {"model": "ranker"}}
        )
        # The fake reranker ranks longer documents first.
        assert names(reranked) == ["long.txt", "mid.txt"] != plain
        assert [hit["score"] for hit in reranked.json()["data"]] == [1.0, 0.5]
        sent = up.seen[-1].json
        assert sent is not None and sent["query"] == "refund policy"
        assert len(sent["documents"]) == 3  # every candidate, not only the 2 kept
        rows = client.get("/admin/usage/requests?limit=100").json()["data"]
        assert [r["unit"] for r in rows if r["endpoint"] == "rerank"] == ["search_unit"]

        missing = client.post(
            f"/v1/vector_stores/{store}/search", json=search | {"rerank": {"model": "nope"}}
        )
        assert missing.status_code == 404
        assert 'endpoints = ["rerank"]' in missing.json()["error"]["message"]


def test_a_store_can_ask_for_rerank_on_every_search(gateway_app: AppFactory) -> None:
    with PassthroughUpstream() as up:
        client = gateway_app([ranker(up)])
        store = store_with_files(client, metadata={"plinth_rerank_model": "ranker"})
        found = client.post(f"/v1/vector_stores/{store}/search", json={"query": "refund"})
        assert names(found) == ["long.txt", "mid.txt", "short.txt"]
        assert len(up.seen) == 1
