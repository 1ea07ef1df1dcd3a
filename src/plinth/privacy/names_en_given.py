"""English given names standing alone, where the text itself says a person is meant.

``names_en`` takes a lone capitalised word only after a cue (Hi, Dear, Mr.) or a
Chinese verb that takes a person; chats, e-mails and notes name people by their
given name in a few more places:

- again, after the full name: "To: Emily Chen … Emily, the landlord's agent agreed":
  the first word of a full English name found in the same text, repeated alone;
- on a sign-off line after a dash: "Bank details unchanged. — Leo";
- right before a Chinese title or greeting (Amy老师, Tiffany您好, Lily姐, Kevin 说,
  Jason问我), or before 你 or 我 at a line's start (Jenny 你帮我查下, Jason 我这边…);
- after @ in a chat mention, in a text with no Han too (@Jonas please…: the Han
  finders, ``names_fields`` among them, are not run on such a text; ``names_en`` asks);
- as a speaker's label at a line's start, after a list mark or a short capitalised
  role (``- Alex：CRM 数据迁移完成``, ``HR Cindy: 新同事…``);
- upper-case pinyin beside a Chinese name found (贾若曦 / JIA RUOXI, ZHOU Haoyu (周浩宇)),
  which ``names_en``'s scan of capitalised words does not see.

The echoes and the pinyin are a stage of their own (``find_lone_given_names``: they
need the names found); the other forms are checked by ``marked_alone`` on each lone capitalised
word ``names_en`` visits anyway. The word must be a known given name (Faker's list,
``english_given_names.txt``) and not one that is an everyday word as well (Mark, Will,
Grace: ``WORDLIKE_GIVEN_NAMES`` in ``names_en``), nor a month, a label, a place or an
assistant's name (``_NOT_LONE``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import words
from plinth.privacy.names_en import GIVEN_NAMES, NOT_NAMES, pinyin_name

# Chinese titles and greetings a given name is put before (Amy老师, Tiffany您好, Lily姐).
# 说 and 问 (Kevin 说, Jason问我): the name is the subject of speech.
_TITLES = (
    "老师",
    "您好",
    "你好",
    "同学",
    "经理",
    "总监",
    "主管",
    "医生",
    "律师",
    "姐",
    "哥",
    "说",
    "问",
)
# Before the name on its line: nothing, a list mark or a short capitalised role (HR,
# PM); after it, a speaker's colon, or 你 or 我 (a line spoken to the name:
# Jenny 你帮我查下, Jason 我这边报价发你了).
_HEAD_BEFORE = re.compile(r"[ \t]*(?:[-*•][ \t]*)?(?:[A-Z]{2,4}[ \t]+)?")
_HEAD_AFTER = re.compile(r"[ \t]*[:：]|[ \t，,]*[你我]")
# A dash that signs a message off, at a line's start or after a sentence's end, and
# the name alone up to the line's end. ``normalize`` turns — into -.
_DASH_BEFORE = re.compile(r"(?:^|[.!?。！？])[ \t]*(?:--?|—|–)[ \t]*$")
_LINE_END = re.compile(r"[ \t]*(?:$|\n)")


# Faker's given names hold words a line or a title starts with as often: month
# abbreviations (Jan:), field and log labels (Link:, Trace:), places (China说, Houston)
# and voice assistants (Siri, Alexa): never a lone given name here.
_NOT_LONE = frozenset(
    words(
        "Jan Mar Sep Link Trace Journey Charity China America Asia Africa Israel India "
        "Houston Dallas Denver Phoenix Brooklyn Camden Chelsea Washington Florence "
        "Georgia Virginia Carolina Siri Alexa Claude Gemini"
    )
)


def _given(word: str) -> bool:
    return word in GIVEN_NAMES and word not in _NOT_LONE and word not in NOT_NAMES


def _echoes(text: str, found: Sequence[Finding]) -> Iterator[Finding]:
    firsts = {f.text[: f.text.index(" ")] for f in found if f.entity == "PERSON" and " " in f.text}
    firsts = {first for first in firsts if _given(first)}  # not Will: "Will you check"
    if not firsts:
        return
    taken = {f.start for f in found if f.entity == "PERSON"}  # a set: stays linear
    for first in firsts:
        at = text.find(first)
        while at != -1:
            end = at + len(first)
            if (
                at not in taken
                and not text[at - 1 : at].isalpha()
                and not text[end : end + 1].isalpha()
            ):
                yield Finding("PERSON", at, end, first)
            at = text.find(first, end)


def marked_alone(text: str, start: int, end: int) -> bool:
    """A lone capitalised word at ``start:end`` is a given name the text marks as a
    person's: before a Chinese title or greeting, as a speaker's label or before 你 at
    a line's start, or signing off after a dash. ``names_en`` asks this of each lone
    capitalised word it visits (no scan of its own: three such scans cost ~75 µs per
    2 KB prompt, the veto and this together ~2)."""
    if not _given(text[start:end]):
        return False
    after = end + 1 if text[end : end + 1] == " " else end
    if text.startswith(_TITLES, after):
        return True
    line_start = text.rfind("\n", 0, start) + 1
    if _HEAD_BEFORE.fullmatch(text, line_start, start) and _HEAD_AFTER.match(text, end):
        return True
    before = text[max(line_start, start - 6) : start]
    return _DASH_BEFORE.search(before) is not None and _LINE_END.match(text, end) is not None


# A Chinese name with its pinyin beside it, as forms and letters write it (贾若曦 / JIA
# RUOXI, ZHOU Haoyu (周浩宇)): upper-case words are no capitalised run to ``names_en``.
# Two words after a slash or an opening parenthesis, or before one, all pinyin-shaped
# and one a Chinese surname in Latin letters; only beside a Han name already found.
_LATIN_PAIR = r"([A-Z][A-Za-z]+ [A-Z][A-Za-z]+)"
_PINYIN_AFTER = re.compile(rf"[ \t]*[/／(（][ \t]*{_LATIN_PAIR}(?![A-Za-z])")
_PINYIN_BEFORE = re.compile(rf"(?<![A-Za-z]){_LATIN_PAIR}[ \t]*[/／(（][ \t]*$")


_OPENERS = frozenset("/／(（")


def _pinyin(pair: str) -> bool:
    parts = [part.capitalize() for part in pair.split(" ")]
    return pinyin_name(" ".join(parts), parts)


def _pinyin_beside(text: str, found: Sequence[Finding]) -> Iterator[Finding]:
    # The brackets and slashes first (str.find, few in a text), then only the names
    # beside one: a regex search per name cost ~5 us per 2 KB prompt.
    spots: set[int] = set()
    for opener in _OPENERS:
        at = text.find(opener)
        while at != -1:
            spots.update((at, at - 1, at + 1, at + 2))  # one space or tab between
            at = text.find(opener, at + 1)
    if not spots:
        return
    for f in found:
        if f.entity != "PERSON" or (f.end not in spots and f.start - 1 not in spots):
            continue
        if not "\u3400" <= f.text[0] <= "\u9fff":
            continue
        after = _PINYIN_AFTER.match(text, f.end)
        before = _PINYIN_BEFORE.search(text, max(0, f.start - 40), f.start)
        for match in (after, before):
            if match is not None and _pinyin(match.group(1)):
                yield Finding("PERSON", match.start(1), match.end(1), match.group(1))


def find_lone_given_names(text: str, found: Sequence[Finding]) -> Iterator[Finding]:
    """The first words of full English names in ``found``, repeated alone elsewhere, and
    the pinyin written beside a Chinese name. Reads ``found`` before yielding the first,
    so the caller may extend it meanwhile."""
    yield from [*_echoes(text, found), *_pinyin_beside(text, found)]
