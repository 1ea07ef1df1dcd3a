"""The copy of jieba's core in plinth/_vendor segments as the jieba package does."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from plinth._vendor import jieba as vendored

jieba = pytest.importorskip("jieba")  # in the test extra, not the default install

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = [
    "我们在北京和上海都有服务器。",
    "数据库的全文检索支持中文分词吗？",
    "中华人民共和国成立于1949年，小明硕士毕业于中国科学院计算所，后在日本京都大学深造",
    "他来到了网易杭研大厦",
    "结婚的和尚未结婚的",
    "工信处女干事每月经过下属科室都要亲口交代24口交换机等技术性器件的安装工作",
    "永和服装饰品有限公司",
    "我不喜欢日本和服。",
    "雷猴回归人间。",
    "研究生命起源",
    "㐀㐁䶵鿐鿕鿖鿿豈更车贾滑串句龟",  # extension A, the end of the URO, compatibility ideographs
    "",
]


@pytest.fixture(scope="module", autouse=True)
def loaded() -> None:
    vendored.initialize()
    jieba.initialize()


def _both(text: str) -> tuple[list[str], list[str]]:
    return list(vendored.cut_for_search(text, HMM=True)), list(jieba.cut_for_search(text, HMM=True))


def test_the_copy_is_the_vendored_file_not_the_package() -> None:
    assert Path(vendored.__file__).parent == ROOT / "src/plinth/_vendor/jieba"
    upstream = Path(jieba.__file__).with_name("dict.txt").read_bytes()
    assert vendored.dt.get_dict_file().read() == upstream


@pytest.mark.parametrize("text", SENTENCES)
def test_sentences_segment_as_jieba(text: str) -> None:
    mine, theirs = _both(text)
    assert mine == theirs


def test_random_han_text_segments_as_jieba() -> None:
    words = (ROOT / "src/plinth/privacy/common_words.txt").read_text(encoding="utf-8").split()
    chars = "".join(words)
    rng = random.Random(15)
    for _ in range(300):
        # Dictionary words mixed with single characters: known words, unknown runs (HMM).
        parts = [rng.choice(words) if rng.random() < 0.6 else rng.choice(chars) for _ in range(20)]
        text = "".join(parts)
        mine, theirs = _both(text)
        assert mine == theirs, text
