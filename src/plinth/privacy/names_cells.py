"""Names in a column of a table whose other cells hold found names: 方圆,行政,已签到 above
夏雪,法务,未签到 and 金鑫,财务,已签到.

A CSV, tab-separated or Markdown table keeps one kind of value per column. Once a
cell is a confident name (found by another finder), the cells in the same column of
the table's other rows are names too when they have a person's shape (a surname and
one or two given characters, or two or three characters that are no everyday word:
``names_rosters``' test), even when they are everyday words (a given name chosen for
its meaning: 方圆, 卓越). A table's rows are the neighbouring lines split into the same
number of cells by the same separator. A header row is left out: the first row is
read only where each of its cells is of the kind (Han, digits, Latin) of the cell
below it (车牌<TAB>车主 above 粤B7Q2M8<TAB>钟伟杰 is a header), and there a cell must
start with a surname and not end like a noun for a person (城市<TAB>门店<TAB>店长).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import PERSON_NOUN_ENDS
from plinth.privacy.names_rosters import person_shaped
from plinth.privacy.names_surnames import surname_length

_SEPARATORS = (",", "\t", "|", " ")
_HAN_CELL = re.compile(r"[\u3400-\u9fff]{2,4}")
_LATIN = re.compile(r"[A-Za-z]")
_ROWS_LOOK = 50  # rows read on each side of a found name's row
_ROW_LONGEST = 160  # a longer line is prose (or a table too wide to be read cheaply)


def _kind(cell: str) -> str:
    if any(ch.isdigit() for ch in cell):
        return "digits"
    if cell.isascii():
        return "latin"
    return "han"


def _cells(text: str, line: tuple[int, int], separator: str) -> list[tuple[int, int]]:
    """The spans of a row's cells, spaces around them taken off."""
    cells = []
    position = line[0]
    for piece in text[line[0] : line[1]].split(separator):
        stripped = piece.strip()
        offset = position + len(piece) - len(piece.lstrip())
        cells.append((offset, offset + len(stripped)))
        position += len(piece) + 1
    return cells


def _cell(text: str, line: tuple[int, int], separator: str, column: int) -> tuple[int, int]:
    """The span of one cell of a row (empty past its last cell)."""
    position = line[0]
    for _ in range(column):
        position = text.find(separator, position, line[1])
        if position == -1:
            return line[1], line[1]
        position += 1
    stop = text.find(separator, position, line[1])
    stop = line[1] if stop == -1 else stop
    piece = text[position:stop]
    offset = position + len(piece) - len(piece.lstrip())
    return offset, offset + len(piece.strip())


def _line_bounds(text: str, position: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return start, len(text) if end == -1 else end


def _table_rows(text: str, line: tuple[int, int], separator: str) -> list[tuple[int, int]]:
    """The rows of the table holding ``line``: neighbouring lines with its cell count."""
    count = text.count(separator, *line)
    rows = [line]
    up, down = line[0], line[1]
    for _ in range(_ROWS_LOOK):  # upwards
        if up == 0:
            break
        above = _line_bounds(text, up - 1)
        if above[1] - above[0] > _ROW_LONGEST or text.count(separator, *above) != count:
            break
        rows.insert(0, above)
        up = above[0]
    for _ in range(_ROWS_LOOK):  # downwards
        if down >= len(text):
            break
        below = _line_bounds(text, down + 1)
        if below[1] - below[0] > _ROW_LONGEST or text.count(separator, *below) != count:
            break
        rows.append(below)
        down = below[1]
    return rows


def _is_header(text: str, rows: list[tuple[int, int]], separator: str) -> bool:
    """The first row's cells differ in kind from the second row's: it names columns."""
    if len(rows) < 2:
        return False
    first, second = _cells(text, rows[0], separator), _cells(text, rows[1], separator)
    return any(
        _kind(text[a:b]) != _kind(text[c:d])
        for (a, b), (c, d) in zip(first, second, strict=False)
        if a < b and c < d
    )


_CELL_EDGES = frozenset(",\t| \n")


def _edge_before(text: str, start: int) -> bool:
    return start == 0 or text[start - 1] in _CELL_EDGES


def _edge_after(text: str, end: int) -> bool:
    return end == len(text) or text[end] in _CELL_EDGES or text[end] == "\r"


def _whole_cell(text: str, start: int, end: int, separator: str, line: tuple[int, int]) -> bool:
    """``text[start:end]`` fills a cell: the separator or the line's edge on each side
    (spaces around a CSV cell allowed), and the separator somewhere on the line."""
    left, right = start, end
    if separator != " ":
        while left > line[0] and text[left - 1] == " ":
            left -= 1
        while right < line[1] and text[right] == " ":
            right += 1
    left_ok = left == line[0] or text[left - 1] == separator
    right_ok = right == line[1] or text[right] == separator
    return left_ok and right_ok and (left > line[0] or right < line[1])


def _separators_around(text: str, start: int, end: int, line: tuple[int, int]) -> set[str]:
    """The separators that may bound ``text[start:end]`` as a cell: the characters next
    to it, spaces skipped (a space itself only right next to it)."""
    left, right = start, end
    while left > line[0] and text[left - 1] == " ":
        left -= 1
    while right < line[1] and text[right] == " ":
        right += 1
    found = {text[left - 1] if left > line[0] else "", text[right] if right < line[1] else ""}
    if (start > line[0] and text[start - 1] == " ") or (end < line[1] and text[end] == " "):
        found.add(" ")
    return found.intersection(_SEPARATORS)


def _first_row_name(value: str) -> bool:
    """A first row of Han cells may be a header all the same (城市<TAB>门店<TAB>店长):
    there a cell must start with a surname and not end like a noun for a person."""
    return surname_length(value) > 0 and value[-1] not in PERSON_NOUN_ENDS


def find_cell_names(
    text: str, people: list[tuple[int, int]], taken: bytearray
) -> Iterator[Finding]:
    """Names in the columns of the found names ``people`` (their spans); ``taken`` marks
    the characters already found (updated)."""
    if "\n" not in text:
        return
    seen: set[tuple[int, str, int]] = set()
    for start, end in people:
        if not (_edge_before(text, start) and _edge_after(text, end)):
            continue  # most names stand in prose: two looks, no line walked
        line = _line_bounds(text, start)
        if line[1] - line[0] > _ROW_LONGEST:
            continue  # prose, not a table's row
        for separator in _separators_around(text, start, end, line):
            if not _whole_cell(text, start, end, separator, line):
                continue
            if separator == " " and _LATIN.search(text, *line) is not None:
                continue  # spaces between words of English, not between a table's cells
            column = text.count(separator, line[0], start)
            if (line[0], separator, column) in seen:
                continue
            rows = _table_rows(text, line, separator)
            if len(rows) < 2:
                continue
            seen.update((row[0], separator, column) for row in rows)
            header = _is_header(text, rows, separator)
            for index, row in enumerate(rows):
                if index == 0 and header:
                    continue
                a, b = _cell(text, row, separator, column)
                if a >= b or any(taken[a:b]):
                    continue
                value = text[a:b]
                if index == 0 and not _first_row_name(value):
                    continue
                if _HAN_CELL.fullmatch(value) and person_shaped(value):
                    taken[a:b] = b"\x01" * (b - a)
                    yield Finding("PERSON", a, b, value)
