"""Transliterated names with no middle dot: 阿依努尔今天第一天上班, 古力娜扎的航班.

Uyghur, Kazakh and foreign names are written in Chinese with a small set of
characters chosen for their sound (阿, 依, 努, 尔, 娜, 扎, 克, 斯). Four or more of
them in a row are no Chinese word; they are a name or a place (布达佩斯). A run
is taken for a person where a person may stand on both sides (the text's edge,
punctuation, or a word whose part of speech allows it: ``LEFT`` and ``RIGHT`` of
``name_model.tsv``), and not where a place is likely: after 在/去/到/从 …, before
市/县/省 …, or a city or province of the gazetteer.

The characters are those of ``T`` in ``name_model.tsv`` at ``STRONG_FOREIGN`` or
more (far more common in jieba's transliterated names than in Chinese given names)
and the hand-written set that ``names_zh`` uses around a middle dot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import PLACES
from plinth.privacy.han import is_han
from plinth.privacy.names_zh import TRANSLIT
from plinth.privacy.names_zh_scored import FOREIGN, LEFT, RIGHT

MIN_RUN = 4  # three (阿勒泰, 莫斯科) are too often places and brands
# T at least this: far more common in transliterations (斯, 尔, 克). With every T above
# zero (上, 不 …) everyday text made runs: 晚上不加班了.
STRONG_FOREIGN = 1.0
_STRONG = {ch for ch, value in FOREIGN.items() if value >= STRONG_FOREIGN}
_CHARS = "".join(sorted(_STRONG | TRANSLIT))
# At most this many characters of a run may be words on their own (a verb, an adverb:
# 依, 扎 in 阿依努尔, 古力娜扎); more is everyday text (次不得不, 说得特别特别).
MOST_WORDS = 1
# A whole run, four to eight long; the class first lets the engine skip to candidates.
_RUN = re.compile(rf"[{_CHARS}](?<![{_CHARS}].)[{_CHARS}]{{{MIN_RUN - 1},7}}(?![{_CHARS}])")
# Before a place: 在布达佩斯, 去乌鲁木齐; after one: 阿克苏市, 阿拉善盟.
_LOCATIVE = frozenset("在去到从往赴飞抵住于")
_PLACE_AFTER = frozenset("市县州省区盟旗镇乡村路街山河湖岛港站国")


def _left_ok(text: str, start: int) -> bool:
    if start == 0 or not is_han(text[start - 1]):
        return True
    if text[start - 1] in _LOCATIVE:
        return False
    get = LEFT.get
    return get(text[start - 1], 0.0) >= 1.0 or get(text[max(0, start - 2) : start], 0.0) >= 1.0


def _right_ok(text: str, end: int) -> bool:
    if end >= len(text) or not is_han(text[end]):
        return True
    if text[end] in _PLACE_AFTER:
        return False
    get = RIGHT.get
    return get(text[end], 0.0) >= 1.0 or get(text[end : end + 2], 0.0) >= 1.0


def _words_in(value: str) -> int:
    """How many characters of ``value`` are strong context words alone (不, 得, 说)."""
    return sum(LEFT.get(ch, 0.0) >= 1.0 or RIGHT.get(ch, 0.0) >= 1.0 for ch in value)


def find_transliterated_names(text: str) -> Iterator[Finding]:
    for match in _RUN.finditer(text):
        start = match.start()
        if not _left_ok(text, start):
            continue
        # The run may swallow the start of the next word (阿依努尔|今天: 今 is such a
        # character too): the longest reading a person's word follows.
        for end in range(match.end(), start + MIN_RUN - 1, -1):
            value = text[start:end]
            if _words_in(value) > MOST_WORDS:
                continue
            if _right_ok(text, end) and not any(place in value for place in PLACES):
                yield Finding("PERSON", start, end, value)
                break
