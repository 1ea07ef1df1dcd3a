"""Names that are everyday words, in a frame only a person fills: 跟向阳说一声,
让常乐把合同扫一份, 给江海打个电话, 蓝海请了婚假, 向东你过来一下.

The scored model (``names_zh_scored``) rightly turns 向阳, 江海 or 文静 down on their
own: jieba counts them hundreds of times as words, and nothing near them says more
than "a word ends here". Some frames say more: they are filled by a person and
hardly anything else.

- **Object then speech**: a verb or preposition that takes a person (跟, 让, 请,
  给, 找, 交给, 请教, 告诉 …, with 一下 after it or not) before the reading, and a
  verb of speaking or dealing with someone (说, 商量, 汇报, 打电话, 把, 帮, 过来 …) or
  a clause end and a pronoun for a person (，他 / ，她) after it.
- **The subject of a leave**: 请假, 请了婚假, 今天请病假 after the reading, which
  starts a clause or follows a word a person may follow (a time word: 今天|文静).
- **The one spoken to**: a clause start, the reading, then 你 (向东你过来).
- **The subject of 负责, 把 or 说** at a clause start, a time word or an adverb
  between or not (常青把车借走了, 黄河负责音响, 方圆今天说…).

The frame says "a person"; the reading must still look like a name rather than
another person (房东, 司机) or an organisation (公司, 平台): a surname, then one or
two given characters each likelier in names than in other words (G > 0 in
``name_model.tsv``); not one of jieba's frequent words (``WORD_CEILING``), a time
word or adverb (``X``: 明天), a title or a cue word (师傅, 同事); no last character
that ends a noun for a person or a household (家长, 商家); no word across its left
edge (民|宿老板).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import NAME_CUES, PERSON_NOUN_ENDS, PLACES, TITLES, words
from plinth.privacy.han import is_han
from plinth.privacy.names_surnames import surname_length
from plinth.privacy.names_zh_scored import (
    _FIRSTS,
    FUNCTION_WORDS,
    GIVEN,
    LEFT,
    NOT_GIVEN_WORDS,
    RIGHT,
    WORDS,
    across_start,
    person_follower,
)

# log10 of jieba's count at and above which a reading is a word first (高兴 3.7,
# 公司 4.7, 大家 4.3; 向阳 2.8, 时光 2.9, 黄河 3.5 stay below).
WORD_CEILING = 3.6
# Last characters of a household, a shop or a party (商家, 管家, 甲方): no given name's.
_NOT_LAST = frozenset(PERSON_NOUN_ENDS | set("家方客"))  # 顾客, 乘客 too
# log10 of jieba's count of a two-character word across the reading's right edge that
# says the reading is cut there.
CUT_WORD = 2.0
_ROLES = frozenset(TITLES) | frozenset(NAME_CUES)
_HAN = "\u3400-\u9fff"

# Verbs and prepositions whose object is a person (跟X说, 交给X, 请教一下X).
_TAKES_A_PERSON = words(
    "跟 给 让 叫 喊 请 找 问 催 约 派 向 告诉 通知 拜托 麻烦 交给 请教 提醒 转告"
)
# (和 and 同 also join two nouns: 成功和荣誉，他…; 毛泽东和周恩来.)
# What a person then does with the speaker (说, 商量, 把…, 打个电话), or a clause end
# and a pronoun for a person; 说明 and 去年 are no such verbs. (来 alone ends too many
# names: 让周恩|来.)
_DEALS = (
    r"说(?![明服法])|讲(?![究座])|聊|谈|约|商量|沟通|汇报|确认|把|帮|过来|下来|上来"
    r"|打(?:个|一?通)?电话|去(?![年世])|[，,](?:他|她)"
)
_OBJECT_THEN_SPEECH = re.compile(
    rf"(?:{'|'.join(sorted(_TAKES_A_PERSON, key=len, reverse=True))})(?:一下)?"
    rf"([{_FIRSTS}][{_HAN}]{{1,3}}?)(?={_DEALS})"
)
# The first characters of those words, looked for with str.find: a regex scan of a
# 2 KB prompt for any of them costs twice as much (~4 µs against ~2).
_TRIGGERS = "".join(sorted({word[0] for word in _TAKES_A_PERSON}))
# 请假, 请了婚假, 请两天病假 (a person's leave), with an adverb or a time word between.
_LEAVE = re.compile(
    r"(?:今天|明天|昨天|又|也|已经|要)?请了?(?:[一两三四五六七八九十几]天)?的?[病事婚产年丧]?假"
)
_SPOKEN_TO = "你"
# Verbs whose subject is a person, after a name that starts a clause (常青把车借走了,
# 黄河负责音响); a time word or an adverb may stand between (常青今天把…).
_AGENT_VERBS = ("负责", "把", "说")
_NOT_AGENT = ("负责人", "说明", "说服", "说法", "把握", "把关")
_BETWEEN = ("今天", "明天", "昨天", "刚才", "已经", "又", "也", "先", "就")


def name_like(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` reads as a surname and a given name, not as a word."""
    surname = surname_length(text, start)
    given = text[start + surname : end]
    if not surname or not 1 <= len(given) <= 2:
        return False
    reading = text[start:end]
    if (
        reading in _ROLES
        or reading in PLACES
        or reading in NOT_GIVEN_WORDS
        or WORDS.get(reading, 0.0) >= WORD_CEILING
        or reading[-1] in _NOT_LAST
    ):
        return False
    if WORDS.get(text[end - 1 : end + 1], 0.0) >= CUT_WORD:
        return False  # the reading cuts a word on its right (和|申请病假, 金庸|小说)
    get = GIVEN.get
    return all(get(ch, -1.0) > 0.0 for ch in given) and not across_start(text, start)


