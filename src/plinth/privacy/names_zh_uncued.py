"""Chinese names with no cue word around them: 刚才刘洋在群里说, {"assignee":"田志刚"}.

A name is a surname followed by one or two given-name characters; what tells
it from an everyday word (黄金, 高速) is the company it keeps. A candidate is
taken when

- its given characters are all common in names (``GIVEN_NAME_CHARS``), and the
  whole is not an everyday word of that shape (``COMMON_WORDS``, from jieba's
  dictionary);
- it stands between boundaries: on the left the text's start, a non-Han
  character, or a word that puts a person next (跟, 让, 是, 昨天, 辅导员); on the
  right a non-Han character or a word a person does or has (在, 说, 把, 的, 没);
- a surname that is also a common word (高, 方) needs a plain boundary (the
  text's edge or a non-Han character) on one side.

Also: a surname said to be one (姓唐); Tibetan
and Mongolian names made of common parts (扎西多吉); and the name on the line
after a Chinese sign-off (祝好！ then 杜鹃), whatever its characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import (
    CITIES,
    COMMON_WORDS,
    COMPOUND_SURNAMES,
    GIVEN_NAME_CHARS,
    HAND_GIVEN_NAME_CHARS,
    PROVINCES,
    alternation,
    words,
)
from plinth.privacy.han import is_han
from plinth.privacy.names_surnames import SURNAMES
from plinth.privacy.names_values import longer_value

_HAN = "\u3400-\u9fff"
# Single characters that end a word after which a person is often named: 跟/让/问/找
# (verbs and prepositions), 天/午/晚/才 (今天, 下午, 刚才), 员/长/师/生/人/手 (roles:
# 辅导员, 班长, 新生, 负责人, 选手), and the last characters of verbs that take a
# person as object (麻烦, 约, 催, 感谢, 提醒, 恭喜, 抄送, 陪, 喊, 代, 等, 见, 支持), of
# kin (舅舅, 叔叔, 阿姨) and of roles (保安).
_LEFT = (
    "跟让问找叫是由被把和与同对向请给替帮派告知天午晚才员长师生人手士友妹姐哥弟妈爸婆公户表"
    "烦约催谢醒喜送陪喊代等见持舅叔姨爷奶安"
)
# Characters that start what a person does or has: 在 说 把 的 没 已 刚 …
# 值班, 确认, 申请, 处理, 拿, 交, 带, 开, 借, 改, 订, 问, 画, 升, 加, 住, 代, 周五, 星期.
_RIGHT = (
    "在说把被的和与跟对向给让从提请已刚没不也都就还要会来去有是今明昨上下打发回负签等叫做报看正帮"
    "值确申处拿交带开借改订问画升加住代周星"
)
# Surnames that are also everyday words (高, 方, 安, 和): stricter, as in names_zh.
WORDLIKE = frozenset(
    "和于时成平国来信都明云全应海强花南元展相初门万支计利向常安文方高石白金江关古代包宁尚甘车项"
    "连麦费冷宫席师乐原燕楚区位井巴丰晋普伏那战危玉银公哈呼居干但衣阴智幸由华路游解穆农司卓吉简"
    "党商沙荣桑佟仇单麻"
)
_NOT_NAMES = COMMON_WORDS | frozenset(PROVINCES) | frozenset(CITIES)


def _chars(chars: frozenset[str] | str) -> str:
    return "".join(sorted(chars))


_FIRSTS = _chars(SURNAMES | {name[0] for name in COMPOUND_SURNAMES})
_GIVEN = _chars(GIVEN_NAME_CHARS)
_BOUNDARY = rf"(?=[{_RIGHT}]|[^{_HAN}]|$)"
# A surname's first character, the left boundary, 1-3 given characters (or a compound
# surname's second one), the right boundary; Python then parses the surname and tests
# the everyday words. Starting with a character class lets the engine skip at once to
# the next surname character; an alternation first would be ~20x slower.
_CANDIDATE = re.compile(
    rf"[{_FIRSTS}](?:(?<=[{_LEFT}].)|(?<![{_HAN}].))"
    rf"[{_chars(GIVEN_NAME_CHARS | {name[1] for name in COMPOUND_SURNAMES})}]{{1,3}}{_BOUNDARY}"
)
# 经理姓唐: the surname alone, said to be one.
_SURNAME_SAID = re.compile(rf"姓([{_FIRSTS}][{_HAN}]?)")
# Tibetan and Mongolian names are written as two or three common parts, without a dot:
# 次仁卓玛, 扎西多吉, 乌兰图雅. The parts come from everyday knowledge of such names.
_MINORITY_PARTS = words(
    "次仁 卓玛 扎西 多吉 格桑 央金 达瓦 尼玛 平措 丹增 旦增 拉姆 德吉 曲珍 边巴 普布 洛桑 顿珠 "
    "桑珠 白玛 强巴 索朗 益西 贡嘎 阿旺 罗布 巴桑 次旦 群培 米玛 仁增 措姆 卓嘎 央宗 拉巴 "
    "巴特尔 乌兰 图雅 其其格 苏日娜 那仁 宝音 额尔敦 朝鲁 斯琴 高娃 阿拉坦 敖登 哈斯 "
    "巴雅尔 格日勒 萨仁 乌力吉 吉日嘎拉 孟和 达来 图门 娜仁 塔娜 布仁 巴图 特木尔 毕力格 "
    "那顺 满都拉 额尔德尼 呼和 朝格图 阿木尔 白音 乌日娜 托娅 吉雅 德力格尔 包力高 "
    "旺姆 次珠 扎西顿珠 琼达 嘎玛 多布杰 其美"
)
_PART = alternation(_MINORITY_PARTS)
# Literals first (factored by first character, see ``alternation``): a fast skip.
# Two or three parts; or one part of three characters or more, which Mongolian names
# often are alone (巴特尔, 其其格): too long to be an everyday word's start (a match
# shorter than three characters is one short part, left out by the caller). One
# pattern with the literals first keeps the engine's fast skip to their first characters.
# Two or three parts in a row are a name whatever follows (扎西顿珠寒假…, 次仁曲珍和…):
# no everyday word is made of them; one part alone needs the boundary.
_MINORITY = re.compile(rf"(?:{_PART})(?:(?:{_PART}){{1,2}}|{_BOUNDARY})")


# A Chinese sign-off, then a line that holds only a name: the signature.
CLOSINGS = alternation(
    words("此致 敬礼 此致敬礼 祝好 顺祝商祺 顺颂商祺 顺颂时祺 祝商祺 谢谢 多谢 感谢 敬上")
)
_SIGNATURE = re.compile(
    rf"(?:{CLOSINGS})[！!。，,]?[ \t]*\n(?:[ \t]*\n)?[ \t]*(?!{CLOSINGS})"
    rf"([{_FIRSTS}][{_HAN}]{{1,2}})(?![{_HAN}])"
)


def find_uncued_names(text: str) -> Iterator[Finding]:
    position = 0
    while (match := _CANDIDATE.search(text, position)) is not None:
        found = _judge(text, match.start(), match.end())
        if found is not None:
            yield found
        # A rejected candidate may hide one that starts inside it (老师林晓东: 师 is a
        # surname too), so the search goes on from its second character.
        position = match.end() if found is not None else match.start() + 1
    if "姓" in text:
        for match in _SURNAME_SAID.finditer(text):
            surname = _surname_length(match.group(1))
            if surname and match.group(1)[surname:] not in GIVEN_NAME_CHARS:
                yield Finding("PERSON", match.start(1), match.start(1) + surname, match.group(1))
    for match in _MINORITY.finditer(text):
        if len(match.group(0)) < 3:
            continue
        before = text[match.start() - 1] if match.start() else ""
        # 给额尔敦巴雅尔订机票; four characters or more (two parts: 同事次仁曲珍) need no left.
        if not before or not is_han(before) or before in _LEFT or len(match.group(0)) >= 4:
            yield Finding("PERSON", match.start(), match.end(), match.group(0))
    if "\n" in text:
        for match in _SIGNATURE.finditer(text):
            if _surname_length(match.group(1)):
                yield Finding("PERSON", match.start(1), match.end(1), match.group(1))


def _surname_length(text: str) -> int:
    if text[:2] in COMPOUND_SURNAMES:
        return 2
    return 1 if text[:1] in SURNAMES else 0


def _full_name(value: str) -> bool:
    """跟包文博确认: an everyday-word surname (包) with two given characters, both from
    the hand-written list, and no word in its first two (包括, 方法) reads as a name."""
    return (
        len(value) == 3
        and value[1] in HAND_GIVEN_NAME_CHARS
        and value[2] in HAND_GIVEN_NAME_CHARS
        and value[:2] not in _NOT_NAMES
    )


def _across_start(text: str, start: int) -> float:
    # names_zh_scored imports this module (CLOSINGS), so it is imported here, at call time.
    from plinth.privacy.names_zh_scored import across_start

    return across_start(text, start)


# A word this common (log10 of jieba's count) that holds the surname and starts before
# it (天门 in 去天门山, 4,627) says the surname is no name's first character; one that
# the reading's last character starts with what follows (大会 in 楼大|会议室) says the
# reading ends inside a word.
WORD_ACROSS = 3.0


def _cuts_a_word(text: str, stop: int) -> bool:
    from plinth.privacy.names_zh_scored import WORDS

    return WORDS.get(text[stop - 1 : stop + 1], 0.0) >= WORD_ACROSS


def _judge(text: str, start: int, end: int) -> Finding | None:
    """The name a candidate holds, if any: the longest reading whose right side is a
    boundary (朱晓燕在 → 朱晓燕, not 朱晓), and that is no everyday word."""
    surname = _surname_length(text[start : start + 2])
    if not surname:
        return None
    plain_left = start == 0 or not is_han(text[start - 1])
    if not plain_left and _across_start(text, start) >= WORD_ACROSS:
        return None  # 天门|山: the surname ends a common word that starts before it
    for stop in range(min(end, start + surname + 2), start + surname, -1):
        if any(ch not in GIVEN_NAME_CHARS for ch in text[start + surname : stop]):
            continue
        plain_right = stop == len(text) or not is_han(text[stop])
        if not plain_right and text[stop] not in _RIGHT:
            continue
        value = text[start:stop]
        if value in _NOT_NAMES:
            continue
        if not plain_right and _cuts_a_word(text, stop):
            continue  # 3楼|大会议室: the last character starts a word with what follows
        clear = plain_left or plain_right
        # 王国栋 is a name although 王国 is a word: then one side must be plain.
        prefix_is_a_word = text[start : start + surname + 1] in _NOT_NAMES
        if stop - start > surname + 1 and prefix_is_a_word and not clear:
            continue
        if surname == 1 and text[start] in WORDLIKE and not clear and not _full_name(value):
            continue
        if longer_value(text, start, stop):
            return None  # "name":"<brand>剪刀礼盒": a product's maker
        return Finding("PERSON", start, stop, value)
    return None
