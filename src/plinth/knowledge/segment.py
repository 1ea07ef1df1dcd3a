"""Turning text into BM25 terms, for English and Chinese alike.

English follows what BEIR's published BM25 numbers used (Lucene's English
analyzer via Anserini/Elasticsearch): lowercase, Lucene's 33 stopwords,
Porter stemming. Chinese has no spaces, so runs of Han characters go through
jieba's search mode (rjieba: jieba's algorithm and dictionary in Rust), which
emits both whole words and their shorter parts (中华人民共和国 → 中华, 人民,
共和国, …) so a query word matches a longer document word. Both sides
(documents and queries) use the same function.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET.
ENGLISH_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)
# Function words and particles that carry no topic in Chinese queries.
CHINESE_STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "是",
        "在",
        "与",
        "及",
        "或",
        "也",
        "就",
        "都",
        "而",
        "被",
        "把",
        "对",
        "从",
        "为",
        "以",
        "于",
        "之",
        "其",
        "这",
        "那",
        "有",
        "个",
        "吗",
        "呢",
        "吧",
        "啊",
        "着",
        "过",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "什么",
        "怎么",
        "如何",
        "哪些",
    ]
)

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"([{_HAN}]+)|([^\W_{_HAN}]+)", re.UNICODE)
_jieba_lock = threading.Lock()
_jieba: Any = None


def _jieba_module() -> Any:
    """rjieba (jieba's algorithm and dictionary, in Rust), loaded on first Chinese text."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import rjieba

                _jieba = rjieba
    return _jieba


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # type: ignore[import-not-found]

    return Stemmer.Stemmer("porter")


def analyze(text: str) -> list[str]:
    """The BM25 terms of ``text``, in order (repeats kept: they are term frequencies)."""
    terms: list[str] = []
    latin: list[str] = []
    for match in _RUNS.finditer(text.lower()):
        han, word = match.group(1), match.group(2)
        if word is not None:
            if word not in ENGLISH_STOPWORDS:
                latin.append(word)
            continue
        if latin:
            terms.extend(_stemmer().stemWords(latin))
            latin = []
        for piece in _jieba_module().cut_for_search(han, True):
            if piece not in CHINESE_STOPWORDS:
                terms.append(piece)
    if latin:
        terms.extend(_stemmer().stemWords(latin))
    return terms
