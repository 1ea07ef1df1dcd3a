"""Resident IDs, bank cards and phone numbers, in whatever grouping people write them.

People write the same number as ``13800138000``, ``138 0013 8000``,
``138.0013.8000``, ``+86-138-0013-8000`` or ``110105 1949 1231 002X``. Instead
of one pattern per grouping, one linear scan finds *runs*: groups of digits
joined by a single space, dot or dash. Every stretch of whole groups that holds
at most 19 digits (or 21 with a 0086 prefix) is a candidate, and validation
decides what it is: check digit and birth date for an ID, Luhn and the issuer
prefix for a card, the number plan for a phone. A run glued to a letter
("SF1234…", "v2.13800138000") loses the glued group, as a tracking or version
number.

Each group starts at most a handful of candidates (they stop at 21 digits),
so the cost is linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy import checks
from plinth.privacy.findings import Finding

_RUN = re.compile(r"\d+(?:[ .\-]\d+)*")
_GROUP = re.compile(r"\d+")
# "+86 ", "(+86) ", "0086-", "86 " right before a mobile number.
_COUNTRY_PREFIX = re.compile(r"(?:\(\+?(?:0086|86)\)|\+\s?86|0086|(?<![0-9A-Za-z])86)[ .\-]?$")
_MAX_DIGITS = 21
_ASCII_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def find_numbers(text: str, *, strict_phones: bool = False) -> Iterator[Finding]:
    for run in _RUN.finditer(text):
        yield from _candidates(text, run.start(), run.end(), strict_phones)


def _candidates(text: str, start: int, end: int, strict_phones: bool) -> Iterator[Finding]:
    groups = [m.span() for m in _GROUP.finditer(text, start, end)]
    # A check digit X belongs to the last group: "…002X".
    if end < len(text) and text[end] in "Xx":
        groups[-1] = (groups[-1][0], end + 1)
        end += 1
    glued_left = start > 0 and text[start - 1] in _ASCII_ALNUM
    glued_right = end < len(text) and text[end] in _ASCII_ALNUM
    last = len(groups) - 1
    for i in range(len(groups)):
        if i == 0 and glued_left:
            continue
        digits = ""
        for j in range(i, len(groups)):
            digits += text[groups[j][0] : groups[j][1]]
            if len(digits) > _MAX_DIGITS or (j == last and glued_right):
                break
            if "X" in digits[:-1].upper() or not _whole(text, groups, i, j):
                continue
            entity = classify(digits.upper(), strict_phones)
            if entity == "CN_MOBILE" and _ip_like(text, groups, i, j):
                entity = None
            if entity is not None:
                span_start, span_end = groups[i][0], groups[j][1]
                if entity == "CN_MOBILE":
                    span_start = _with_country_prefix(text, span_start)
                yield Finding(entity, span_start, span_end, text[span_start:span_end])


def _whole(text: str, groups: list[tuple[int, int]], i: int, j: int) -> bool:
    """Whether groups ``i..j`` can be a number of their own inside their run.

    "510107-19871029-8230" is one number: cutting it where it uses its own
    separator would make a card out of its first half. A cut is allowed at the
    run's ends, after a country prefix (86, 0086), or at a space when the
    candidate itself is written without spaces ("6222… 13800138000").
    """
    spaced = any(text[groups[k][1]] == " " for k in range(i, j))
    after_prefix = i > 0 and text[groups[i - 1][0] : groups[i - 1][1]] in ("86", "0086")
    if i > 0 and not after_prefix and (spaced or text[groups[i][0] - 1] != " "):
        return False
    return j == len(groups) - 1 or (not spaced and text[groups[j][1]] == " ")


def _ip_like(text: str, groups: list[tuple[int, int]], i: int, j: int) -> bool:
    """177.44.43.123: four dotted groups of at most three digits are an IPv4 address."""
    if j - i != 3:
        return False
    if any(groups[k][1] - groups[k][0] > 3 for k in range(i, j + 1)):
        return False
    return all(text[groups[k][1]] == "." for k in range(i, j))


def classify(digits: str, strict_phones: bool = False) -> str | None:
    """What a separator-free candidate is, if anything."""
    size = len(digits)
    if digits[-1] == "X":
        return "CN_RESIDENT_ID" if checks.cn_resident_id(digits) else None
    if size == 11:
        if checks.cn_mobile(digits, strict=strict_phones):
            return "CN_MOBILE"
        return "CN_LANDLINE" if checks.cn_landline(digits) else None
    prefixed = size in (13, 15) and digits.startswith("86" if size == 13 else "0086")
    if prefixed and checks.cn_mobile(digits[size - 11 :], strict=strict_phones):
        return "CN_MOBILE"
    if size == 18 and checks.cn_resident_id(digits):
        return "CN_RESIDENT_ID"
    if size in (10, 12) and checks.cn_landline(digits):
        return "CN_LANDLINE"
    return checks.card_network(digits)


def _with_country_prefix(text: str, start: int) -> int:
    before = text[max(0, start - 8) : start]
    prefix = _COUNTRY_PREFIX.search(before)
    return start - (len(before) - prefix.start()) if prefix else start
