"""Every detector for personal data and secrets, run over one text.

- identifiers written in any grouping (resident IDs, bank cards, phones): a
  linear digit-run scan with check-digit validation (``numbers``);
- other identifiers and secrets: one pattern plus validation each (``patterns``);
- person names and postal addresses: gazetteers and context cues (``names_zh``,
  ``names_zh_uncued``, ``names_en``, ``addresses``); no model, so nothing is
  downloaded at run time.

Every step is linear in the text (large bodies are scanned too). One cheap
pass first learns what kinds of characters the text has (Han, digit runs, ASCII
capitals, ``@``, ``+`` …), and a detector runs only where its trigger is there:
a short English prompt never enters the Chinese or number detectors.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator

from plinth.privacy.addresses import find_chinese_addresses, find_english_addresses
from plinth.privacy.findings import ENTITIES, Finding
from plinth.privacy.gazetteer import TRADITIONAL
from plinth.privacy.names_columns import find_column_names
from plinth.privacy.names_en import find_english_names
from plinth.privacy.names_en_given import find_lone_given_names
from plinth.privacy.names_familiar import find_familiar_names
from plinth.privacy.names_fields import find_field_names
from plinth.privacy.names_frames import find_framed_names
from plinth.privacy.names_lists import find_listed_names
from plinth.privacy.names_rosters import find_roster_names
from plinth.privacy.names_translit import find_transliterated_names
from plinth.privacy.names_veto import vet
from plinth.privacy.names_zh import find_chinese_names, find_record_names
from plinth.privacy.names_zh_scored import find_scored_names
from plinth.privacy.names_zh_uncued import find_uncued_names
from plinth.privacy.numbers import find_numbers
from plinth.privacy.patterns import (
    PATTERNS,
    find_emails,
    find_international_phones,
    find_ipv6,
    find_private_keys,
)

__all__ = ["ENTITIES", "Finding", "detect", "detect_timed", "normalize"]

_PRIORITY = {entity: i for i, entity in enumerate(ENTITIES)}
Finder = Callable[[str], Iterable[Finding]]
_HAN = re.compile(r"[\u3400-\u9fff]")
_CAPITAL = re.compile(r"[A-Z]")
# [0-9], not \d: on Chinese text \d asks the Unicode tables about every character
# (several times the cost); full-width digits are made ASCII by ``normalize`` first.
_DIGIT = re.compile(r"[0-9]")
# Runs of 7+ digit-ish characters: where every numeric detector's matches lie.
_DIGIT_RUN = re.compile(r"[0-9][0-9 .()-]{5,}[0-9]")
# What detectors need to see in a text (``PatternDetector.needs``, a PEM header):
# longer substrings are found by one scan, single characters by ``in`` (fast).
_NEEDS = {n for detector in PATTERNS for n in detector.needs} | {"-----BEGIN "}
_NEEDED_CHARS = tuple(n for n in _NEEDS if len(n) == 1)
_NEEDED = re.compile("|".join(map(re.escape, sorted(_NEEDS - {*_NEEDED_CHARS}, key=len)[::-1])))
# Finders that look only at Han text.
_HAN_FINDERS: tuple[Finder, ...] = (
    find_chinese_addresses,
    find_chinese_names,
    find_uncued_names,
    find_scored_names,
    find_familiar_names,
    find_framed_names,
    find_transliterated_names,
    find_field_names,
    find_roster_names,
)


# A large text is scanned in overlapping pieces: each regex call then holds the GIL
# for a bounded time (the event loop keeps running beside a scan in a thread), and a
# value up to _OVERLAP characters long (a PEM key, an address) lies whole in one piece.
_PIECE = 64 * 1024
_OVERLAP = 8 * 1024


def detect(text: str, *, strict_phones: bool = False) -> list[Finding]:
    """Every finding in ``text``, non-overlapping, in order; offsets index the original text.

    ``strict_phones`` accepts only mobile numbers in ranges libphonenumber knows
    as allocated; by default every 1[3-9] number counts (a leak is worse than a
    false alarm).
    """
    if len(text) <= _PIECE + _OVERLAP:
        return _detect(text, strict_phones)
    found = []
    for offset in range(0, len(text), _PIECE):
        piece = text[offset : offset + _PIECE + _OVERLAP]
        found += [
            Finding(f.entity, f.start + offset, f.end + offset, f.text)
            for f in _detect(piece, strict_phones)
        ]
    # A value cut at a piece's end is found whole in the next piece, and longer: kept.
    return non_overlapping(found, _PRIORITY)


def _detect(text: str, strict_phones: bool) -> list[Finding]:
    plain = normalize(text)
    found: list[Finding] = []
    for _, findings in _stages(plain, strict_phones, found):
        found.extend(findings)
    if not found:
        return found
    # Time words, forms of address, cuts, company names: no finder's name (names_veto).
    return _in_text(non_overlapping(vet(plain, found), _PRIORITY), text, plain)


def _in_text(kept: list[Finding], text: str, plain: str) -> list[Finding]:
    """The findings with the original text's characters (those of ``plain`` differ
    where ``normalize`` changed something)."""
    if plain is text:
        return kept
    return [Finding(f.entity, f.start, f.end, text[f.start : f.end]) for f in kept]


Stage = tuple[str, Iterable[Finding]]


def _stages(plain: str, strict_phones: bool, found: list[Finding]) -> Iterator[Stage]:
    """Every detector that the text's triggers call for, by name, in order; the caller
    drains each one into ``found`` before asking for the next (the last stages look at
    what the earlier ones found). One list, so ``detect_timed`` times what ``detect`` runs."""
    windows = [m.span() for m in _DIGIT_RUN.finditer(plain)]
    if windows:
        yield "numbers", find_numbers(plain, windows, strict_phones=strict_phones)
        if "+" in plain:
            yield "intl_phones", find_international_phones(plain)
    han = _HAN.search(plain) is not None
    widened: dict[tuple[int, int], list[tuple[int, int]]] = {}
    # Every substring some detector needs, found in one scan: a test per substring
    # costs about as much as the scan (Python's substring search is ~1 ns a character).
    present = {*_NEEDED.findall(plain), *(c for c in _NEEDED_CHARS if c in plain)}
    for detector in PATTERNS:
        if detector.numeric and not windows:
            continue
        if detector.needs and present.isdisjoint(detector.needs):
            continue
        if detector.han and not han:
            continue
        yield detector.entity, detector.find(plain, windows, widened)
    if "@" in plain:
        yield "emails", find_emails(plain)
    if "-----BEGIN " in present:
        yield "private_keys", find_private_keys(plain)
    if ":" in plain:
        yield "ipv6", find_ipv6(plain)
    if han:
        for finder in _HAN_FINDERS:
            yield finder.__name__, finder(plain)
    if "\n" in plain:
        yield "column_names", find_column_names(plain)  # headed 姓名 or Name
    if _CAPITAL.search(plain) is not None:
        yield "english_names", find_english_names(plain)
        if found:  # Emily again after Emily Chen (none in "Say hi")
            yield "english_given_names", find_lone_given_names(plain, found)
        if _DIGIT.search(plain) is not None:
            yield "english_addresses", find_english_addresses(plain)
    anchors = [f for f in found if f.entity not in ("PERSON", "ADDRESS")] or [
        f for f in found if f.entity == "ADDRESS"
    ]
    if anchors and han:
        yield "record_names", find_record_names(plain, anchors)
    if han and found:
        # 高俊、白露、林一鸣: the list's others
        yield "listed_names", find_listed_names(plain, found)


def detect_timed(text: str, times: dict[str, int], *, strict_phones: bool = False) -> list[Finding]:
    """``detect`` on a text up to 64 KB that adds the CPU time (ns) of each stage to
    ``times``: ``normalize``, each detector by name, ``triggers`` (the cheap tests that
    choose the detectors) and ``resolve`` (overlaps). For benchmarks: the clock calls
    cost about a microsecond per stage."""
    clock = time.process_time_ns
    started = clock()
    plain = normalize(text)
    found: list[Finding] = []
    mark = clock()
    times["normalize"] = times.get("normalize", 0) + mark - started
    for name, findings in _stages(plain, strict_phones, found):
        begun = clock()
        times["triggers"] = times.get("triggers", 0) + begun - mark
        found.extend(findings)
        mark = clock()
        times[name] = times.get(name, 0) + mark - begun
    result = _in_text(non_overlapping(vet(plain, found), _PRIORITY), text, plain)
    times["resolve"] = times.get("resolve", 0) + clock() - mark
    return result


# Text normalisation that keeps every character's offset. Users paste numbers with
# full-width digits (１３８…), ideographic spaces and full-width hyphens, especially
# in Chinese text. Detection runs on a copy where those are mapped to ASCII one
# character for one character, so a finding's offsets point at the same place in
# the original text.
# Full-width digits and Latin letters, plus the full-width + and - that appear in
# numbers. Other full-width punctuation (：，。) stays: "IPv6：2001:db8::1" must not
# turn into one long colon-separated run.
_FULL_WIDTH = {
    code: code - 0xFEE0
    for code in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
}
# The full-width full stop (．, not the ideographic 。) is typed between digit groups.
_FULL_WIDTH.update({0xFF0B: ord("+"), 0xFF0D: ord("-"), 0xFF0E: ord(".")})
_SEPARATORS = {
    0x3000: " ",  # ideographic space
    0x00A0: " ",  # no-break space
    0x2002: " ",
    0x2003: " ",
    0x2009: " ",
    0x2010: "-",  # hyphen
    0x2011: "-",
    0x2012: "-",
    0x2013: "-",  # en dash
    0x2014: "-",  # em dash
    0x2212: "-",  # minus sign
    0x30FC: "-",  # katakana prolonged sound mark, often typed for a dash
}
_TABLE: dict[int, str | int] = {**_FULL_WIDTH, **_SEPARATORS}
_MAP = {chr(code): chr(v) if isinstance(v, int) else v for code, v in _TABLE.items()}
_MAP.update(TRADITIONAL)  # 陳 -> 陈, 號 -> 号: one character for one (gazetteer)
_ANY = re.compile("[" + "".join(re.escape(ch) for ch in _MAP) + "]")


def normalize(text: str) -> str:
    """Same length as ``text``; full-width ASCII and odd separators made plain."""
    # Most prompts have none of these: a regex pass is ~20x cheaper than translate().
    if _ANY.search(text) is None:
        return text
    return _ANY.sub(lambda match: _MAP[match.group()], text)


_PHONES = frozenset({"CN_MOBILE", "CN_LANDLINE", "INTL_PHONE"})
_TRIM = " \u3000\t,，、;；:："


def _cut_before(address: Finding, phone: Finding) -> Finding | None:
    """An address that runs into a phone number after it ends where the number starts:
    the room pattern reads 0755 in "…A座1805 0755-86001234" as one more room, and the
    longer address would win the overlap, hiding a validated number. The number wins
    (the address ends at 1805); an address left with nothing is dropped."""
    value = address.text[: phone.start - address.start].rstrip(_TRIM)
    if len(value) < 2:
        return None
    return Finding("ADDRESS", address.start, address.start + len(value), value)


def non_overlapping(found: list[Finding], priority: dict[str, int]) -> list[Finding]:
    """The longest findings first (ties: lower ``priority``), none overlapping, in text order;
    but a phone number that an address runs into cuts the address short (``_cut_before``).

    Kept spans are a sorted list searched by bisection, so thousands of findings
    in a large body cost n log n, not n².
    """
    ranked = sorted(found, key=lambda f: (f.start - f.end, priority.get(f.entity, 99), f.start))
    starts: list[int] = []
    kept: list[Finding] = []
    for finding in ranked:
        at = bisect_right(starts, finding.start)
        if at < len(kept) and kept[at].start < finding.end:
            continue
        if at > 0 and kept[at - 1].end > finding.start:
            before = kept[at - 1]
            if not (
                finding.entity in _PHONES
                and before.entity == "ADDRESS"
                and before.start < finding.start
            ):
                continue
            cut = _cut_before(before, finding)  # a phone number wins over an address
            if cut is None:
                del kept[at - 1], starts[at - 1]
                at -= 1
            else:
                kept[at - 1] = cut
        starts.insert(at, finding.start)
        kept.insert(at, finding)
    return kept
