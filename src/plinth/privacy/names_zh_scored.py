"""Chinese names with no cue word, by a score: 催一下袁梦洁，刚碰到叶秋生，邓子豪和许嘉怡.

Word lists of cues cannot list every verb a name may follow. Here each
candidate — a surname and one or two given-name characters — gets a score,
the sum of four pieces of evidence from jieba's dictionary (``name_model.tsv``,
built by ``build_name_model``):

- **surname prior**: how often the character starts a name rather than a word
  (李 high, 高 low, 来 below zero); a compound surname (欧阳) counts high;
- **given-name likelihood**: per character, how much more often it stands in a
  given name than in other words (婷, 轩 high; 的, 是 far below zero); a
  one-character given name pays ``ONE_CHAR``, since 王明 is also two words' start;
- **competition**: an everyday word the reading would swallow or cut costs its
  weight (黄金, 汤圆 swallowed; 这张, 老师 cut on the left; 明天 on the right);
- **context**: the text's edge or punctuation on either side, or a word ending
  right before it / starting right after it whose part of speech lets a person
  stand there (verbs, prepositions, adverbs, time words: 碰到|叶秋生|，,
  跟|彭海燕|商量); nouns count half (同事, 奶奶), nouns for a person in full (村民,
  被告人, 妈妈).

A candidate is a name when its score reaches ``THRESHOLD``, chosen on the
hand-written batches 1-10 for precision ≥ 0.95 on each (see
benchmarks/privacy_data/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import repeat
from operator import mul
from pathlib import Path

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import COMPOUND_SURNAMES, PLACES, ROLE_ENDS
from plinth.privacy.han import is_han
from plinth.privacy.names_surnames import SURNAMES
from plinth.privacy.names_values import THING_ENDS, counted_thing, longer_value
from plinth.privacy.names_zh_uncued import CLOSINGS


def _load() -> dict[str, dict[str, float]]:
    tables: dict[str, dict[str, float]] = {kind: {} for kind in "SFGTWPXLR"}
    # One split of the whole file and columns by slicing: a quarter cheaper at import
    # than a split per line (86,000 rows; keys hold no whitespace).
    cells = Path(__file__).with_name("name_model.tsv").read_text(encoding="utf-8").split()
    for kind, key, value in zip(cells[0::3], cells[1::3], map(float, cells[2::3]), strict=True):
        tables[kind][key] = value
    return tables


_TABLES = _load()
SURNAME, GIVEN, FOREIGN = _TABLES["S"], _TABLES["G"], _TABLES["T"]
FUNCTION_WORDS = _TABLES["F"]
# Clipped once here, not per candidate: one character must not decide alone.
_GIVEN = {ch: max(-5.0, min(4.0, value)) for ch, value in GIVEN.items()}
_PRIOR = {ch: max(-3.0, min(6.0, value)) for ch, value in SURNAME.items()}
WORDS, NOT_GIVEN_WORDS = _TABLES["W"], _TABLES["X"]
NAME_WORDS = _TABLES["P"]  # the WORDS that jieba tags as person names
LEFT, RIGHT = _TABLES["L"], _TABLES["R"]


def person_follower(text: str, end: int) -> bool:
    """The longest word of ``RIGHT`` at ``end`` (3, 2 or 1 characters) is one a person
    is followed by (class 1: 是, 在, 说); the longest decides (小康|住宅 goes on with a
    noun, though 住 is a verb). False where none is listed."""
    get = RIGHT.get
    for size in (3, 2, 1):
        value = get(text[end : end + size])
        if value is not None:
            return value >= 1.0
    return False


FEATURES = (
    "bias",
    "surname prior",  # S, clipped to [-3, 6]; compound surnames too (东方 low, 欧阳 6)
    "given likelihood",  # sum of G over the given characters, each clipped to [-5, 4]
    "one-character given name",
    "competing word",  # log10 count of the strongest word swallowed or cut
    "given name is a word",  # X: 于|凌晨
    "foreign",  # T of the surname, the given characters and the character after
    "left edge",  # text start, punctuation, space, ASCII
    "left word",  # L class of the word ending right before (1 strong, 0.5 a noun)
    "right edge",
    "right word",
    "list",  # 、 or ， on both sides, or 、 on one: an item of an enumeration
    "function-word surname",  # F: 和|健康, 于|凌晨, 向|大家
    "both sides",  # a person may stand on both sides: the edge or a strong word, each
)
# Weights set by hand (a logistic fit on the tagged People's Daily corpus,
# benchmarks/privacy_names_corpus.py --fit, scored worse). THRESHOLD: 0 was the lowest
# with precision >= 0.97 on batches 1-8; -0.5, chosen on batches 1-10 (so 9 and 10 are
# no longer clean), keeps >= 0.95 on each and costs the newspaper's names 0.79 -> 0.78
# precision for 0.74 -> 0.76 recall; -1.0 fell below 0.95 on batch 10.
# Both sides strong (the edge or a word whose tag lets a person stand there, each side):
# taken on batches 1-10 and the newspaper sample together (batch 9 R 0.91 -> 0.92,
# batch 10 0.87 -> 0.88; newspaper P 0.85 -> 0.83, R 0.74 -> 0.76).
BOTH = 1.0
WEIGHTS = (-6.0, 0.5, 1.0, -2.5, -1.5, -1.5, -2.0, 2.0, 2.0, 2.0, 2.0, 1.0, -1.5, BOTH)
THRESHOLD = -0.5

# The most the context can add: a bound that spares most candidates the full look.
# (An edge and a context word on the same side exclude each other.)
_BEST_CONTEXT = (
    max(WEIGHTS[7], WEIGHTS[8], 0)
    + max(WEIGHTS[9], WEIGHTS[10], 0)
    + max(WEIGHTS[11], 0)
    + max(WEIGHTS[13], 0)
)
_FIRSTS = "".join(sorted(SURNAMES | {name[0] for name in COMPOUND_SURNAMES}))
_SECONDS = "".join(sorted({name[1] for name in COMPOUND_SURNAMES}))
WORDLIKE_PRIOR = 3.0  # a compound surname's prior below it: mostly an everyday word
# Or a second given character with G above this (谭有福: 有 is common in words, 福 in
# names). Any second character cost 0.1 ms per 2 KB prompt; above 2 almost nothing.
SECOND_FLOOR = 2.0
LIKELY_FLOOR = 0.0  # a first given character's G must exceed it for a candidate
# Given-name characters worth a look: those not far more common elsewhere. (A floor
# of -2 let 一 in, 丁一凡 and 庞一鸣, but made ~9x the candidates and cost the 2 KB
# prompt 0.15 ms; listed names such as 庞一鸣 are found by ``names_lists`` instead.)
_LIKELY = "".join(sorted(ch for ch, value in GIVEN.items() if value > LIKELY_FLOOR))
# A surname's first character followed by a likely given character (or a compound
# surname's second): a class first lets the engine skip to candidates at once.
_SECOND_LIKELY = "".join(sorted(ch for ch, value in GIVEN.items() if value > SECOND_FLOOR))
_CANDIDATE = re.compile(rf"[{_FIRSTS}](?=[{_LIKELY}{_SECONDS}]|[\u3400-\u9fff][{_SECOND_LIKELY}])")
_LIST = "、，,;；"
# A numeral then one of the common measure words (二两, 三斤, 五个) is a quantity.
NUMERALS = frozenset("一二三四五六七八九十两")
MEASURE_WORDS = frozenset("两斤个只件条张本瓶盒袋包箱杯碗份块元次天年月克米")
_ZEROS = repeat(0.0)  # the default of each FOREIGN.get in map()
UNKNOWN_GIVEN = -5.0  # a character never in jieba's names as a given one (很, 的)


def across_start(text: str, start: int) -> float:
    """The strongest word that starts before the surname and holds it (这张, 相当于):
    the same for every reading at ``start``."""
    strongest, get = 0.0, WORDS.get
    for first in range(max(0, start - 3), start):
        for last in range(start + 1, min(first + 4, len(text)) + 1):
            strongest = max(strongest, get(text[first:last], 0.0))
    return strongest


def _from_start(text: str, start: int, given: int, end: int) -> float:
    """The strongest word from the surname on that the reading swallows or cuts (黄金,
    伊拉克, 王|明天); a word inside the given name (海燕, 建国) is no competitor, nor
    the compound surname itself."""
    strongest, get = 0.0, WORDS.get
    stop = len(text)
    for first in range(start, end):
        for last in range(first + 2, min(first + 4, stop) + 1):
            if (first >= given and last <= end) or (first == start and last == given):
                continue
            strongest = max(strongest, get(text[first:last], 0.0))
    return strongest


class _Start:
    """What every reading at one start shares: the surnames there and the left side."""

    __slots__ = ("across", "before", "first", "left", "left_edge", "surnames")

    def __init__(self, text: str, start: int) -> None:
        self.first = text[start]
        self.surnames: list[tuple[int, float]] = []
        if (pair := text[start : start + 2]) in COMPOUND_SURNAMES:
            self.surnames.append((2, _PRIOR.get(pair, 6.0)))
        if text[start] in SURNAMES:
            self.surnames.append((1, _PRIOR.get(text[start], 0.0)))
        self.before = text[start - 1] if start else ""
        self.left_edge = not self.before or not is_han(self.before)
        self.across = 0.0 if self.left_edge else across_start(text, start)
        self.left = 0.0
        if not self.left_edge:
            get = LEFT.get
            self.left = max(
                get(text[start - 1 : start], 0.0),
                get(text[max(0, start - 2) : start], 0.0),
                get(text[max(0, start - 3) : start], 0.0),
            )
            # A word ending like a role (骑手, 保洁员), though too rare for the LEFT
            # table (count < 100), is strong context too.
            role = self.before in ROLE_ENDS and start > 1 and is_han(text[start - 2])
            if role:
                self.left = 1.0


def _features(
    text: str, start: int, at: _Start, surname: int, prior: float, given: int, prune: bool
) -> list[float] | None:
    """The features of one reading; with ``prune``, None also where the reading cannot
    reach ``THRESHOLD`` even with no competing word (the costliest feature to find)."""
    end = start + surname + given
    names = text[start + surname : end]
    if len(names) < given:
        return None
    likelihood = 0.0
    for ch in names:
        if not "\u3400" <= ch <= "\u9fff":
            return None
        likelihood += _GIVEN.get(ch, UNKNOWN_GIVEN)
    if prune and _known_part(at, surname, prior, likelihood, given) + _BEST_RIGHT < THRESHOLD:
        return None  # cannot reach it even with the best right side: spare the rest
    if text[start:end] in PLACES or names in PLACES:
        return None  # 来|长春: the given part is a city
    after = text[end] if end < len(text) else ""
    if after == names[-1]:
        return None  # a name does not end inside a doubled character (杨柳依|依)
    if names[-1] in NUMERALS and after in MEASURE_WORDS:
        return None  # 毛峰|二两: a number and its measure word, not a given name
    right_edge = not after or not is_han(after)
    right = 0.0
    if not right_edge:
        get = RIGHT.get
        right = max(get(after, 0.0), get(text[end : end + 2], 0.0), get(text[end : end + 3], 0.0))
    # A compound surname that is an everyday word (东方) and a given name that is one too
    # (树叶) read as a phrase: the given word competes. (Given names that are words,
    # 海燕 and 建国, are no competitor after other surnames: with single surnames this
    # lost more names, 荆天明 and 焦文龙, than it saved.)
    wordlike = surname == 2 and prior < WORDLIKE_PRIOR
    phrase = WORDS.get(names, 0.0) if given == 2 and wordlike else 0.0
    # ("" is in every string: the text's edges are no list separators.)
    listed = bool(at.before and after) and (at.before in _LIST and after in _LIST)
    listed = listed or at.before == "、" or after == "、"
    values = [
        1.0,
        prior,
        likelihood,
        float(given == 1),
        0.0,  # the competing word, below
        NOT_GIVEN_WORDS.get(names, 0.0) if given == 2 else 0.0,
        sum(map(FOREIGN.get, text[start:end], _ZEROS)) + FOREIGN.get(after, 0.0),
        float(at.left_edge),
        at.left,
        float(right_edge),
        right,
        float(listed),
        FUNCTION_WORDS.get(text[start], 0.0) if surname == 1 else 0.0,
        float((at.left_edge or at.left >= 1.0) and (right_edge or right >= 1.0)),
    ]
    if prune and score_of(values) < THRESHOLD:
        return None  # a competing word only lowers the score (its weight is negative)
    values[4] = max(at.across, _from_start(text, start, start + surname, end), phrase)
    return values


# The most the right side can add: an edge or a context word, a list, both sides.
_BEST_RIGHT = max(WEIGHTS[9], WEIGHTS[10], 0) + max(WEIGHTS[11], 0) + max(WEIGHTS[13], 0)


def _known_part(at: _Start, surname: int, prior: float, likelihood: float, given: int) -> float:
    """The score's terms known before the right side is looked at; the others it leaves
    out (the given part as a word, transliteration, the competing word) only lower it."""
    function = FUNCTION_WORDS.get(at.first, 0.0) if surname == 1 else 0.0
    return (
        WEIGHTS[0]
        + WEIGHTS[1] * prior
        + WEIGHTS[2] * likelihood
        + WEIGHTS[3] * (given == 1)
        + WEIGHTS[7] * at.left_edge
        + WEIGHTS[8] * at.left
        + WEIGHTS[12] * function
    )


def _may_win(text: str, start: int) -> bool:
    """Whether a single-surname reading at ``start`` could reach the threshold with the
    best context and no competing word (compound surnames are always looked at)."""
    if text[start : start + 2] in COMPOUND_SURNAMES:
        return True
    prior = _PRIOR.get(text[start], 0.0)
    function = WEIGHTS[12] * FUNCTION_WORDS.get(text[start], 0.0)
    base = WEIGHTS[0] + WEIGHTS[1] * prior + function + _BEST_CONTEXT - THRESHOLD
    first = _GIVEN.get(text[start + 1 : start + 2], UNKNOWN_GIVEN)
    if base + WEIGHTS[2] * first + WEIGHTS[3] >= 0:
        return True
    second = text[start + 2 : start + 3]
    best_second = _GIVEN.get(second, UNKNOWN_GIVEN) if second else UNKNOWN_GIVEN
    return base + WEIGHTS[2] * (first + best_second) >= 0


def _may_win_here(at: _Start) -> bool:
    """The same bound with the left side known: its context and a word across it."""
    left = WEIGHTS[7] if at.left_edge else WEIGHTS[8] * at.left
    listed = max(WEIGHTS[11], 0.0) if at.left_edge else 0.0
    right = max(WEIGHTS[9], WEIGHTS[10], 0.0) + max(WEIGHTS[13], 0.0)
    best_given = 2 * max(WEIGHTS[2] * 4.0, 0.0)
    for _, prior in at.surnames:
        bound = WEIGHTS[0] + WEIGHTS[1] * prior + best_given + left + right + listed
        if bound + WEIGHTS[4] * at.across >= THRESHOLD:
            return True
    return False


def readings(text: str, start: int, *, prune: bool = True) -> Iterator[tuple[int, list[float]]]:
    """Every reading at ``start`` with its features (``FEATURES``): (end, features);
    ``prune``: only readings that can reach the threshold."""
    if prune and not _may_win(text, start):
        return
    at = _Start(text, start)
    if prune and not _may_win_here(at):
        return
    for surname, prior in at.surnames:
        for given in (2, 1):
            values = _features(text, start, at, surname, prior, given, prune)
            if values is not None:
                yield start + surname + given, values


def features(text: str, start: int, surname: int, given: int) -> list[float] | None:
    """The evidence that ``text[start : start + surname + given]`` is a name, as in
    ``FEATURES``; None if it cannot be one."""
    end = start + surname + given
    every = readings(text, start, prune=False)
    return next((values for stop, values in every if stop == end), None)


def score_of(values: list[float]) -> float:
    # map(mul) runs in C: a third of the cost of a generator over zip.
    total: float = sum(map(mul, WEIGHTS, values))
    return total


def best_reading(text: str, start: int) -> tuple[float, int] | None:
    """The highest-scoring name starting at ``start``: (score, end)."""
    best: tuple[float, int] | None = None
    for end, values in readings(text, start):
        value = score_of(values)
        if best is None or value > best[0]:
            best = (value, end)
    return best


# The last characters of an address's finest parts (88号, 1604室, 3栋, 大厦, A座): a
# reading glued right after one names what stands there (a locker, a shop), not a person.
ADDRESS_ENDS = frozenset("号室栋厦座")


def _after_address(text: str, start: int, end: int) -> bool:
    """Glued to an address's last part and not followed by a word a person is
    (大厦|<locker>，取件码; but 1203室|孟佳慧|那边 is someone's place)."""
    if not start or text[start - 1] not in ADDRESS_ENDS:
        return False
    get = RIGHT.get
    return max(get(text[end : end + n], 0.0) for n in (1, 2, 3)) < 1.0


# Sign-offs hold surname characters and name-like ones (顺祝商祺, 此致敬礼): no names.
_CLOSING = re.compile(CLOSINGS)


def _in_closing(text: str, start: int, end: int) -> bool:
    """The reading lies in a sign-off (looked for only around a name found: most texts
    have none, and a scan of the whole text cost more than the names)."""
    for closing in _CLOSING.finditer(text, max(0, start - 6), min(len(text), end + 6)):
        if closing.start() < end and start < closing.end():
            return True
    return False


def _better_inside(text: str, start: int, reading: tuple[float, int]) -> bool:
    """A reading from the next character scores higher (由|殷志刚牵头: 由 is a surname
    too, and a function word): the scan then moves on to it."""
    inside = best_reading(text, start + 1) if text[start + 1 : start + 2] in SURNAMES else None
    return inside is not None and inside[0] > reading[0]


# An item of a 、 list beside an everyday word this common (log10 of jieba's count,
# jieba's names aside) is one of a list of things: 黄瓜、毛豆、金针菇.
LISTED_THING = 2.0


def _among_things(text: str, start: int, end: int) -> bool:
    """The reading is an item of a 、 list whose neighbouring item is an everyday word."""
    neighbours = []
    if start > 1 and text[start - 1] == "、":
        first = start - 1
        while first > 0 and start - 1 - first < 4 and is_han(text[first - 1]):
            first -= 1
        neighbours.append(text[first : start - 1])
    if end < len(text) and text[end] == "、":
        last = end + 1
        while last < len(text) and last - end - 1 < 4 and is_han(text[last]):
            last += 1
        neighbours.append(text[end + 1 : last])
    return any(
        WORDS.get(item, 0.0) >= LISTED_THING and item not in NAME_WORDS for item in neighbours
    )


def find_scored_names(text: str) -> Iterator[Finding]:
    position = 0
    while (match := _CANDIDATE.search(text, position)) is not None:
        start = match.start()
        reading = best_reading(text, start)
        if reading is not None and reading[0] >= THRESHOLD:
            if (
                _after_address(text, start, reading[1])
                or _in_closing(text, start, reading[1])
                or _better_inside(text, start, reading)
                or longer_value(text, start, reading[1])
                or _among_things(text, start, reading[1])
                or counted_thing(text, start)
                or text[reading[1] - 1] in THING_ENDS
            ):
                position = start + 1
                continue
            yield Finding("PERSON", start, reading[1], text[start : reading[1]])
            position = reading[1]
        else:
            position = start + 1
