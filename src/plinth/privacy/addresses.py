"""Postal addresses: Chinese (a chain of address parts) and English (house number + street).

A Chinese address is written from the largest unit to the smallest: province,
city, district, town, road and number, estate or building, unit, floor, room.
Each part is a short name plus a suffix (省, 市, 区, 路, 号, 小区, 栋, 室 …), and
province and big-city names may drop theirs ("北京朝阳区"). One pattern matches a
chain of such parts; a chain counts as an address when it reaches street level
(a road, a number, an estate, a building, a room or a village), or names a
district or town under a city. A lone part ("市场", "小区") is not an address.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import CITIES, PROVINCES, alternation

# Han characters that can be part of a place name: not the function words
# around an address (住在, 寄到, 的, 和 …), so a chain starts at the place itself.
_STOP = (
    "的了是在和与及或我你他她它们这那有不也都就还说对把被让给从向到于为以而但吗呢吧啊个些每"
    "住寄送发往收址请近旁边附各全等去来"
)


def _han_except(excluded: str) -> str:
    """A class of the Han characters U+3400–U+9FFF but ``excluded``, written as ranges:
    one class test per character, where a look-ahead before each costs several."""
    ranges, low = [], 0x3400
    for code in sorted({ord(ch) for ch in excluded}):
        if code > low:
            ranges.append(chr(low) if code - 1 == low else f"{chr(low)}-{chr(code - 1)}")
        low = code + 1
    ranges.append(f"{chr(low)}-\u9fff")
    return "[" + "".join(ranges) + "]"


_H = _han_except(_STOP)
# Names of administrative units are not made of unit suffixes ("省市区县" is no address).
_UNIT = _han_except(_STOP + "省市区县")
# Estate names do not run across a road, number or village.
_NAME = _han_except(_STOP + "路街道号村镇区县市省")
_ESTATES = (
    "小区|花园|公寓|大厦|园区|广场|家园|公馆|新村|社区|宿舍|科技园|产业园|工业园|中心|大楼|写字楼|"
    "商城|山庄|雅居|华庭|名都|国际|大院|医院|学校|大学|中学|小学|酒店|宾馆|商场|市场"
)
# Estate words that are a place on their own, without a name in front (…号德基广场 / 大厦1101室).
_STANDALONE = "大厦|大楼|广场|写字楼|科技园|产业园|工业园"
_NUM = r"(?:\d+|[一二三四五六七八九十百零〇两]+)"
_PARTS = {
    "province": rf"(?:{'|'.join(PROVINCES)})"
    r"(?:省|市|自治区|特别行政区|壮族自治区|回族自治区|维吾尔自治区|(?![路街道巷大]))"
    rf"|{_UNIT}{{2,6}}?(?:省|自治区)",
    "city": rf"(?:{'|'.join(CITIES)})(?:市|(?![路街道巷大]))|{_UNIT}{{1,6}}?(?:市|自治州|地区|盟)",
    "district": rf"{_UNIT}{{1,6}}?(?:新区|区|县|旗)",
    "town": rf"{_H}{{1,6}}?(?:街道|镇|乡)|{_H}{{1,5}}?村",
    "road": rf"(?:{_H}|\d){{1,10}}?(?:大道|大街|路|街|巷|胡同|弄|道)"
    rf"(?:{_NUM}段)?(?:{_NUM}(?:[-之]\d+)?号(?:院)?)?",
    "number": r"\d+(?:[-之]\d+)?号(?:院|楼)?",
    "estate": rf"(?:{_NAME}|[A-Za-z\d]){{1,10}}?(?:{_ESTATES}|园|苑|期|城)|(?:{_STANDALONE})",
    "building": rf"(?:{_NUM}|[A-Za-z])(?:号楼|栋|幢|座|号院|区)",
    "unit": rf"{_NUM}单元",
    "floor": rf"{_NUM}(?:层|楼)",
    "room": r"[A-Za-z]?\d{2,5}(?:室|房|号房)?",
}
_FINE = frozenset({"number", "estate", "building", "unit", "room"})
_ADMIN = frozenset({"province", "city"})
_ADMIN_ANY = frozenset({"province", "city", "district", "town"})
# One pattern for every part, each kind a named group: a match says which kind it is
# (``lastgroup``), so a chain is read once, part by part, never parsed again.
_PART = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _PARTS.items()))
_SPACES = " \u3000"  # one space may stand between two parts
# Every address part ends in one of these characters or is a gazetteer name; an
# address has two parts at least, so only stretches where two of them lie close
# together are handed to the (slower) chain pattern.
# Only the common suffixes: every address with two parts has two of these or a gazetteer name.
_SUFFIXES = "省市区县旗镇乡村路街巷弄道号院楼园厦苑栋幢座室"
# Literal alternatives only, so the engine skips positions by their first character.
_ANCHOR = re.compile(alternation([*_SUFFIXES, *PROVINCES, *CITIES]))
_NEAR = 10  # at most this many characters between two anchors of one address
_ANCHOR_RX = _ANCHOR.pattern
# Overlapping pairs are not needed: a chain of anchors yields pairs that touch, merged above.
_PAIR = re.compile(f"(?:{_ANCHOR_RX})(?:(?!\\n).){{0,{_NEAR}}}?(?:{_ANCHOR_RX})")
_REACH = (12, 10)  # a window starts this far before its first anchor, ends after its last


def _windows(text: str) -> Iterator[tuple[int, int]]:
    """Stretches around two or more anchors close together, merged; found by one pattern
    (an anchor, then another within ``_NEAR`` characters) so Python sees only the pairs."""
    window: tuple[int, int] | None = None
    for pair in _PAIR.finditer(text):
        start, end = max(0, pair.start() - _REACH[0]), min(len(text), pair.end() + _REACH[1])
        if window is not None and start <= window[1]:
            window = (window[0], max(window[1], end))
            continue
        if window is not None:
            yield window
        window = (start, end)
    if window is not None:
        yield window


def _is_address(kinds: list[str]) -> bool:
    """Street level with two parts at least (建国路88号, 阳光小区5栋), a road under an
    administrative unit (朝阳区建国路), or a district or town under a city or province."""
    fine = _FINE.intersection(kinds)
    if fine and len(kinds) >= 2:
        return True
    if "road" in kinds and _ADMIN_ANY.intersection(kinds[: kinds.index("road")]):
        return True
    return bool({"district", "town"}.intersection(kinds)) and bool(_ADMIN.intersection(kinds))


def find_chinese_addresses(text: str) -> Iterator[Finding]:
    for start, end in _windows(text):
        for chain_start, chain_end, kinds in _chains(text, start, end):
            chain = text[chain_start:chain_end]
            numbered_road = kinds == ["road"] and _NUMBERED.search(chain) is not None
            if numbered_road or _is_address(kinds):
                yield Finding("ADDRESS", chain_start, chain_end, chain)


def _chains(text: str, start: int, end: int) -> Iterator[tuple[int, int, list[str]]]:
    """Chains of parts in ``text[start:end]``, each with the kinds of its parts in
    order: the first part where the engine finds one, then a part right after the
    last (or after one space), for as long as there is one."""
    while (part := _PART.search(text, start, end)) is not None:
        chain_start, position, kinds = part.start(), part.end(), [str(part.lastgroup)]
        while position < end:
            at = position + 1 if text[position] in _SPACES else position
            part = _PART.match(text, at, end)
            if part is None:
                break
            kinds.append(str(part.lastgroup))
            position = part.end()
        yield chain_start, position, kinds
        start = position


_NUMBERED = re.compile(r"\d号|号院")


_STREET = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|"
    r"Terrace|Parkway|Pkwy|Highway|Hwy|Square|Sq|Circle|Cir|Trail|Crescent|Close|Loop|Row|Plaza)"
)
_WORD = r"[A-Z][a-z]+|[0-9]+(?:st|nd|rd|th)"
_ENGLISH = re.compile(
    # A digit first, the look-behind after it: the engine skips to digits at once.
    rf"[0-9](?<![0-9A-Za-z].)[0-9]{{0,5}}[A-Z]?,? (?:[NSEW]\.? )?"
    rf"(?:(?:{_WORD}) ){{1,4}}{_STREET}\.?"
    r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|#)\.? ?#?[0-9A-Z-]+)?"
    r"(?:, ?[A-Z][a-z]+(?: [A-Z][a-z]+){0,2})?"
    r"(?:, ?[A-Z]{2}(?: \d{5}(?:-\d{4})?)?| \d{5}(?:-\d{4})?)?(?![0-9A-Za-z])"
)


def find_english_addresses(text: str) -> Iterator[Finding]:
    for match in _ENGLISH.finditer(text):
        yield Finding("ADDRESS", match.start(), match.end(), match.group(0))
