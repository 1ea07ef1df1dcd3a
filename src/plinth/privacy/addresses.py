"""Postal addresses: Chinese (a chain of address parts) and English (house number + street).

A Chinese address is written from the largest unit to the smallest: province,
city, district, town, road and number, estate or building, unit, floor, room.
Each part is a short name plus a suffix (省, 市, 区, 路, 号, 小区, 栋, 室 …), and
province and big-city names may drop theirs ("北京朝阳区"). One pattern reads the
parts one after the other into a chain; a chain counts as an address when it
reaches street level (a road, a number, an estate, a building, a room or a
village), or names a district or town under a city. A lone part ("市场", "小区")
is not an address. A chain with no house number, block or village is then weighed
by the words around it (``address_cues``): a district, a road or a landmark talked
about, a company's registered name or a meeting room is none; after a cue (地址, 住在, 寄到) it
is one. Pieces of one address that something unread stands between
(an estate name with no estate word, a comma) are joined into one finding. Spaces
typed between Han and numbers (张杨路 500 号 12 楼) are read as if absent.

English and continental street addresses are read in ``addresses_en`` (re-exported
here, where the detectors import both finders from).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from plinth.privacy.address_cues import stands as _stands
from plinth.privacy.addresses_en import find_english_addresses as find_english_addresses
from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import CITIES, PROVINCES, alternation

# Han characters that can be part of a place name: not the function words
# around an address (住在, 寄到, 的, 和 …), so a chain starts at the place itself.
_STOP = (
    "的了是在和与及或我你他她它们这那有不也都就还说对把被让给从向到于为以而但吗呢吧啊个些每"
    "住寄送发往收址请近旁边附各全等去来至"
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
# 号 before these names a room, a metro line, a station, a counter, an exit, a bed or a
# stall, not a house: 1号会议室, 2号线, 3号窗口, B2号出口, 12号床, 5号展位.
_NOT_HOUSE = "会议|会客|厅|线|站|窗口|柜台|出口|入口|通道|车厢|车位|展位|摊位|床"
_HALL = r"[\u4e00-\u9fff]{0,3}[室厅]"
_PHASE = r"(?<=[一二三四五六七八九十\d])期"
# A road's name and kind (中山路, 丰和中大道); a crossing of two is one place (友谊路与平江道交口).
_ROAD = rf"(?:{_H}|\d){{1,10}}?(?:大道|大街|路|街|巷|胡同|弄|道)"
_PARTS = {
    "province": rf"(?:{'|'.join(PROVINCES)})"
    r"(?:省|市|自治区|特别行政区|壮族自治区|回族自治区|维吾尔自治区|(?![路街道巷大]))"
    rf"|{_UNIT}{{2,6}}?(?:省|自治区)",
    "city": rf"(?:{'|'.join(CITIES)})(?:市|(?![路街道巷大]))|{_UNIT}{{1,6}}?(?:市|自治州|地区|盟)",
    "district": rf"{_UNIT}{{1,6}}?(?:自治县|自治旗|新区|区|县|旗)",  # 长阳土家族自治县
    "town": rf"{_H}{{1,6}}?(?:街道|镇|乡)|{_H}{{1,5}}?村",
    "road": rf"{_ROAD}(?:[与和]{_ROAD}(?:交叉口|交口|路口)|(?:{_NUM}段|[东西南北中]段)?"
    # A Shanghai lane (弄) and its house: 共和新路4727弄12号 is one road's number.
    rf"(?:\d+弄)?(?:[甲乙丙]?{_NUM}(?:[-之]\d+)?号(?!{_NOT_HOUSE})(?:院)?)?)",
    # …nor before a room's name (1号报告厅, 2号多功能厅): a hall is no house.
    "number": rf"[甲乙丙]?\d+(?:[-之]\d+)?号(?!{_NOT_HOUSE}|{_HALL})(?:院|楼|门)?",
    # 期 is an estate's phase only after its number (万科城二期), not 时期 or 学期.
    "estate": rf"(?:{_NAME}|[A-Za-z\d]){{1,10}}?(?:{_ESTATES}|园|苑|{_PHASE}|城)|(?:{_STANDALONE})",
    # 3号楼, B座, B3栋, TB-1栋, 2门 (an entrance of a block, as Tianjin numbers them).
    # 一座 and 两座 are a count (建起一座…), not block A.
    "building": rf"(?![一两]座)(?:(?:[A-Za-z]{{1,2}}-?)?{_NUM}|[A-Za-z])"
    r"(?:号楼|栋|幢|座|号院|区|门)",
    "unit": rf"{_NUM}单元",
    # 16F: the floor as office buildings write it.
    "floor": rf"{_NUM}(?:层|楼)|\d{{1,3}}[Ff](?![A-Za-z0-9])",
    # Never the tail of a longer number (a window may start inside a phone number).
    # Building, unit and room joined by dashes (23-4-502, 188号18-3): the first groups
    # short, so a date (2024-11-20) or a phone number (0755-86001234) is none, and no
    # quantity after it (30-40分钟, 5-10元: a range).
    # Never the minutes of a time either (8:00-18:00), nor a range of blocks (1-6栋).
    "room": r"(?<![0-9:：])(?:[A-Za-z]?\d{1,3}-(?:\d{1,3}-)?\d{1,4}"
    r"(?![0-9:：-]|[分秒元块岁米个天年月日周小公千万%栋幢])|[A-Za-z]?\d{2,5}+(?![.．][0-9]|[%％分秒元块岁米个天年月日周千万亿户人名次件台辆]|小时|公里))"
    r"(?:室|房|号房)?",  # 西南区 101.2%, 苏州工业园区 2023 年: a figure or a year, no room
}
_FINE = frozenset({"number", "estate", "building", "unit", "room"})
_FINE_PART = re.compile(
    "|".join(f"(?P<{name}>{rx})" for name, rx in _PARTS.items() if name in _FINE | {"floor"})
)
_ADMIN = frozenset({"province", "city"})
_ADMIN_ANY = frozenset({"province", "city", "district", "town"})
# One pattern for every part, each kind a named group: a match says which kind it is
# (``lastgroup``), so a chain is read once, part by part, never parsed again.
_PART = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _PARTS.items()))
_SPACES = " \u3000"  # one space may stand between two parts
# The last character of every part's suffix (省, 路, 号, 小区, 名都, 交口 …): a part that
# is no gazetteer name holds one within 14 characters, with no function word before it.
_ENDS = (
    "省市区县旗州盟镇乡村道街路巷同弄段号院楼口园苑期城寓厦场舍心庄居庭都际校学店馆栋幢座门元层室房"
)
# Where a chain may start: the part pattern behind a cheap test of that (one short
# scan), so the search does not try every part at every character of a window.
_PART_START = re.compile(
    rf"(?=(?:{alternation([*PROVINCES, *CITIES])})|[^\W{_STOP}]{{0,13}}?[{_ENDS}0-9])"
    rf"(?:{_PART.pattern})"
)
# Every address part ends in one of these characters or is a gazetteer name, and an
# address has two parts at least, one of them ending in a suffix (two gazetteer names
# alone, 广东深圳, make no address): only stretches where a suffix has another suffix
# or a name close by are handed to the (slower) part pattern.
_SUFFIXES = "省市区县旗镇乡村路街巷弄道号院楼园厦苑栋幢座元层室"  # 单元, 层
_SUFFIX = re.compile(f"[{_SUFFIXES}]")  # one class: the cheapest scan the engine has
_NEAR = 10  # at most this many characters between two anchors of one address
_LONGEST_NAME = max(map(len, [*PROVINCES, *CITIES]))
_REACH = (12, 10)  # a window starts this far before its first anchor, ends after its last


def _windows(text: str) -> Iterator[tuple[int, int]]:
    """Stretches around a suffix with another anchor (suffix or gazetteer name) within
    ``_NEAR`` characters on the same line, merged. One scan finds the suffixes; names
    are looked for only near a suffix that has no other suffix close by."""
    window: tuple[int, int] | None = None
    suffixes = [match.start() for match in _SUFFIX.finditer(text)]
    for k, at in enumerate(suffixes):
        pair = _pair(text, at, suffixes[k + 1] if k + 1 < len(suffixes) else -1)
        if pair is None:
            continue
        start, end = max(0, pair[0] - _REACH[0]), min(len(text), pair[1] + _REACH[1])
        if window is not None and start <= window[1]:
            window = (window[0], max(window[1], end))
            continue
        if window is not None:
            yield window
        window = (start, end)
    if window is not None:
        yield window


def _pair(text: str, at: int, following: int) -> tuple[int, int] | None:
    """The span of the suffix at ``at`` and an anchor near it (the next suffix, at
    ``following``, or a gazetteer name before or after), if there is one."""
    if 0 <= following - at - 1 <= _NEAR and text.find("\n", at, following) == -1:
        return at, following + 1
    # Every look is bounded (a body of megabytes may have no line break at all).
    low = max(0, at - _NEAR - _LONGEST_NAME)
    low = text.rfind("\n", low, at) + 1 or low
    names = list(_GAZETTEER.finditer(text, low, at))
    if names and at - names[-1].end() <= _NEAR:  # the last name before the suffix
        return names[-1].start(), at + 1
    high = min(len(text), at + 1 + _NEAR + _LONGEST_NAME)
    high = _line_end(text, at, high)
    after = _GAZETTEER.search(text, at + 1, high)
    if after is not None and after.start() - at - 1 <= _NEAR:
        return at, after.end()
    return None


def _line_end(text: str, at: int, high: int) -> int:
    end = text.find("\n", at, high)
    return high if end == -1 else end


def _is_address(kinds: list[str]) -> bool:
    """Street level with two parts at least (建国路88号, 阳光小区5栋), a road under an
    administrative unit (朝阳区建国路), or a district or town under a city or province."""
    fine = _FINE.intersection(kinds)
    if fine and len(kinds) >= 2:
        return True
    if "road" in kinds and _ADMIN_ANY.intersection(kinds[: kinds.index("road")]):
        return True
    return bool({"district", "town"}.intersection(kinds)) and bool(_ADMIN.intersection(kinds))


Part = tuple[str, int, int]  # kind, start, end


# Spaces typed between Han and a short run of digits or Latin letters ("pangu spacing":
# 张杨路 500 号, 7 栋 2 单元 1801, B 座) are no boundary of an address: they are taken out
# before the chain is read, so every part pattern sees 张杨路500号, and each finding is
# mapped back to the text as written (spaces included). Three spaces at most (a wider gap
# is layout), and a run of five characters at most: no house, floor or room number is
# longer, and a phone number or an ID glued to a place would read as a road's name.
_SHORT_RUN = 5
# A space first (the engine skips to spaces at once), then what stands on either side.
_PANGU_GAP = re.compile(
    r"[ \u3000](?:(?<=[0-9A-Za-z][ \u3000])[ \u3000]{0,2}+(?=[\u3400-\u9fff])"
    r"|(?<=[\u3400-\u9fff][ \u3000])[ \u3000]{0,2}+"
    rf"(?=[0-9A-Za-z]{{1,{_SHORT_RUN}}}+(?![0-9A-Za-z])))"
)


def _pangu_gaps(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The spaces between Han and a short run of digits or letters, in either order."""
    for gap in _PANGU_GAP.finditer(text, start, end):
        at = low = gap.start()
        while low > 0 and text[low - 1].isascii() and text[low - 1].isalnum():
            low -= 1  # the run before the gap, if any, must be short too
            if at - low > _SHORT_RUN:
                break
        if at - low <= _SHORT_RUN:
            yield at, gap.end()


