"""The plain-Python BERT WordPiece gives the ``tokenizers`` library's ids and offsets."""

from __future__ import annotations

import itertools
import random
import unicodedata
from pathlib import Path

import pytest

from plinth.catalog.bert_wordpiece import BertWordPiece
from plinth.catalog.embedding_gguf import bundled_embedding_model_dir

tokenizers = pytest.importorskip("tokenizers")  # in the test extra, not the default install

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Crème brûlée, façade, naïve coöperation; ÀÉÎÕÜ and İstanbul.",
    "数据库的全文检索支持中文分词吗？我们在北京和上海都有服务器。",
    "東京タワーは日本の電波塔です。カタカナとひらがな。",
    "한국어 문장은 자모로 나뉩니다: 안녕하세요, 세계!",
    "हिन्दी में लिखा गया वाक्य, विराम और मात्राएँ।",
    "اللُّغَةُ العَرَبِيَّةُ جَمِيلَةٌ، أليس كذلك؟",
    "Ελληνικά: ΣΊΣΥΦΟΣ και σίσυφος. Русский текст с ёлкой.",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Tiếng Việt có nhiều dấu: người, được, những.",
    "Emoji 🥰🛎️👍🏽 and symbols ∑ ≤ € £ ¥ © ™ — “quotes” «guillemets» ‘single’.",
    "Special tokens in text: [CLS] a [SEP] b [MASK][UNK] [PAD]x [cls]",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003em\u200bzero\u200dwidth\ufeffbom\x00nul\ufffd",
    "pneumonoultramicroscopicsilicovolcanoconiosis " + "x" * 101 + " ok",
    "ﬁ ligature, ｆｕｌｌｗｉｄｔｈ, ① ² ½, compat 漢 北 ·",
    "",
    "   ",
]


@pytest.fixture(scope="module")
def pair() -> tuple[BertWordPiece, object]:
    path = bundled_embedding_model_dir() / "tokenizer.json"
    reference = tokenizers.Tokenizer.from_file(str(path))
    reference.no_padding()
    reference.no_truncation()
    return BertWordPiece(path), reference


def _reference(reference: object, text: str) -> list[tuple[int, int, int]]:
    encoding = reference.encode(text, add_special_tokens=False)  # type: ignore[attr-defined]
    return [(i, start, end) for i, (start, end) in zip(encoding.ids, encoding.offsets, strict=True)]


def _random_texts(count: int) -> list[str]:
    rng = random.Random(15)
    # Every plane that has letters, marks, punctuation, ideographs and emoji.
    planes = [
        (0, 0x3000),
        (0x3000, 0xA000),
        (0xAC00, 0xD7A4),
        (0xF900, 0x10000),
        (0x1F300, 0x1FB00),
        (0x20000, 0x20200),
    ]
    texts = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(1, 120)):
            low, high = rng.choice(planes)
            chars.append(
                chr(rng.randrange(low, high))
                if rng.random() < 0.8
                else rng.choice([" ", "a", "[SEP]", "ing"])
            )
        text = "".join(chars)
        # Known difference: the library decomposes the whole text at once, which
        # can reorder a run of combining marks of different classes across
        # characters; per character, Plinth does not. Such runs are not real text.
        pairs = itertools.pairwise(text)
        if any(unicodedata.combining(a) and unicodedata.combining(b) for a, b in pairs):
            continue
        texts.append(text)
    return texts


@pytest.mark.parametrize("text", SENTENCES)
def test_sentences_match_the_library(pair: tuple[BertWordPiece, object], text: str) -> None:
    mine, reference = pair
    assert mine.encode(text) == _reference(reference, text)


def test_the_repository_documents_match_the_library(pair: tuple[BertWordPiece, object]) -> None:
    mine, reference = pair
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for path in docs:
        text = path.read_text(encoding="utf-8")
        assert mine.encode(text) == _reference(reference, text), path


def test_random_unicode_matches_the_library(pair: tuple[BertWordPiece, object]) -> None:
    mine, reference = pair
    texts = _random_texts(2000)
    assert len(texts) > 1000
    mismatched = [t for t in texts if mine.encode(t) != _reference(reference, t)]
    assert mismatched == []
