"""RAG QA: questions answered from documents in a Plinth vector store.

Before a run measures anything, the task set's corpus is put into a vector
store on the run's Plinth (``base_url``) — or an existing one is reused: the
store's name carries a hash of the corpus, so a changed corpus gets a new
store. Each question is then searched there once, and its prompt becomes the
question with the retrieved passages. Every candidate, local or remote,
answers the same grounded prompts, so the scores compare the models, not the
retrieval; retrieval time is not part of any candidate's latency.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import replace
from importlib.resources import files
from typing import Any

import aiohttp

from plinth.bench.workloads import Workload

PASSAGES = 3
INGEST_TIMEOUT_S = 600.0
_HAN = re.compile(r"[\u4e00-\u9fff]")


class RagSetupError(RuntimeError):
    """The vector store for a RAG workload could not be prepared."""


def load_corpus(name: str) -> list[dict[str, str]]:
    text = files("plinth.bench").joinpath("data", name).read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def store_name(workload: str, corpus: list[dict[str, str]]) -> str:
    digest = hashlib.sha256(json.dumps(corpus, sort_keys=True).encode()).hexdigest()[:12]
    return f"plinth-bench-{workload}-{digest}"


def grounded_prompt(question: str, passages: list[str]) -> str:
    sources = "\n\n".join(f"[{n}] {text}" for n, text in enumerate(passages, 1))
    if _HAN.search(question):
        return f"根据下面的资料回答问题。只回答答案本身。\n\n资料：\n{sources}\n\n问题：{question}"
    return (
        "Answer the question using only the sources below. "
        "Answer with only the answer, no sentence.\n\n"
        f"Sources:\n{sources}\n\nQuestion: {question}"
    )


class _Api:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str | None):
        self.session = session
        self.base = base_url.rstrip("/")
        self.headers = {"authorization": f"Bearer {api_key}"} if api_key else {}

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.session.request(
            method, self.base + path, headers=self.headers, **kwargs
        ) as response:
            body = await response.text()
            if response.status >= 400:
                raise RagSetupError(f"{method} {path}: HTTP {response.status}: {body[:300]}")
            return json.loads(body)


async def _find_store(api: _Api, name: str, files_expected: int) -> str | None:
    params = {"limit": "100"}
    while True:
        page = await api.call("GET", "/vector_stores", params=params)
        for store in page["data"]:
            if store["name"] == name and store["file_counts"]["completed"] == files_expected:
                return str(store["id"])
        if not page.get("has_more") or not page["data"]:
            return None
        params = {"limit": "100", "after": page["data"][-1]["id"]}


async def _create_store(api: _Api, name: str, corpus: list[dict[str, str]]) -> str:
    file_ids = []
    for doc in corpus:
        form = aiohttp.FormData()
        form.add_field("purpose", "assistants")
        form.add_field("file", doc["text"].encode(), filename=doc["filename"])
        file_ids.append((await api.call("POST", "/files", data=form))["id"])
    store = await api.call("POST", "/vector_stores", json={"name": name, "file_ids": file_ids})
    deadline = time.monotonic() + INGEST_TIMEOUT_S
    while store["file_counts"]["in_progress"] and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        store = await api.call("GET", f"/vector_stores/{store['id']}")
    counts = store["file_counts"]
    if counts["completed"] != len(corpus):
        raise RagSetupError(f"vector store {store['id']} did not ingest the corpus: {counts}")
    return str(store["id"])


async def ground(
    session: aiohttp.ClientSession, base_url: str, api_key: str | None, workload: Workload
) -> Workload:
    """The workload with each prompt replaced by its grounded prompt."""
    assert workload.corpus is not None
    api = _Api(session, base_url, api_key)
    corpus = load_corpus(workload.corpus)
    name = store_name(workload.name, corpus)
    store_id = await _find_store(api, name, len(corpus)) or await _create_store(api, name, corpus)
    items = []
    for item in workload.items:
        page = await api.call(
            "POST",
            f"/vector_stores/{store_id}/search",
            json={"query": item.prompt, "max_num_results": PASSAGES},
        )
        passages = [part["text"] for hit in page["data"] for part in hit["content"]]
        items.append(replace(item, prompt=grounded_prompt(item.prompt, passages)))
    return replace(workload, items=items)