def find_chinese_addresses(text: str) -> Iterator[Finding]:
    """Addresses as :func:`_find_compact` reads them, in text written with or without
    spaces between Han and digits."""
    # Gaps are looked for only where an address may be (a scan of every space of an
    # English text cost more than the address search itself).
    windows = list(_windows(text))
    gaps = [gap for start, end in windows for gap in _pangu_gaps(text, start, end)]
    if not gaps:
        yield from _find_compact(text, windows)
        return
    # (position in the compact text, characters removed before it) at each gap.
    pieces, shifts, removed, last = [], [0], [0], 0
    for gap_start, gap_end in gaps:
        pieces.append(text[last:gap_start])
        removed.append(removed[-1] + gap_end - gap_start)
        shifts.append(gap_start - removed[-2])
        last = gap_end
    pieces.append(text[last:])
    compact = "".join(pieces)
    for found in _find_compact(compact, list(_windows(compact))):
        # A start at a gap's position is the character after the gap; an end there is
        # the character before it.
        start = found.start + removed[bisect_right(shifts, found.start) - 1]
        end = found.end + removed[bisect_left(shifts, found.end) - 1]
        yield Finding("ADDRESS", start, end, text[start:end])


def _find_compact(text: str, windows: list[tuple[int, int]]) -> Iterator[Finding]:
    """Chains of parts that make an address. A chain that goes on with finer parts
    after a short gap (a comma; a name no part pattern reads: 珞喻路152号 融创智谷
    B3栋1604; 天津市 和 平区…, where 和 ends a name) is the same address, reported
    as one finding."""
    address: list[Part] = []
    for start, end in windows:
        for parts in _chains(text, start, end):
            if address and _continues(text, address, parts[0]):
                address += parts
                continue
            if _reported(text, address) and _stands(text, address):
                yield _finding(text, address)
            address = parts
    if _reported(text, address) and _stands(text, address):
        yield _finding(text, address)


