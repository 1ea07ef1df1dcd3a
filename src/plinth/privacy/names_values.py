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
from plinth.privacy.names_surnames import surname_length

# Characters that open a value in structured text. (Chinese punctuation is prose.)
_VALUE_OPENERS = frozenset(",|\t\"'")
_SPACES = " \u3000"


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


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
    if after >= len(text) or not _is_han(text[after]):
        return False  # the value ends with the name
    if after > end:  # a space: another name may follow (张伟 李娜)
        return not surname_length(text, after)
    if text.startswith(TITLES, end):
        return False
    return not _person_word_after(text, end)
