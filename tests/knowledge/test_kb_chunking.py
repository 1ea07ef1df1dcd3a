import pytest
from kbsupport import WhitespaceSpans

from plinth.knowledge.chunking import (
    AUTO,
    ChunkingError,
    ChunkingStrategy,
    WordPieceSpans,
    chunk_text,
)


def test_windows_have_the_size_and_overlap_asked_for() -> None:
    text = " ".join(f"w{i}" for i in range(1000))
    chunks = chunk_text(text, ChunkingStrategy(300, 100), WhitespaceSpans())
    assert [c.tokens for c in chunks] == [300, 300, 300, 300, 200]
    assert chunks[0].text.split()[-100:] == chunks[1].text.split()[:100]
    assert chunks[-1].text.endswith("w999")
    covered = set()
    for chunk in chunks:
        covered.update(chunk.text.split())
    assert len(covered) == 1000  # nothing dropped


def test_openai_limits_are_enforced() -> None:
    with pytest.raises(ChunkingError):
        ChunkingStrategy(99, 0)
    with pytest.raises(ChunkingError):
        ChunkingStrategy(4097, 0)
    with pytest.raises(ChunkingError):
        ChunkingStrategy(400, 201)
    assert ChunkingStrategy.from_openai(None) == AUTO == ChunkingStrategy(800, 400)
    static = {
        "type": "static",
        "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
    }
    assert ChunkingStrategy.from_openai(static) == ChunkingStrategy(200, 50)
    assert ChunkingStrategy(200, 50).to_openai() == static


def test_mixed_chinese_and_english_chunks_by_word_pieces() -> None:
    spans = WordPieceSpans.bundled()
    text = "检索增强生成（RAG）把搜索结果交给模型。" * 40 + " Retrieval augmented generation." * 20
    chunks = chunk_text(text, ChunkingStrategy(100, 20), spans)
    assert all(c.tokens <= 100 for c in chunks)
    assert all(len(spans.spans([c.text])[0]) <= 100 for c in chunks)
    assert chunks[0].text.startswith("检索增强生成")
    assert chunks[-1].text.endswith("generation.")
    # Han characters are one piece each, so 100 pieces hold at most 100 of them.
    assert sum(1 for ch in chunks[0].text if "\u4e00" <= ch <= "\u9fff") <= 100