def _finding(text: str, parts: list[Part]) -> Finding:
    start, end = parts[0][1], parts[-1][2]
    return Finding("ADDRESS", start, end, text[start:end])


def _reported(text: str, parts: list[Part]) -> bool:
    if not parts:
        return False
    kinds = [kind for kind, _, _ in parts]
    if kinds == ["road"]:  # a road alone only with its number: 长治路227号
        return _NUMBERED.search(text, parts[0][1], parts[0][2]) is not None
    return _is_address(kinds)


# How fine each kind of part is: an address goes from the largest to the smallest.
_RANK = {kind: rank for rank, kind in enumerate(_PARTS)}
# What may stand between two pieces of one address: a comma or spaces; a name cut at
# a function word that also stands inside place names (丰和|中大道, 天津市|和|平区,
# 沈阳|于|洪区, 兴发|南路, 大都|会广场); or a name of up to ten characters that no part
# pattern reads, before a number, an estate, a building or a room (融创智谷|B3栋,
# 东四十条甲|22号院, 建新街|东首|38号) -- never a word between two places at large
# (河北省|重点|建设项目…跑道).
_SEPARATOR_GAP = re.compile(r"[ \u3000]*[,，]?[ \u3000]*")
_CUT_NAME_GAP = re.compile(rf"{_H}?[和向于发都]|[和向于发都]{_H}")
# The name in such a gap may hold characters that ``_STOP`` keeps out of a chain's start
# (颐和国际, 十全街: 和 and 全 stand in names) and a Latin block's dash (TB-1栋); only words
# that end a clause (的, 是, 我, 在 …) end it.
_GAP_H = _han_except("的了是我你他她它们这那有不也就还说把被让给吗呢吧啊在到从往请")
_NAME_GAP = re.compile(rf"(?:{_GAP_H}|[A-Za-z0-9-]){{1,10}}")
_FINER = _FINE | {"floor"}