def _clause_or_person_left(text: str, start: int) -> bool:
    """A clause starts at ``start``, or a word a person may follow ends there (今天)."""
    if not start or not is_han(text[start - 1]):
        return True
    get = LEFT.get
    return max(get(text[max(0, start - n) : start], 0.0) for n in (1, 2, 3)) >= 1.0


def _before(text: str, end: int) -> Iterator[tuple[int, int]]:
    """Readings that end at ``end`` and start a clause or follow a person's word."""
    for size in (2, 3):
        start = end - size
        if start >= 0 and _clause_or_person_left(text, start) and name_like(text, start, end):
            yield start, end
            return


def person_follows(text: str, end: int) -> bool:
    """The text ends at ``end``, a non-Han character follows (not a colon: 同事晋升：
    is a label), or a word a person is followed by (``RIGHT`` class 1, the longest word
    there deciding: 是, 在, 说)."""
    if end >= len(text) or not is_han(text[end]):
        return end >= len(text) or text[end] not in ":："
    return person_follower(text, end)


def _addressed(text: str, you: int) -> bool:
    """你 at ``you`` is spoken to, not an object: a verb or an adverb follows (你过来,
    你把, 你先), not 们, 的 or a clause end (谢谢你们, 谢谢你的, 祝福你！)."""
    after = you + 1
    if text[after : after + 1] in ("", "们", "的"):
        return False
    get = RIGHT.get
    return max(get(text[after : after + n], 0.0) for n in (1, 2, 3)) >= 1.0


def _subject(text: str, verb: int) -> Iterator[tuple[int, int]]:
    """The reading that starts a clause and is the subject of the verb at ``verb``."""
    ends = [verb]
    for word in _BETWEEN:
        if text.startswith(word, verb - len(word)):
            ends.append(verb - len(word))
    for end in ends:
        for start in (end - 2, end - 3):  # the clause's start first: the cheap test
            clause = start == 0 or (start > 0 and not is_han(text[start - 1]))
            # 但|王飞说: a conjunction that starts the clause, before a name of its own.
            joined = text[start] in FUNCTION_WORDS and name_like(text, start + 1, end)
            if clause and not joined and name_like(text, start, end):
                yield start, end
                return


def find_framed_names(text: str) -> Iterator[Finding]:
    spans: list[tuple[int, int]] = []
    find, match_at = text.find, _OBJECT_THEN_SPEECH.match
    for trigger in _TRIGGERS:
        position = find(trigger)
        while position >= 0:
            match = match_at(text, position)
            if match is not None and name_like(text, match.start(1), match.end(1)):
                spans.append(match.span(1))
            position = find(trigger, position + 1)
    if "假" in text:
        for match in _LEAVE.finditer(text):
            spans.extend(_before(text, match.start()))
    for verb in _AGENT_VERBS:
        position = text.find(verb, 2)
        while position >= 0:
            if not text.startswith(_NOT_AGENT, position):
                spans.extend(_subject(text, position))
            position = text.find(verb, position + 1)
    position = text.find(_SPOKEN_TO)
    while position > 0:
        if _addressed(text, position):
            for start, end in _before(text, position):
                if not start or not is_han(text[start - 1]):
                    spans.append((start, end))
        position = text.find(_SPOKEN_TO, position + 1)
    for start, end in sorted(set(spans)):
        yield Finding("PERSON", start, end, text[start:end])
