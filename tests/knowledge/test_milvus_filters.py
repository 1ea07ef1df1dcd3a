"""Milvus resolves a filter against the per-file manifest and searches ``file_id in [...]``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kbsupport import DIMS, hashed_vector

from plinth.knowledge.filters import parse_filter
from plinth.knowledge.index import ChunkRecord, SearchOptions, SearchRequest
from plinth.knowledge.segment import analyze

milvus = pytest.importorskip("plinth.knowledge.milvus")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Any]:
    backend = milvus.MilvusIndex(str(tmp_path / "milvus.db"))
    backend.create_store("vs", DIMS)
    for n in range(6):
        text = f"report number {n} about rivers"
        chunk = ChunkRecord(text, analyze(text), hashed_vector(text), 5)
        backend.upsert_file("vs", f"file-{n}", [chunk, chunk], {"team": n % 3, "open": n < 2})
    yield backend
    backend.close()


def ask(raw: Any) -> SearchRequest:
    flt = None if raw is None else parse_filter(raw)
    options = SearchOptions(max_num_results=20, filters=flt)
    return SearchRequest("rivers report", hashed_vector("rivers report"), options)


def files(hits: list[Any]) -> set[str]:
    return {h.file_id for h in hits}


def test_the_filter_becomes_a_file_id_list_from_the_manifest(index: Any) -> None:
    name = index.collection("vs")
    expr = index._filter_expression(name, parse_filter({"type": "eq", "key": "team", "value": 1}))
    assert expr == 'file_id in ["file-1", "file-4"]'
    wide = parse_filter({"type": "ne", "key": "team", "value": 1})
    assert index._filter_expression(name, wide) == 'file_id not in ["file-1", "file-4"]'
    hits = index.search("vs", ask({"type": "eq", "key": "team", "value": 1}))
    assert files(hits) == {"file-1", "file-4"} and len(hits) == 4


def test_no_matching_file_and_every_file(index: Any) -> None:
    assert index.search("vs", ask({"type": "eq", "key": "team", "value": 9})) == []
    everyone = index.search("vs", ask({"type": "gte", "key": "team", "value": 0}))
    assert files(everyone) == {f"file-{n}" for n in range(6)}


def test_changed_and_deleted_files_follow_the_manifest(index: Any) -> None:
    index.update_attributes("vs", "file-5", {"team": 1, "open": True})
    index.delete_file("vs", "file-4")
    hits = index.search("vs", ask({"type": "eq", "key": "team", "value": 1}))
    assert files(hits) == {"file-1", "file-5"}
    both = {
        "type": "and",
        "filters": [
            {"type": "eq", "key": "open", "value": True},
            {"type": "in", "key": "team", "value": [1, 2]},
        ],
    }
    assert files(index.search("vs", ask(both))) == {"file-1", "file-5"}
