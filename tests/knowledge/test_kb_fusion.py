"""Adaptive fusion: the dense half counts only as far as it can be trusted for the query."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kbsupport import DIMS

from plinth.catalog.bundled import embedder_languages
from plinth.knowledge import fusion
from plinth.knowledge.fusion import readable_share
from plinth.knowledge.index import ChunkRecord, SearchOptions, SearchRequest
from plinth.knowledge.segment import analyze
from plinth.store.database import open_database
from plinth.vectorstores.embedded_index import EmbeddedIndex


def ranked(keys: list[int], scores: list[float]) -> fusion.Ranked:
    return fusion.Ranked(np.asarray(keys, np.int64), np.asarray(scores, np.float32))


def test_readable_share_follows_scripts_and_declared_languages() -> None:
    assert readable_share("Which protein binds DNA?", ["en"]) == 1.0
    assert readable_share("北京是哪个国家的首都", ["en"]) == 0.0
    assert readable_share("北京 GDP", ["en"]) == pytest.approx(3 / 5)
    assert readable_share("北京是哪个国家的首都", ["multilingual"]) == 1.0
    assert readable_share("北京是哪个国家的首都", ["zh", "en"]) == 1.0
    assert readable_share("東京の首都", ["ja"]) == 1.0  # Japanese reads Han too
    assert readable_share("北京是哪个国家的首都", None) == 1.0  # undeclared: trusted
    assert readable_share("2024 ?!", ["en"]) == 1.0  # no letters at all


def test_bundled_minilm_declares_english_only() -> None:
    assert embedder_languages("all-minilm-l6-v2") == frozenset({"en"})
    assert embedder_languages("some-user-model") is None


def test_an_unreadable_query_gets_exactly_the_lexical_ranking() -> None:
    lexical = ranked([1, 2, 3], [9.0, 6.0, 3.0])
    dense = ranked([7, 8, 1], [0.9, 0.8, 0.7])
    out = fusion.adaptive(lexical, dense, (1.0, 1.0), readable=0.0)
    assert out.keys.tolist() == [1, 2, 3]
    assert out.scores.tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])


def test_agreement_sets_the_dense_weight() -> None:
    lexical = ranked(list(range(10)), [10.0 - i for i in range(10)])
    # No candidate in common: the dense half is ignored.
    stranger = ranked(list(range(100, 110)), [0.9 - i / 100 for i in range(10)])
    assert fusion.agreement(lexical, stranger) == 0.0
    out = fusion.adaptive(lexical, stranger, (1.0, 1.0), readable=1.0)
    assert out.keys.tolist() == list(range(10))
    # Two of the ten best shared: full weight, the same as the plain weighted sum.
    ally = ranked([5, 9, *range(100, 108)], [0.9 - i / 100 for i in range(10)])
    assert fusion.agreement(lexical, ally) == pytest.approx(0.2)
    out = fusion.adaptive(lexical, ally, (1.0, 1.0), readable=1.0)
    plain = fusion.weighted([lexical, ally], [1.0, 1.0], [0.0, None])
    assert out.keys.tolist() == plain.keys.tolist()
    assert out.scores.tolist() == pytest.approx(plain.scores.tolist())


def test_no_lexical_match_leaves_the_dense_half_when_it_can_read() -> None:
    empty = ranked([], [])
    dense = ranked([4, 2], [0.8, 0.5])
    assert fusion.adaptive(empty, dense, (1.0, 1.0), readable=1.0).keys.tolist() == [4, 2]
    assert fusion.adaptive(empty, dense, (1.0, 1.0), readable=0.0).keys.tolist() == []


def test_the_index_ignores_an_english_embedder_for_a_chinese_query(tmp_path: Path) -> None:
    index = EmbeddedIndex(open_database(f"sqlite:///{tmp_path}/plinth.db"))
    index.create_store("vs", DIMS)
    texts = {"beijing": "北京是中国的首都。", "shanghai": "上海是经济中心，也有首都机场的航班。"}
    noise = {"beijing": 0.0, "shanghai": 1.0}  # a "dense" half that prefers the wrong file
    for file_id, text in texts.items():
        vector = np.zeros(DIMS, np.float32)
        vector[0], vector[1] = noise[file_id], 1.0 - noise[file_id]
        index.upsert_file("vs", file_id, [ChunkRecord(text, analyze(text), vector, 10)], {})
    query = np.zeros(DIMS, np.float32)
    query[0] = 1.0

    def top(languages: frozenset[str] | None, ranker: str) -> str:
        options = SearchOptions(ranker=ranker, dense_weight=5.0)  # type: ignore[arg-type]
        request = SearchRequest("北京首都", query, options, dense_languages=languages)
        return index.search("vs", request)[0].file_id

    assert top(frozenset({"en"}), "adaptive") == "beijing"
    assert top(frozenset({"multilingual"}), "adaptive") == "shanghai"  # trusted: it outweighs
    assert top(frozenset({"en"}), "weighted") == "shanghai"  # the fixed fusion listens to it