def _continues(text: str, address: list[Part], first: Part) -> bool:
    """Whether a chain starting with ``first`` goes on with ``address``: a finer part
    than the address's last (a second address starts over from a city or a road:
    长治路227号，庆阳路46号 are two), after a gap that one address may hold, and an
    address so far (or a city's or province's name before a cut name: 天津市|和|平区)."""
    last = address[-1]
    rank, last_rank = _RANK[first[0]], _rank(text, last)
    # An estate's name cut by a word a part reads (万科城|市|花园11号楼) goes on as one.
    if rank < last_rank or (rank == last_rank and first[0] != "estate"):
        return False
    gap_start, gap_end = last[2], first[1]
    if _CUT_NAME_GAP.fullmatch(text, gap_start, gap_end) is not None:
        named = last[0] in ("province", "city") and _GAZETTEER.match(text, last[1]) is not None
        # 宝山区|共和|新路4727弄12号: a numbered road under a district, its name cut at 和.
        numbered = last[0] in _ADMIN_ANY and first[0] == "road" and _reported(text, [first])
        return named or numbered or _reported(text, address)
    if gap_end - gap_start >= 2 and text[gap_end - 2].isdigit() and text[gap_end - 1] in "-~～至到":
        return False  # 东区2-5幢: a range of blocks, not a block's name
    if _SEPARATOR_GAP.fullmatch(text, gap_start, gap_end) is None and (
        first[0] not in _FINER or _NAME_GAP.fullmatch(text, gap_start, gap_end) is None
    ):
        return False
    # 朝阳区|团结湖北里|2号楼3单元502: a district, a name no part reads, then a block
    # (not an estate or a number: 广东省|内各|大专院校…大学 and 上海|航空公司|2810号 are none).
    return _reported(text, address) or (
        first[0] in ("building", "unit") and all(kind in _ADMIN_ANY for kind, _, _ in address)
    )


