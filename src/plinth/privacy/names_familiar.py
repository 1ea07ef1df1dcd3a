"""老X and 小X: a surname after 老 (old) or 小 (little) is how colleagues and friends
are named (老鲍又迟到了, 让小谭先把发票整理好, 客服小王帮我).

老/小 says "a person" by itself, so any left side will do; what must hold is
that a person may stand there: the text goes on with a word a person is often
followed by (a verb, an adverb, a particle: ``RIGHT`` in ``name_model.tsv``,
from jieba's part-of-speech tags), or with no Han character at all. Surnames
that are also everyday words (小白, 小金库: ``WORDLIKE``), a surname that starts
a word with what follows (老胡同), and 老/小 words that are things (小米, 小康)
are left out.

Also 大X (大刘，明天…): 大 and a surname, only at a clause's start and where jieba
never counts the pair (大王, 大连 are words); 啊/呀 after a name called out (老周啊).
Also 阿X, the southern form of address (阿芳你家…, 叫阿杰来): 阿 and a character
common in given names (G ≥ ``AH_GIVEN``), not a transliteration's character with Han
text going on (T: 阿尔及利亚; 阿杰，他 is a name), no word of jieba's (阿姨, 阿里,
阿拉), then a word a person is followed by; and
a Japanese surname or given name before an honorific (佐藤さん, 田中様); a given
name alone as a chat's speaker label at a line's start (晓燕: …), or a pet name
there (小曼: …, 俊哥: …).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import PERSON_NOUN_ENDS
from plinth.privacy.names_surnames import SURNAMES
from plinth.privacy.names_zh_scored import FOREIGN, GIVEN, WORDS, person_follower
from plinth.privacy.names_zh_uncued import WORDLIKE

# 老/小 + surname words that are not people: 小米 (the brand), 小钱, 老牛.
# 大宋, 大秦: dynasties' names (大 + a surname) that jieba does not count.
_NOT_FAMILIAR = frozenset(
    ["小米", "小钱", "老牛", "小牛", "大宋", "大秦", "大汉", "大清", "大元", "大夏"]
)
# jieba lists some forms of address (老王 and 小张, a few hundred times): a 老/小 word
# seen more than that is a thing or an idea (小康, 小时), log10 of its count above this.
WORD_ABOVE = 2.7


# Particles that follow a name called out (老周啊, 小王呀); the tables hold none of them.
_VOCATIVE = frozenset("啊呀")


def _person_may_end(text: str, end: int) -> bool:
    """A person may stand right before ``end``: the text ends, a non-Han character
    follows, or a word a person is often followed by (说, 又, 先, 迟到)."""
    if end >= len(text) or not "\u3400" <= text[end] <= "\u9fff":
        return True
    if text[end] in _VOCATIVE:
        return True  # 喂，老周啊: a call to a person (jieba's tables tag 啊 as no follower)
    return person_follower(text, end)


def _starts_a_word(text: str, start: int) -> bool:
    """The surname starts a word with what follows (老|胡同): no name."""
    get = WORDS.get
    return get(text[start : start + 2], 0.0) > 0 or get(text[start : start + 3], 0.0) > 0


def _clause_start(text: str, at: int) -> bool:
    """``at`` starts a clause: the text's start, or after punctuation or a space."""
    return at == 0 or not "\u3400" <= text[at - 1] <= "\u9fff"


def _wordlike_clear(text: str, at: int) -> bool:
    """老包, 老麦: a surname that is also a word (包, 麦) after 老/小 is a name where the
    pair is no word at all and starts a clause (小白菜 and 小金库 go on in a phrase)."""
    return WORDS.get(text[at : at + 2], 0.0) == 0.0 and _clause_start(text, at)


AH_GIVEN = 2.0  # 芳 4.1, 杰 4.3, 明 1.7: only characters clearly made for names
# Japanese honorifics: two to four Han characters right before one are a name (皆さん,
# お客さん: one character is a word; 店員さん, 運転手さん: a role, by its last character).
_HONORIFICS = ("さん", "くん", "ちゃん")  # all end in ん: one character's test first
_ROLE_ENDS = frozenset("員员手者師师長长人生客医")


def _transliteration_runs(text: str, at: int) -> bool:
    """阿尔及利亚, 阿森纳: the character after 阿 is a transliteration's and Han text goes
    on, a foreign word spelled on; 阿杰 or 阿丽 then a comma or the text's end is a name."""
    after = text[at + 2 : at + 3]
    return text[at + 1] in FOREIGN and after != "" and "\u3400" <= after <= "\u9fff"


def _ah_names(text: str) -> Iterator[Finding]:
    at = text.find("阿")
    while at != -1:
        value = text[at : at + 2]
        if (
            len(value) == 2
            and GIVEN.get(value[1], 0.0) >= AH_GIVEN
            and not _transliteration_runs(text, at)
            and not _starts_a_word(text, at)
            and _person_may_end(text, at + 2)
        ):
            yield Finding("PERSON", at, at + 2, value)
        at = text.find("阿", at + 1)


