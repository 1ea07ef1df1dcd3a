"""rjieba, the Chinese segmenter of BM25, cuts Han text as the jieba package does.

jieba (42 MB installed) is only in the test extra; rjieba (its algorithm and
dictionary in Rust, 4.6 MB) is what Plinth imports. Stores indexed by earlier
versions were segmented by jieba, so the two must agree on Han runs, which are
all that segment.py ever hands the segmenter.
"""

from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path

import pytest
import rjieba

from plinth.knowledge.segment import analyze

jieba = pytest.importorskip("jieba")  # in the test extra, not the default install

ROOT = Path(__file__).resolve().parents[2]
XQUAD_ZH = ROOT.parent / "shared/datasets/xquad-zh/corpus.jsonl"
HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
SENTENCES = [
    "我们在北京和上海都有服务器",
    "数据库的全文检索支持中文分词吗",
    "中华人民共和国成立于年小明硕士毕业于中国科学院计算所后在日本京都大学深造",
    "他来到了网易杭研大厦",
    "结婚的和尚未结婚的",
    "工信处女干事每月经过下属科室都要亲口交代口交换机等技术性器件的安装工作",
    "永和服装饰品有限公司",
    "雷猴回归人间",
    "研究生命起源",
    "豈更车贾滑串句龟",  # compatibility ideographs
]
# The one known difference: jieba's HMM only takes U+4E00-U+9FD5, so it leaves
# CJK extension A and the end of the URO as single characters; rjieba may group
# them. Such characters are rare in real text (none in XQuAD-zh, below).
RARE = "㐀㐁䶵鿐鿕鿖鿿"


@pytest.fixture(scope="module", autouse=True)
def loaded() -> None:
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()


def _both(text: str) -> tuple[list[str], list[str]]:
    return rjieba.cut_for_search(text, True), list(jieba.cut_for_search(text, HMM=True))


@pytest.mark.parametrize("text", SENTENCES)
def test_sentences_segment_as_jieba(text: str) -> None:
    mine, theirs = _both(text)
    assert mine == theirs


def test_rare_ideographs_are_kept_whole() -> None:
    mine, theirs = _both(RARE)
    assert "".join(mine) == "".join(theirs) == RARE


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


@pytest.mark.skipif(not XQUAD_ZH.exists(), reason="the shared XQuAD-zh set is not here")
def test_every_han_run_of_a_real_chinese_corpus_segments_as_jieba() -> None:
    runs = [
        run
        for line in XQUAD_ZH.read_text(encoding="utf-8").splitlines()
        for run in HAN_RUN.findall(json.loads(line)["text"])
    ]
    assert len(runs) > 5000
    differing = [run for run in runs if _both(run)[0] != _both(run)[1]]
    assert differing == []


def test_analyze_mixes_segmented_chinese_and_stemmed_english() -> None:
    terms = analyze("中华人民共和国 servers running")
    assert "共和国" in terms and "中华人民共和国" in terms
    assert "server" in terms and "run" in terms
