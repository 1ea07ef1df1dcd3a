"""Names in a table column whose header means a person ("姓名,手机" then "张伟,138…").

A table (Markdown ``| a | b |``, CSV, tab-separated) says what each column holds in
its header row. A header cell means a person when it is a word for one: 姓名 or
名字 (学生姓名 too); a role that ends in 人, 员 or 者 (联系人, 负责人, 收款人, 操作员,
参与者); an owner (业主, 车主, 户主); or, in English, a word of ``PERSON_KEYS``
(Owner, Contact, Assignee; Name alone or after a word for a person or a kind of
name: Full Name, Customer Name, not Product Name). The cells below it are names
when they look like one: a surname and a given name, any two or three Han
characters that are no everyday word (the header is the evidence a rare surname
lacks: 杞然 under 业主), or Firstname Lastname.

Only the lines of a table are split into cells: from a header line of two cells at
least to the first line with another number of cells (a row has as many as its header).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import PLACES, words
from plinth.privacy.names_fields import PERSON_KEYS, WORD_WEIGHT
from plinth.privacy.names_surnames import surname_length
from plinth.privacy.names_zh_scored import WORDS

_HAN_HEADERS = frozenset(
    words("姓名 名字 客户 员工 学生 患者 老师 教师 医生 司机 乘客 房东 租客 用户 嘉宾 户名 值班")
)
# A role ending in 人 / 员 / 者, a name (姓名, 名字) or an owner, as a whole cell.
_HAN_HEADER = re.compile(
    r"[\u3400-\u9fff]{0,4}(?:姓名|名字)|[\u3400-\u9fff]{1,4}[人员者]|[业户车房雇店船债物]主"
)
_HEADER_ENDS = frozenset("人员者主名字")
# Words for a kind of name in English headers (Full Name, Last Name).
_NAME_KINDS = frozenset(words("full first last given family display real legal sur"))
_NOT_A_ROLE = frozenset(words("人数 人口 人次 员数 人均 成员数"))
_CELL_SEPARATORS = "|,，\t;；"
# A short cell after a separator or a line break (the text's first cell apart): a
# header candidate. A separator first, so the engine skips to separators at once.
# (Possessive: a clause longer than a cell fails at once, with no backtracking.)
_CELL = re.compile(r"[|,，\t;；\n][ \t]*+([^|,，\t;；\n]{1,16}+)(?=[|,，\t;；\n]|\Z)")
_FIRST_CELL = re.compile(r"[ \t]*+([^|,，\t;；\n]{1,16}+)(?=[|,，\t;；\n]|\Z)")
_SPLIT = re.compile(r"\s*[|,，\t;；]\s*")
_WORD_SPLIT = re.compile(r"[ _\-]+")
_NOT_GIVEN = frozenset(
    "的了是在和与及或我你他她们这那有不也都就还说对把被让给从向到于为以而无未待暂"
)
_ENGLISH_NAME = re.compile(r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+){1,2}")


def means_a_person(cell: str) -> bool:
    """Whether a table header cell names a person's column."""
    if cell.isascii():
        parts = [p.lower() for p in _WORD_SPLIT.split(cell.strip()) if p]
        if not 1 <= len(parts) <= 3:
            return False
        if parts[-1] == "name" or parts[-1] == "names":
            return all(p in PERSON_KEYS or p in _NAME_KINDS for p in parts[:-1])
        return all(p in PERSON_KEYS for p in parts)
    if cell in _HAN_HEADERS:
        return True
    return (
        cell[-1] in _HEADER_ENDS
        and _HAN_HEADER.fullmatch(cell) is not None
        and (cell not in _NOT_A_ROLE)
    )


def find_column_names(text: str) -> Iterator[Finding]:
    if "\n" not in text:
        return
    position = 0
    cell = _FIRST_CELL.match(text)
    while cell is not None or (cell := _CELL.search(text, position)) is not None:
        position = cell.end()
        header, cell = cell.group(1).rstrip(" \t"), None
        if not means_a_person(header):
            continue
        start = text.rfind("\n", 0, position - 1) + 1
        end = _line_end(text, position)
        cells = _cells(text[start:end])
        column = next((i for i, c in enumerate(cells) if means_a_person(c)), None)
        position = end + 1
        if column is None or len(cells) < 2:
            continue
        width = len(cells)
        while position < len(text):
            end = _line_end(text, position)
            cells = _cells(text[position:end])
            if len(cells) != width:
                break  # the table ended: a row has as many cells as its header
            if any(means_a_person(c) for c in cells):
                break  # another header: the outer loop takes it
            if _looks_like_a_name(cells[column]):
                at = text.find(cells[column], position, end)
                yield Finding("PERSON", at, at + len(cells[column]), cells[column])
            position = end + 1


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end == -1 else end


def _cells(line: str) -> list[str]:
    return _SPLIT.split(line.strip().strip("|").strip())


def _looks_like_a_name(value: str) -> bool:
    """A cell under a person's header: Firstname Lastname, or two to four Han
    characters, a surname and a given name or no everyday word, no place."""
    if _ENGLISH_NAME.fullmatch(value):
        return True
    if not 2 <= len(value) <= 4 or value in PLACES:
        return False
    if any(not "\u3400" <= ch <= "\u9fff" for ch in value):
        return False
    surname = surname_length(value)
    if any(ch in _NOT_GIVEN for ch in value[max(surname, 1) :]):
        return False
    if surname and 1 <= len(value) - surname <= 2:
        return True
    return len(value) <= 3 and WORDS.get(value, 0.0) < WORD_WEIGHT
