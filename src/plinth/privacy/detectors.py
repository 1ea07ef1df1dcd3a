"""Every detector for personal data and secrets, run over one text.

- identifiers written in any grouping (resident IDs, bank cards, phones): a
  linear digit-run scan with check-digit validation (``numbers``);
- other identifiers and secrets: one pattern plus validation each (``patterns``);
- person names and postal addresses: gazetteers and context cues (``names``,
  ``addresses``); no model, so nothing is downloaded at run time.

Every step is linear in the text (large bodies are scanned too), and the
expensive ones first check for a cheap cue, so a typical prompt costs a
fraction of a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from plinth.privacy.addresses import find_chinese_addresses, find_english_addresses
from plinth.privacy.findings import ENTITIES, Finding, non_overlapping
from plinth.privacy.names_en import find_english_names
from plinth.privacy.names_zh import find_chinese_names, find_column_names, find_record_names
from plinth.privacy.names_zh_uncued import find_uncued_names
from plinth.privacy.normalize import normalize
from plinth.privacy.numbers import find_numbers
from plinth.privacy.patterns import (
    PATTERNS,
    digit_windows,
    find_international_phones,
    find_ipv6,
    find_private_keys,
)

__all__ = ["ENTITIES", "Finding", "detect"]

_PRIORITY = {entity: i for i, entity in enumerate(ENTITIES)}
_TEXT_FINDERS: tuple[Callable[[str], Iterable[Finding]], ...] = (
    find_private_keys,
    find_ipv6,
    find_international_phones,
    find_chinese_addresses,
    find_english_addresses,
    find_chinese_names,
    find_column_names,
    find_english_names,
    find_uncued_names,
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
    windows = digit_windows(plain)
    found = list(find_numbers(plain, strict_phones=strict_phones))
    widened: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for detector in PATTERNS:
        found.extend(detector.find(plain, windows, widened))
    for finder in _TEXT_FINDERS:
        found.extend(finder(plain))
    anchors = [f for f in found if f.entity not in ("PERSON", "ADDRESS")] or [
        f for f in found if f.entity == "ADDRESS"
    ]
    if anchors:
        found.extend(find_record_names(plain, anchors))
    kept = non_overlapping(found, _PRIORITY)
    return [Finding(f.entity, f.start, f.end, text[f.start : f.end]) for f in kept]
