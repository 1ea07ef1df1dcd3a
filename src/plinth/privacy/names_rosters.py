"""Names listed after a roster label: 参会：邵总、殷晓鹏、暴雨晴; 缺席：揭晓（请假）.

Minutes, sign-up threads and notices list people after a label that says who they
are: those present (参会, 出席, 与会, 到场, 列席), absent (缺席, 请假), taking part
(参与, 参加, 报名, 参赛), on duty (值班) or copied (抄送). The label is a short Han
run before a colon that holds one of ``ROSTER_CUES`` (报名的有：, 参会人员：). The
items after it, up to the end of the line or sentence and separated by 、 ，, / or
spaces, are names when they have a person's shape: a surname and one or two given
characters, or two or three characters that are no everyday word (a surname the
gazetteer lacks), none of them a collective word (全体, 各部门); or Firstname
Lastname (Jake Sorensen-Park). A note in brackets after an item is not
part of it. The label is the evidence, so a name that is also a word (a given name
chosen for its meaning) is taken here, and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import PLACES, words
from plinth.privacy.han import is_han
from plinth.privacy.names_fields import WORD_WEIGHT
from plinth.privacy.names_surnames import surname_length
from plinth.privacy.names_zh_scored import GIVEN, WORDS

ROSTER_CUES = tuple(
    words(
        "参会 与会 出席 列席 到场 到会 签到 缺席 请假 参与 参加 报名 参赛 值班 抄送 "
        "参训 随行 陪同 获奖"
    )
)
_LABEL_LONGEST = 8
# A cue, the rest of its label, a colon: one search of the text (a look behind every
# colon of a JSON or log text cost twice as much).
_LABEL = re.compile(
    "(?:" + "|".join(ROSTER_CUES) + rf")[\u3400-\u9fff]{{0,{_LABEL_LONGEST - 2}}}[：:]"
)  # 参会人员名单 and the like
# An item: Han with a bracketed note after it, or Latin words; the rest ends it.
_ITEM_SPLIT = re.compile(r"[ \t\u3000]*[、，,/／][ \t\u3000]*")
_SEGMENT_END = re.compile(r"[\n。；;！!？?]")
_NOTE = re.compile(r"[（(][^）)]{0,12}[）)]$")
_ENGLISH_NAME = re.compile(r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+){1,2}")
_HAN_ITEM = re.compile(r"[\u3400-\u9fff]{2,4}")
# Given characters that make a group or a unit, not a person (全体, 各部门, 财务组).
_COLLECTIVE = frozenset("们体部组科处室队班司等各全员人位家方届院系所局厅")
_REACH = 200  # an item list is read this far at most
NOT_GIVEN = -1.0  # a given-name likelihood below it: a character of verbs and nouns


def _labelled(text: str, colon: int) -> bool:
    """Whether the Han run before ``colon`` (which holds a cue) is short enough to be
    a label, not the end of a sentence."""
    start = colon
    while start > 0 and colon - start <= _LABEL_LONGEST and is_han(text[start - 1]):
        start -= 1
    return colon - start <= _LABEL_LONGEST


def person_shaped(item: str) -> bool:
    """A list item or table cell shaped like a person's name (see the module's text)."""
    if _ENGLISH_NAME.fullmatch(item):
        return True
    if _HAN_ITEM.fullmatch(item) is None or item in PLACES:
        return False
    if _COLLECTIVE.intersection(item[1:]):
        return False
    surname = surname_length(item)
    if surname:
        return 1 <= len(item) - surname <= 2
    # A surname the gazetteer lacks (宦, 暴): two or three characters, no everyday word,
    # the others no characters names seldom hold (婚假: 假 is -1.7 in name_model.tsv).
    if any(GIVEN.get(ch, 0.0) < NOT_GIVEN for ch in item[1:]):
        return False
    return len(item) <= 3 and WORDS.get(item, 0.0) < WORD_WEIGHT


# A label that names the role of whoever follows it (收货人：, 管理员：, 报案人：, 群主：)
# or asks for a name (姓名：): its last character before the colon. Colons are found
# by str.find and the characters before them looked at (a regex scan of the text
# cost 8 us per 2 KB prompt).
_ROLE_ENDS = frozenset("人员长师生工士手主")
_NAME_FIELDS = ("姓名", "名字")


def _role_labels(text: str) -> Iterator[int]:
    """Where the items after each role's colon start."""
    for colon in ("：", ":"):
        at = text.find(colon, 1)
        while at != -1:
            if text[at - 1] in _ROLE_ENDS or text[at - 2 : at] in _NAME_FIELDS:
                yield at + 1
            at = text.find(colon, at + 1)


# A role's items end at a space or another label: a form's fields follow on the line
# (取件人：毛俊杰 取件码 5-2-3017), where a roster's names are spaced (张三 李四).
_ROLE_ITEMS_END = re.compile(r"(?<=\S)[ \t\u3000]|[：:]")


def _labels(text: str) -> Iterator[tuple[int, bool]]:
    """Where each label's items start (after its colon), and whether it is a role's."""
    cues = [(label.end(), False) for label in _LABEL.finditer(text)]
    roles = [(colon, True) for colon in _role_labels(text)]
    if not roles:
        yield from cues
        return
    ends = dict(roles)
    ends.update(cues)  # a roster cue's label that ends like a role (值班人员：) is a roster's
    yield from sorted(ends.items())


def find_roster_names(text: str) -> Iterator[Finding]:
    if "：" not in text and ":" not in text:
        return
    for at, role in _labels(text):
        if not _labelled(text, at - 1):
            continue
        stop = min(len(text), at + _REACH)
        end = _SEGMENT_END.search(text, at, stop)
        segment_end = end.start() if end is not None else stop
        if role and (field_end := _ROLE_ITEMS_END.search(text, at, segment_end)) is not None:
            segment_end = field_end.start()
        for piece in _pieces(text, at, segment_end):
            start, finish = piece
            item = text[start:finish]
            if person_shaped(item):
                yield Finding("PERSON", start, finish, item)


def _pieces(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The items between ``start`` and ``end``, spaces and notes taken off; Han items
    with spaces between them (张三 李四) are items each."""
    position = start
    for separator in [*_ITEM_SPLIT.finditer(text, start, end), None]:
        stop = separator.start() if separator is not None else end
        item = text[position:stop]
        note = _NOTE.search(item)
        if note is not None:
            item = item[: note.start()]
        offset = position + len(item) - len(item.lstrip())
        item = item.strip()
        if item and not item.isascii() and " " in item:
            for word in re.finditer(r"\S+", item):
                yield offset + word.start(), offset + word.end()
        elif item:
            yield offset, offset + len(item)
        if separator is None:
            break
        position = separator.end()
