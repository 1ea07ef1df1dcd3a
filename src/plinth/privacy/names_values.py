"""A name that starts a structured value fills it: 2024-05-02,<name>,42 or "holder":"<name>".

In CSV rows, table cells, JSON strings and key=value fields a person's name is the
whole value, or is followed by a title, a verb (``"note":"张伟说…"``) or another
name (``"members":"张伟 李娜"``). A name-shaped start of a longer value is the
maker's name on a product or a shop: ``<brand>剪刀礼盒``, ``<brand>麻辣烫``,
``<brand> 足金吊坠``. So where a reading starts a value (after ``,`` ``|``, a tab
or a quote), the value must end with it, or go on with a title, a word a person is
followed by (``RIGHT`` class 1: verbs, particles, adverbs; the longest word there
decides, so 剪刀 is a noun although 剪 is a verb), or, across a space, with another
surname.
"""

from __future__ import annotations

from plinth.privacy.gazetteer import TITLES
from plinth.privacy.han import is_han
from plinth.privacy.names_surnames import surname_length

# Characters that open a value in structured text. (Chinese punctuation is prose.)
_VALUE_OPENERS = frozenset(",|\t\"'")
_SPACES = " \u3000"


def starts_a_value(text: str, start: int) -> bool:
    """``start`` follows a value opener, spaces skipped."""
    before = start - 1
    while before >= 0 and text[before] in _SPACES:
        before -= 1
    return before >= 0 and text[before] in _VALUE_OPENERS


def _person_word_after(text: str, end: int) -> bool:
    """The longest word of ``RIGHT`` at ``end`` is one a person is followed by."""
    # Imported here: names_zh_scored imports this module (asked only of a found name).
    from plinth.privacy.names_zh_scored import RIGHT as right

    for size in (3, 2, 1):
        value = right.get(text[end : end + size])
        if value is not None:
            return value >= 1.0
    return False


def longer_value(text: str, start: int, end: int) -> bool:
    """A reading ``text[start:end]`` that starts a structured value goes on with
    something no name is followed by: the value is a product's or a shop's name."""
    if not starts_a_value(text, start):
        return False
    after = end
    while after < len(text) and text[after] in _SPACES:
        after += 1
    if after >= len(text) or not is_han(text[after]):
        return False  # the value ends with the name
    if after > end:  # a space: another name may follow (张伟 李娜)
        return not surname_length(text, after)
    if text.startswith(TITLES, end):
        return False
    return not _person_word_after(text, end)


# Measure words of goods and shops (一双 跑鞋, 一家 店, 一瓶 酱油): after a numeral or a
# demonstrative, what follows is a thing, and a name-shaped reading there is a brand.
# People are counted with 个 位 名 口; books and songs (本 部 首 篇) are named after
# their authors (一本<author>的书, 一套<author>全集), and 张 and 把 are surnames or verbs
# too: left out.
GOODS_MEASURES = frozenset("家双瓶盒袋箱杯碗份台辆款件支桶罐")
_COUNTERS = frozenset("一两二三四五六七八九十几这那每哪某")


def counted_thing(text: str, start: int) -> bool:
    """``start`` follows a count of goods (一双|, 这家|, 两瓶|): no person stands there."""
    return start >= 2 and text[start - 1] in GOODS_MEASURES and text[start - 2] in _COUNTERS


# Last characters of the names of dishes, drinks and shops (胡辣汤, 凉皮粉, <x>记, <x>居,
# <x>坊, <x>牌): jieba counts them in given names now and then, but a reading that ends
# with one is a thing's name far more often. (道, 坡 and 斋 end real names: 李政道,
# 苏东坡, 马本斋 in the newspaper sample; 茶 and 记 end five of its 16,000 names; 匠 ends
# a craftsman's title, 沈木匠, as 师傅 does.)
THING_ENDS = frozenset("汤面粉饭糕饼酒茶记居坊阁铺牌")
