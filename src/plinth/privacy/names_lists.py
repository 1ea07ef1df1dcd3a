"""Names in a list whose other items are names: 抄送：高俊、白露、林一鸣; 闫妮和沙溢在排练.

People are listed the way they are listed: items of the same shape between the
same separators. Once one item is a confident name (found by any other name
finder), its neighbours across a separator are looked at with a lower bar: a
neighbour that starts with a surname is a name if the scored model
(``names_zh_scored``) gives it at least ``FLOORS[separator]`` — well below that
model's own threshold, since the list is the evidence the model lacks (林一鸣 at
the end of a text, 白露 between two names). The search goes on from each new
name, so a list is taken item by item, its last item included.

An item is the whole Han run between separators when that run is two to four
characters long; otherwise (the last item, followed by more text: 查一诺的家长)
the name is cut where a word begins that a person is often followed by (的, 在),
preferring the length of the name it is listed with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import PLACES
from plinth.privacy.han import is_han
from plinth.privacy.names_cells import find_cell_names
from plinth.privacy.names_en import GIVEN_NAMES, WORDLIKE_GIVEN_NAMES
from plinth.privacy.names_surnames import SURNAMES, surname_length
from plinth.privacy.names_zh_scored import RIGHT, WORDS, features, score_of

# The lowest score a listed neighbour may have, by the separator before or after it:
# an enumeration comma (、) or a slash says "a list" by itself; a comma or a
# conjunction (和, 与, 及) also joins clauses and words (王芳，明天来; 李娜和高速公路),
# so it asks for more.
FLOORS = {"、": -3.0, "/": -3.0, "，": -2.5, ",": -2.5, "和": -2.5, "与": -2.5, "及": -2.5}
_SPACES = " \t\u3000"
# What ends an item besides a non-Han character.
_ITEM_END = frozenset("、，,和与及；;：:")
_NOT_GIVEN = frozenset("的了是在和与及或等我你他她们这那有不也都就还说对把被让给从向到于为以而")


def _score(text: str, start: int, end: int) -> float | None:
    """The scored model's view of ``text[start:end]`` as surname + given name."""
    surname = surname_length(text, start)
    given = end - start - surname
    if not surname or not 1 <= given <= 2 or text[start:end] in PLACES:
        return None
    if any(not is_han(ch) or ch in _NOT_GIVEN for ch in text[start + surname : end]):
        return None
    values = features(text, start, surname, given)
    return None if values is None else score_of(values)


# How far a run is followed: whether it holds two to four characters is all that
# matters, so a run of 64 K Han characters is not walked once per name beside it.
_RUN_LOOK = 5


def _run_end(text: str, start: int) -> int:
    end = start
    stop = min(len(text), start + _RUN_LOOK)
    while end < stop and is_han(text[end]) and text[end] not in _ITEM_END:
        end += 1
    return end


def _run_start(text: str, end: int) -> int:
    start = end
    stop = max(0, end - _RUN_LOOK)
    while start > stop and is_han(text[start - 1]) and text[start - 1] not in _ITEM_END:
        start -= 1
    return start


def _followed(text: str, end: int) -> bool:
    """A word that often follows a person starts at ``end`` (的, 在, 说)."""
    return RIGHT.get(text[end : end + 1], 0.0) >= 1.0 or RIGHT.get(text[end : end + 2], 0.0) >= 1.0


# 大刘、小潘、老谭: a form of address (大/小/老 and a surname) listed beside a name.
_FAMILIAR_PREFIXES = frozenset("大小老")


def _familiar(text: str, start: int, end: int) -> bool:
    return (
        end - start == 2
        and text[start] in _FAMILIAR_PREFIXES
        and text[start + 1] in SURNAMES
        and text[start:end] not in WORDS
    )


def _item_after(
    text: str, start: int, size: int, floor: float, taken: bytearray
) -> tuple[int, int] | None:
    if start < len(text) and text[start] in _FAMILIAR_PREFIXES:
        run = _run_end(text, start)
        return (start, run) if _familiar(text, start, run) else None
    if start >= len(text) or not surname_length(text, start):
        return None
    run = _run_end(text, start)
    if 2 <= run - start <= 4:
        spans = [(start, run)]
    else:  # more text follows: cut where a person's word begins, the listed size first
        sizes = sorted({2, 3}, key=lambda n: n != size)
        spans = [(start, start + n) for n in sizes if _followed(text, start + n)]
    return _first_scored(text, spans, floor, taken)


