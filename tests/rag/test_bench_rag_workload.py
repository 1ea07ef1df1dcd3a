"""The selection bench's RAG QA workload against a live Plinth: store set-up, reuse, grounding."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from ragsupport import LiveServer

from gatewaysupport import ADMIN
from plinth.bench.rag import RagSetupError, ground, load_corpus, store_name
from plinth.bench.workloads import load_workload
from upstreamfake import FakeUpstream


async def _ground(base_url: str, key: str = ADMIN):
    async with aiohttp.ClientSession() as session:
        return await ground(session, base_url, key, load_workload("rag_qa"))


def test_rag_workload_builds_its_store_once_and_grounds_every_question(tmp_path: Path) -> None:
    with FakeUpstream() as upstream, LiveServer(tmp_path, upstream) as server:
        base = f"{server.base_url}/v1"
        workload = asyncio.run(_ground(base))
        by_id = {item.id: item.prompt for item in workload.items}
        # The passage that answers each question was retrieved into its prompt.
        assert "red badge" in by_id["rag-04"]
        assert "02:00 UTC" in by_id["rag-06"]
        assert "宁波" in by_id["rag-12"] and by_id["rag-12"].startswith("根据下面的资料")
        assert all("Question:" in p or "问题：" in p for p in by_id.values())

        stores = server.sdk().vector_stores.list().data
        corpus = load_corpus("rag_qa_corpus.jsonl")
        (store,) = [s for s in stores if s.name == store_name("rag_qa", corpus)]
        assert store.file_counts.completed == len(corpus)

        # A second run reuses the store instead of uploading the corpus again.
        asyncio.run(_ground(base))
        assert len(server.sdk().vector_stores.list().data) == 1


def test_rag_workload_explains_a_refused_setup(tmp_path: Path) -> None:
    with (
        FakeUpstream() as upstream,
        LiveServer(tmp_path, upstream) as server,
        pytest.raises(RagSetupError, match="HTTP 401"),
    ):
        asyncio.run(_ground(f"{server.base_url}/v1", key="sk-wrong-key-000000000000"))
