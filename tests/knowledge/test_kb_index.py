"""The backend contract, run against the embedded index (and Milvus where available)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kbsupport import DIMS, hashed_vector

from plinth.errors import VectorStoreNotFound as StoreNotFound
from plinth.knowledge.filters import parse_filter
from plinth.knowledge.index import ChunkRecord, KnowledgeIndex, SearchOptions, SearchRequest
from plinth.knowledge.segment import analyze
from plinth.store.database import open_database
from plinth.vectorstores.embedded_index import EmbeddedIndex

DOCS = {
    "cats": ("Cats are small domesticated felines that purr.", {"kind": "animal", "year": 2020}),
    "rust": (
        "Rust is a systems programming language with ownership.",
        {"kind": "code", "year": 2015},
    ),
    "python": (
        "Python is a programming language loved for data science.",
        {"kind": "code", "year": 1991},
    ),
    "beijing": (
        "北京是中华人民共和国的首都，也是政治和文化中心。",
        {"kind": "place", "year": 2024},
    ),
    "shanghai": ("上海是中国最大的经济中心城市，港口繁忙。", {"kind": "place", "year": 2023}),
}


def record(text: str) -> ChunkRecord:
    return ChunkRecord(text, analyze(text), hashed_vector(text), len(text.split()))


def fill(index: KnowledgeIndex, store: str = "vs_1") -> None:
    index.create_store(store, DIMS)
    for file_id, (text, attrs) in DOCS.items():
        index.upsert_file(store, file_id, [record(text)], dict(attrs))


def ask(text: str, **kw: object) -> SearchRequest:
    options = SearchOptions(**kw)  # type: ignore[arg-type]
    return SearchRequest(text=text, vector=hashed_vector(text), options=options)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/plinth.db"


@pytest.fixture(params=["embedded", "milvus"])
def index(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[KnowledgeIndex]:
    if request.param == "embedded":
        yield EmbeddedIndex(open_database(db_url))
        return
    milvus = pytest.importorskip("plinth.knowledge.milvus")
    backend = milvus.MilvusIndex(str(tmp_path / "milvus.db"))
    yield backend
    backend.close()


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_each_mode_finds_the_right_file(index: KnowledgeIndex, mode: str) -> None:
    fill(index)
    hits = index.search("vs_1", ask("which programming language has ownership", mode=mode))
    assert hits[0].file_id == "rust"
    assert 0.0 <= hits[-1].score <= hits[0].score <= 1.0
    assert hits[0].attributes == {"kind": "code", "year": 2015}
    assert hits[0].text == DOCS["rust"][0]


def test_chinese_query_finds_the_chinese_chunk_lexically(index: KnowledgeIndex) -> None:
    fill(index)
    hits = index.search("vs_1", ask("国家的首都", mode="lexical"))
    assert hits[0].file_id == "beijing"
    hits = index.search("vs_1", ask("经济中心", mode="lexical"))
    assert hits[0].file_id == "shanghai"


@pytest.mark.parametrize("fusion", ["adaptive", "rrf", "weighted"])
def test_fusion_scores_are_0_to_1_and_threshold_applies(index: KnowledgeIndex, fusion: str) -> None:
    fill(index)
    hits = index.search("vs_1", ask("programming language", ranker=fusion, max_num_results=5))
    assert {h.file_id for h in hits[:2]} == {"rust", "python"}
    assert all(0 <= h.score <= 1 for h in hits)
    cut = index.search(
        "vs_1", ask("programming language", ranker=fusion, score_threshold=hits[1].score)
    )
    assert [h.file_id for h in cut] == [h.file_id for h in hits[:2]]
    lexical_only = index.search(
        "vs_1", ask("programming language", ranker=fusion, dense_weight=0.0, max_num_results=5)
    )
    assert {h.file_id for h in lexical_only[:2]} == {"rust", "python"}


def test_filters_and_max_results(index: KnowledgeIndex) -> None:
    fill(index)
    code_before_2000 = parse_filter(
        {
            "type": "and",
            "filters": [
                {"type": "eq", "key": "kind", "value": "code"},
                {"type": "lt", "key": "year", "value": 2000},
            ],
        }
    )
    hits = index.search("vs_1", ask("programming language", filters=code_before_2000))
    assert [h.file_id for h in hits] == ["python"]
    places = parse_filter({"type": "ne", "key": "kind", "value": "code"})
    hits = index.search(
        "vs_1", ask("programming language 首都", filters=places, mode="dense", max_num_results=2)
    )
    assert len(hits) == 2 and all(h.attributes["kind"] != "code" for h in hits)


def test_in_and_nin_filters(index: KnowledgeIndex) -> None:
    fill(index)
    index.upsert_file("vs_1", "odd", [record("An odd programming note.")], {"kind": True})

    def found(raw: dict[str, object]) -> set[str]:
        hits = index.search("vs_1", ask("programming language 首都 猫", filters=parse_filter(raw)))
        return {h.file_id for h in hits}

    everything = set(DOCS) | {"odd"}
    assert found({"type": "in", "key": "kind", "value": ["code", "place"]}) == {
        "rust",
        "python",
        "beijing",
        "shanghai",
    }
    # Numbers and strings mixed in one list; each value compares as eq would.
    assert found({"type": "in", "key": "year", "value": [1991, "2015", 2020.0]}) == {
        "python",
        "cats",
    }
    # nin is ne against every value: a boolean differs from any string; no "year", no match.
    assert found({"type": "nin", "key": "kind", "value": ["code", "animal"]}) == {
        "beijing",
        "shanghai",
        "odd",
    }
    assert found({"type": "nin", "key": "year", "value": [2015]}) == everything - {"rust", "odd"}


def test_upserts_and_deletes_are_visible_to_the_next_search(index: KnowledgeIndex) -> None:
    fill(index)
    index.upsert_file("vs_1", "go", [record("Go is a programming language with goroutines.")], {})
    assert index.search("vs_1", ask("goroutines", mode="lexical"))[0].file_id == "go"
    index.upsert_file("vs_1", "go", [record("Go is a board game with black and white stones.")], {})
    assert index.search("vs_1", ask("goroutines", mode="lexical")) == []
    assert index.search("vs_1", ask("board game stones", mode="lexical"))[0].file_id == "go"
    assert index.delete_file("vs_1", "go")
    assert not index.delete_file("vs_1", "go")
    assert index.search("vs_1", ask("board game stones", mode="lexical")) == []
    assert index.get_file("vs_1", "go") is None
    assert index.update_attributes("vs_1", "rust", {"kind": "old"})
    hits = index.search(
        "vs_1",
        ask("ownership", filters=parse_filter({"type": "eq", "key": "kind", "value": "old"})),
    )
    assert [h.file_id for h in hits] == ["rust"]


def test_unknown_store(index: KnowledgeIndex) -> None:
    with pytest.raises(StoreNotFound):
        index.search("nope", ask("x"))
    fill(index, "vs_2")
    assert index.delete_store("vs_2")
    with pytest.raises(StoreNotFound):
        index.search("vs_2", ask("cats"))


def test_another_process_sees_changes_through_the_version(db_url: str) -> None:
    writer, reader = EmbeddedIndex(open_database(db_url)), EmbeddedIndex(open_database(db_url))
    fill(writer)
    assert reader.search("vs_1", ask("purr", mode="lexical"))[0].file_id == "cats"
    writer.delete_file("vs_1", "cats")
    writer.upsert_file("vs_1", "dogs", [record("Dogs bark and purr never.")], {})
    assert [h.file_id for h in reader.search("vs_1", ask("purr", mode="lexical"))] == ["dogs"]


def test_removing_files_frees_their_rows(db_url: str) -> None:
    index = EmbeddedIndex(open_database(db_url))
    index.create_store("vs_big", DIMS)
    for i in range(1200):
        index.upsert_file(
            "vs_big", f"f{i}", [record(f"document number {i} about topic{i % 7}")], {}
        )
    index.search("vs_big", ask("topic3"))  # loads the memory
    for i in range(1100):
        index.delete_file("vs_big", f"f{i}")
    hits = index.search("vs_big", ask("document topic3", max_num_results=50))
    assert {h.file_id for h in hits} <= {f"f{i}" for i in range(1100, 1200)}
    memory = index._memories["vs_big"]
    assert memory.rows == 100 and memory.dead == 0  # rebuilt without the dead rows