def _honorific_names(text: str, honorific: str) -> Iterator[Finding]:
    at = text.find(honorific)
    while at != -1:
        start = at
        while start > 0 and at - start < 4 and "\u3400" <= text[start - 1] <= "\u9fff":
            start -= 1
        if at - start >= 2 and text[at - 1] not in _ROLE_ENDS:
            yield Finding("PERSON", start, at, text[start:at])
        at = text.find(honorific, at + 1)


# "我是小雨，": introducing oneself by a pet name, 小/阿 and a character made for names
# (G ≥ SELF_GIVEN: 雨 1.6; not 小白's 0.7, 小米's -0.1), then the clause ends.
SELF_GIVEN = 1.5
_SELF_CUES = ("我是", "我叫")


def _self_named(text: str) -> Iterator[Finding]:
    for cue in _SELF_CUES:
        at = text.find(cue)
        while at != -1:
            start, end = at + 2, at + 4
            value = text[start:end]
            if (
                len(value) == 2
                and value[0] in "小阿"
                and GIVEN.get(value[1], 0.0) >= SELF_GIVEN
                and (end == len(text) or not "\u3400" <= text[end] <= "\u9fff")
            ):
                yield Finding("PERSON", start, end, value)
            at = text.find(cue, at + 1)


# A given name alone as a chat's speaker label (晓燕: 我家那个陈阿姨挺好的): two Han
# characters at a line's start before a colon, each common in given names (G ≥
# SPEAKER_GIVEN), no word of jieba's (客服, 物业, 家长) and not ending like a noun for a
# person (群友, 室友); in a text with two such labels at least (a chat, not a headline).
# A literal newline first, so the scan is a fast search.
SPEAKER_GIVEN = 1.0
_SPEAKER = re.compile("\n([\u3400-\u9fff]{2})[:：]")
_FIRST_SPEAKER = re.compile("([\u3400-\u9fff]{2})[:：]")


def _speaker_given_names(text: str) -> Iterator[Finding]:
    labels = list(_SPEAKER.finditer(text))
    first = _FIRST_SPEAKER.match(text)
    if first is not None:
        labels.insert(0, first)
    if len(labels) < 2:  # one line "承德：科技良种…" is a headline, not a chat
        return
    for match in labels:
        value = match.group(1)
        if value in WORDS:
            continue  # 客服, 物业, 大哥, 表哥
        given = (
            GIVEN.get(value[0], -9.0) >= SPEAKER_GIVEN
            and GIVEN.get(value[1], -9.0) >= SPEAKER_GIVEN
            and value[1] not in PERSON_NOUN_ENDS
        )
        if given or _pet_name(value):
            yield Finding("PERSON", match.start(1), match.end(1), value)


# Before 哥/姐 a character clearly made for names (俊 4.5, 丽 3.2), not a word of praise
# that names hold too (帅哥 2.35: "handsome", how a shop's staff address anyone).
PET_GIVEN = 2.5


def _pet_name(value: str) -> bool:
    """小曼, 阿杰, 俊哥, 丽姐: a character made for names after 小 or 阿 (G ≥
    ``SELF_GIVEN``) or before 哥 or 姐 (G ≥ ``PET_GIVEN``), the way colleagues label
    themselves in a group chat."""
    if value[0] in "小阿":
        return GIVEN.get(value[1], -9.0) >= SELF_GIVEN
    return value[1] in "哥姐" and GIVEN.get(value[0], -9.0) >= PET_GIVEN


def _big_names(text: str) -> Iterator[Finding]:
    """大刘, 大陈: 大 (big) and a surname is a nickname, but 大 starts many words (大王,
    大明, 大连, 大方), so only a pair jieba never counts, of a surname that is no everyday
    word, at a clause's start (大刘，明天…; 大刘：我在…), with a person's follower after."""
    at = text.find("大")
    while at != -1:
        value = text[at : at + 2]
        if (
            len(value) == 2
            and value[1] in SURNAMES
            and value[1] not in WORDLIKE
            and value not in WORDS
            and value not in _NOT_FAMILIAR
            and _clause_start(text, at)
            and not _starts_a_word(text, at + 1)
            and _person_may_end(text, at + 2)
        ):
            yield Finding("PERSON", at, at + 2, value)
        at = text.find("大", at + 1)


def find_familiar_names(text: str) -> Iterator[Finding]:
    yield from _speaker_given_names(text)
    if "我" in text:
        yield from _self_named(text)
    if "阿" in text:
        yield from _ah_names(text)
    if "大" in text:
        yield from _big_names(text)
    if "ん" in text:  # a one-character test is ~20x cheaper than one for a pair
        for honorific in _HONORIFICS:
            if honorific in text:
                yield from _honorific_names(text, honorific)
    for mark in "老小":  # str.find is several times cheaper than a regex scan here
        at = text.find(mark)
        while at != -1:
            value = text[at : at + 2]
            if (
                len(value) == 2
                and value[1] in SURNAMES
                and (value[1] not in WORDLIKE or _wordlike_clear(text, at))
                and value not in _NOT_FAMILIAR
                and WORDS.get(value, 0.0) < WORD_ABOVE
                and not _starts_a_word(text, at + 1)
                and _person_may_end(text, at + 2)
            ):
                yield Finding("PERSON", at, at + 2, value)
            at = text.find(mark, at + 1)
