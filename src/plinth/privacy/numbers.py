"""Resident IDs, bank cards and phone numbers, in whatever grouping people write them.

People write the same number as ``13800138000``, ``138 0013 8000``,
``138.0013.8000``, ``+86-138-0013-8000`` or ``110105 1949 1231 002X``. Instead
of one pattern per grouping, one linear scan finds *runs*: groups of digits
joined by a single space, dot or dash (a dot or dash may have a space on each
side). Validation decides what a candidate is: check digit and birth date for an
ID, Luhn and the issuer prefix for a card, the number plan for a phone.

The candidates of a run are the whole run, the run after a country prefix, and
each space-separated chunk ("6222… 13800138000" is two numbers). A number is
not cut where it uses its own separator: "510107-19871029-8230" is one (wrong)
ID, and its first half is no card. A run glued to a word ("SF1388…",
"v2.13800138000", "app.13800138000.js") is a tracking, version or file name.
Each run has a handful of candidates, so the cost is linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy import checks
from plinth.privacy.findings import Finding

# A dot or dash may have a space on each side: "139 - 0000 - 1111", "1 3 9 - 0 0 0 0".
_RUN = re.compile(r"[0-9]+(?:(?: ?[.\-] ?| )[0-9]+)*")
_SEPARATORS = re.compile(r"[ .\-]")
_IP_LIKE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
# A key or label that says the number after it counts or identifies a build, not a
# person: "Build 13800138000", {"bytes": 13912345678}. Only plain digit runs are let off
# (a phone written 139-1234-5678 after "count" is still a phone).
_COUNTER_KEY = re.compile(
    r"(?i)\b(?:build|count|bytes|size|total|length|offset|seq|elapsed|duration|version"
    r"|timestamp|ts|nanos|millis|micros)\b[\"']?[ \t]*[:=#]?[ \t]*[\"']?\Z"
)
# What may stand right before a number that a key counts (the key's last letter, a
# quote, a space, tab, ":", "=" or "#"): elsewhere the key pattern is not tried.
_KEY_END = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\"' \t:=#")
# "+86 ", "(+86) ", "0086-", "86 " right before a mobile number.
_COUNTRY_PREFIX = re.compile(r"(?:\(\+?(?:0086|86)\)|\+\s?86|0086|(?<![0-9A-Za-z])86)[ .\-]?$")
# A label that names a code, not a line: 发票代码 044031900111 (a 12-digit invoice code
# reads as a 0440 area code), 编号, 单号. Only landline look-alikes are let off: people give
# their mobile number as a member or order number, and a leak is worse than a false alarm.
_CODE_LABEL = re.compile(
    r"(?:代码|编码|编号|单号|票号|发票号码|流水号|批次号|序列号|条码)[ \t:：#=]*\Z"
)
_MIN_DIGITS = 10  # a landline with a three-digit area code is the shortest
_MAX_DIGITS = 21  # 0086 and a mobile number; cards have at most 19
_ASCII_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_JOINERS = frozenset(".-")  # not "/": "/users/13800138000" is a number in a path


def find_numbers(
    text: str, windows: list[tuple[int, int]] | None = None, *, strict_phones: bool = False
) -> Iterator[Finding]:
    """Numbers in ``text``; only inside ``windows`` when given (stretches of digits and
    separators that hold every run long enough to be a number, see ``detectors``)."""
    for start, end in [(0, len(text))] if windows is None else windows:
        if start > 0 and text[start - 1] in _LABEL_END:
            national = _labelled_nanp(text, start, end)
            if national is not None:
                yield national
                start = national.end  # more numbers may follow in the window
        for run in _RUN.finditer(text, start, end):
            if run.end() - run.start() >= _MIN_DIGITS:  # most runs are short: "2024", "3"
                yield from _candidates(text, run.start(), run.end(), strict_phones)


def _candidates(text: str, start: int, end: int, strict_phones: bool) -> Iterator[Finding]:
    if end < len(text) and text[end] in "Xx":  # a check digit X belongs to the run: "…002X"
        end += 1
    glued_left, glued_right = _glued(text, start - 1, -1), _glued(text, end, 1)
    chunks = _chunks(text, start, end)
    spans: list[tuple[int, int]] = []
    if not glued_left and not glued_right:
        spans.append((start, end))
    if len(chunks) > 1:
        if text[chunks[0][0] : chunks[0][1]] in ("86", "0086") and not glued_right:
            spans.append((chunks[1][0], end))
        last = len(chunks) - 1
        spans += [
            chunk
            for k, chunk in enumerate(chunks)
            if not (k == 0 and glued_left) and not (k == last and glued_right)
        ]
    landline = _international_landline(text, start, end)
    if landline is not None:
        yield landline
        return
    for span_start, span_end in spans:
        value = text[span_start:span_end]
        digits = _SEPARATORS.sub("", value).upper()
        if not digits or len(digits) > _MAX_DIGITS or "X" in digits[:-1]:
            continue  # a chunk may be a lone dash: "139 - 0000 - 1111"
        entity = classify(digits, strict_phones)
        if entity == "CN_MOBILE":
            if "." in value and _IP_LIKE.fullmatch(value) and checks.ip_address(value):
                continue  # 139.159.123.45 is an IPv4 address
            if (
                value.isdigit()
                and text[span_start - 1 : span_start] in _KEY_END
                and _COUNTER_KEY.search(text, max(0, span_start - 24), span_start)
            ):
                continue  # build 13800138000, "bytes": 13912345678: a count, not a phone
            span_start = _with_country_prefix(text, span_start)
        if entity == "CN_LANDLINE" and _CODE_LABEL.search(
            text, max(0, span_start - 10), span_start
        ):
            continue
        if entity is not None:
            yield Finding(entity, span_start, span_end, text[span_start:span_end])


# A North American number written nationally, (847) 555-0163 or 847-555-0163, is a
# phone only after a phone label (Phone:, Tel, Cell #): alone, ten digits in 3-3-4 are as
# likely an order or account number. The area and exchange codes start with 2-9 (a
# Chinese 0 or 1 never does), and an N00 area code (400-820-8820, 800-…) is a hotline.
_NANP = re.compile(r"\(?[2-9](?!00)[0-9]{2}\)?[ .-]?[2-9][0-9]{2}[ .-][0-9]{4}(?![0-9.-]?[0-9])")
_PHONE_LABEL = re.compile(
    r"(?i:\b(?:phone|tel|telephone|mobile|cell|fax|ph)\.?(?: ?(?:no\.?|number|#))?)"
    r"[ \t]*[:：#]?[ \t]*\(?\Z"
)
_LABEL_END = frozenset(" \t:：#(")  # what stands right before a labelled number


def _labelled_nanp(text: str, start: int, end: int) -> Finding | None:
    low = start - 1 if text[start - 1 : start] == "(" else start
    # The anchored shape first: it fails at the first digit of most runs (1 of a mobile).
    match = _NANP.match(text, low, min(len(text), end + 2))  # the look-ahead sees past it
    if match is None or _PHONE_LABEL.search(text, max(0, low - 24), low) is None:
        return None
    return Finding("INTL_PHONE", match.start(), match.end(), match.group())


def _international_landline(text: str, start: int, end: int) -> Finding | None:
    """A Chinese landline written for callers abroad: the country code, then the area code
    without its trunk 0 (+86 10 8518 2063, 0086-755-86001234, (+86) 21 6288 1234)."""
    # Cheap tests first: most runs have no country code at all (+6 µs a 2 KB prompt when
    # every run was stripped of its separators here).
    if text[start - 1 : start] == "+":
        if not text.startswith("86", start):
            return None
        prefix, span_start = 2, start - 1
    elif text.startswith("0086", start):
        prefix, span_start = 4, start
    elif "86" in text[max(0, start - 8) : start] and text[start] in "123456789":
        prefix, span_start = 0, _with_country_prefix(text, start)
        if span_start == start:
            return None
    else:
        return None
    national = _SEPARATORS.sub("", text[start:end])[prefix:]
    if national[:1] in ("", "0", "1") and national[:2] != "10":
        return None  # a mobile number (or a trunk 0 kept: read as written, below)
    if not checks.cn_landline("0" + national):
        return None
    return Finding("CN_LANDLINE", span_start, end, text[span_start:end])


def _glued(text: str, at: int, step: int) -> bool:
    """Whether the run's neighbour at ``at`` ties it to a word (directly, or by . or -)."""
    if not 0 <= at < len(text):
        return False
    if text[at] in _ASCII_ALNUM:
        return True
    beyond = at + step
    return text[at] in _JOINERS and 0 <= beyond < len(text) and text[beyond] in _ASCII_ALNUM


def _chunks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The run split at its spaces."""
    chunks, chunk_start = [], start
    position = text.find(" ", start, end)
    while position != -1:
        chunks.append((chunk_start, position))
        chunk_start = position + 1
        position = text.find(" ", chunk_start, end)
    chunks.append((chunk_start, end))
    return chunks


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
    if text.startswith(("86", "0086"), start) and start > 0 and text[start - 1] == "+":
        return start - 1  # +8613800138000
    before = text[max(0, start - 8) : start]
    if "86" not in before:
        return start
    prefix = _COUNTRY_PREFIX.search(before)
    return start - (len(before) - prefix.start()) if prefix else start