def _item_before(
    text: str, end: int, size: int, floor: float, taken: bytearray
) -> tuple[int, int] | None:
    run = _run_start(text, end)
    if _familiar(text, run, end):
        return run, end
    if 2 <= end - run <= 4 and surname_length(text, run):
        spans = [(run, end)]
    else:  # 请沙宇轩: the run holds a word before the name; try the listed size first
        sizes = sorted({2, 3}, key=lambda n: n != size)
        spans = [(end - n, end) for n in sizes if end - n >= run and surname_length(text, end - n)]
    return _first_scored(text, spans, floor, taken)


def _first_scored(
    text: str, spans: list[tuple[int, int]], floor: float, taken: bytearray
) -> tuple[int, int] | None:
    """The first of ``spans`` the scored model puts at ``floor`` or above. The last one
    left is not scored when it is already taken: whatever its score, the caller adds
    nothing (in a list of found names every neighbour is, and scoring each cost half
    of this stage on a 2 KB list: 、廖华、廖华…)."""
    for k, span in enumerate(spans):
        if k == len(spans) - 1 and any(taken[span[0] : span[1]]):
            return None
        value = _score(text, *span)
        if value is not None and value >= floor:
            return span
    return None


def _separator_after(text: str, position: int) -> tuple[str, int] | None:
    while position < len(text) and text[position] in _SPACES:
        position += 1
    if position < len(text) and text[position] in FLOORS:
        after = position + 1
        while after < len(text) and text[after] in _SPACES:
            after += 1
        return text[position], after
    return None


def _separator_before(text: str, position: int) -> tuple[str, int] | None:
    while position > 0 and text[position - 1] in _SPACES:
        position -= 1
    if position > 0 and text[position - 1] in FLOORS:
        before = position - 1
        while before > 0 and text[before - 1] in _SPACES:
            before -= 1
        return text[position - 1], before
    return None


# A Latin given name listed beside a Chinese one (张伟、Kevin; 师雨桐 Kevin 韩笑): across a
# list separator or spaces, the name lists of ``names_en`` decide (a word such as Grace
# too: the list says "a person").
_LATIN_AFTER = re.compile(r"[ \t]*[、，,/和与及]?[ \t]*([A-Z][a-z]+)(?![A-Za-z])")
_LATIN_BEFORE = re.compile(r"(?<![A-Za-z])([A-Z][a-z]+)[ \t]*[、，,/和与及]?[ \t]*$")


def _latin_neighbours(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    after = _LATIN_AFTER.match(text, end)
    before = _LATIN_BEFORE.search(text, max(0, start - 24), start)
    for match in (after, before):
        if match is None or match.start(1) == end or match.end(1) == start:
            continue  # glued to the name with no separator: one run, not a list
        word = match.group(1)
        if word in GIVEN_NAMES or word in WORDLIKE_GIVEN_NAMES:
            yield match.start(1), match.end(1)


def find_listed_names(text: str, found: Iterable[Finding]) -> Iterator[Finding]:
    """Names listed next to the Chinese names in ``found`` (every finder's findings)."""
    # One flag per character a finding covers: an overlap test per new item against a
    # list of every span taken was quadratic (a 200 KB list of names took minutes).
    taken = bytearray(len(text))
    for f in found:
        taken[f.start : f.end] = b"\x01" * (f.end - f.start)
    queue = [
        (f.start, f.end)
        for f in found
        if f.entity == "PERSON" and f.text and is_han(f.text[0]) and len(f.text) <= 4
    ]
    if not queue:
        return
    # 方圆,行政 above 夏雪,法务: a found name's column in a table (names_cells).
    for cell in find_cell_names(text, list(queue), taken):
        queue.append((cell.start, cell.end))
        yield cell
    # Every finder's finding is in ``found``: one span may come several times. Only its
    # last copy is kept (the first one popped); the others would find nothing new.
    queue = list(dict.fromkeys(reversed(queue)))[::-1]
    while queue:
        start, end = queue.pop()
        size = end - start
        neighbours = []
        if (after := _separator_after(text, end)) is not None:
            neighbours.append(_item_after(text, after[1], size, FLOORS[after[0]], taken))
        if (before := _separator_before(text, start)) is not None:
            neighbours.append(_item_before(text, before[1], size, FLOORS[before[0]], taken))
        for span in neighbours:
            if span is None or any(taken[span[0] : span[1]]):
                continue
            taken[span[0] : span[1]] = b"\x01" * (span[1] - span[0])
            queue.append(span)
            yield Finding("PERSON", span[0], span[1], text[span[0] : span[1]])
        for span in _latin_neighbours(text, start, end):
            if not any(taken[span[0] : span[1]]):
                taken[span[0] : span[1]] = b"\x01" * (span[1] - span[0])
                yield Finding("PERSON", span[0], span[1], text[span[0] : span[1]])