def _rank(text: str, part: Part) -> int:
    kind, start, end = part
    if kind == "road" and text.find("号", start, end) != -1:
        return _RANK["number"]  # 珞喻路152号: as fine as its number
    if kind == "estate" and text.endswith("社区", start, end):
        return _RANK["town"]  # 乌沙社区|兴发南路16号: a community has roads in it
    return _RANK[kind]


def _chains(text: str, start: int, end: int) -> Iterator[list[Part]]:
    """Chains of parts in ``text[start:end]``: the first part where the engine finds
    one, then a part right after the last (or after one space), for as long as there
    is one. A chain never starts with a bare number: 床号12 患者苑 is no address."""
    while (part := _PART_START.search(text, start, end)) is not None:
        position = part.end()
        parts = [_first_part(text, str(part.lastgroup), part.start(), position)]
        while position < end:
            at = position + 1 if text[position] in _SPACES else position
            part = _PART.match(text, at, end)
            if part is None:
                break
            if _RANK[str(part.lastgroup)] < _rank(text, parts[-1]):
                # A place's name after a number is an estate's (江汉路1785号|双城国际4号楼:
                # 双城 is also a district): the finer parts are tried there.
                part = _FINE_PART.match(text, at, end) or part
            parts.append((_kind(text, str(part.lastgroup), part.end()), at, part.end()))
            position = part.end()
        while parts and parts[0][0] == "room" and text[parts[0][1] : parts[0][2]].isdigit():
            parts = parts[1:]  # digits before a place are a number's tail: 1501111 2222 广州市
        if parts:
            yield parts
        start = position


def _kind(text: str, kind: str, end: int) -> str:
    """3号楼 and 3号门 read as a number (号) but are a block (楼) or a gate (门): as fine as
    a block, and no house number (活动在世纪公园3号门集合 names no address)."""
    if kind == "district" and text[end - 2 : end] == "社区":
        return "estate"  # a community (德和社区) is finer than a district, like an estate
    return "building" if kind == "number" and text[end - 1] in "楼门" else kind


def _first_part(text: str, kind: str, start: int, end: int) -> Part:
    """A province or city read from the word before its name (写天津市) starts at the name."""
    kind = _kind(text, kind, end)
    if kind in ("province", "city"):
        name = _GAZETTEER.search(text, start + 1, end)
        if name is not None:
            return kind, name.start(), end
    return kind, start, end


_GAZETTEER = re.compile(alternation([*PROVINCES, *CITIES]))
# A road's number after its kind (长治路227号), not a number inside what reads as its
# name (黄大爷反映3号楼门口路: a building, and 路灯 after it).
_NUMBERED = re.compile(r"[路街巷同弄道段]\d[^路街巷弄道]*号|号院")
