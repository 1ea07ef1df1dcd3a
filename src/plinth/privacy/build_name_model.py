"""Build ``name_model.tsv``, the numbers the scored name decision uses (``names_zh_scored``).

Not imported at run time. Everything comes from jieba's dictionary (``dict.txt``:
word, count, part-of-speech tag; jieba is a runtime dependency, MIT licence);
no evaluation case is read. Rows are ``kind<TAB>key<TAB>value``:

- ``S`` surname prior, per single surname: log of (share of jieba's three-character
  ``nr`` names that start with it) over (share of the dictionary's other words, by
  count, that start with it or are it). 李 and 侯 score high, 高 and 路 low, 来 and
  时 (everyday words far more often than surnames) below zero; a rare surname
  (``names_surnames.RARE_SURNAMES``: 禤, 笪) at least ``RARE_PRIOR``. A compound
  surname the same way (three- and four-character names), at least ``RARE_PRIOR``
  unless everyday words start with it ``COMPOUND_WORD_COUNT`` times (东方, 第五).
- ``G`` given-name likelihood, per character: log of (share of the given-name
  positions of those names) over (share of the other words' characters, by count);
  at least ``HAND_LIKELIHOOD`` for the hand-written ``HAND_GIVEN_NAME_CHARS`` (modern
  names: jieba's are older), at most -5 for 老 and 阿 (forms of address) and for the last
  characters of place names (镇, 县, 站).
- ``F`` surnames that are function words (和, 于, 向, 那, 都: jieba tags the character
  alone a conjunction, preposition, adverb, pronoun, particle or time word):
  log10 of its count less 3, where the count is over 1,000.
- ``T`` transliteration characters: log of (share in transliterated names, ``nrt``
  or ``nr`` not starting with a surname: 克林顿) over (share of given-name positions),
  where above zero (斯, 克, 尔: 莫斯科 and 麦克风 are no Chinese names).
- ``W`` competing words: everyday words (count ≥ ``MIN_WORD``; not ``nr``, but see
  ``_everyday``) that a name reading would cut or swallow — two to four characters
  holding a surname character (黄金, 汤圆, 方便, 这张, 老师, 相当于, 伊拉克), and
  frequent two-character ones (明天, 体育: 李宁|体育); the value is log10 of the count.
- ``P`` the ``W`` words that jieba tags as names (李娜, 李宁: frequent ``nr``), so that a
  rule asking "is this a word?" can tell them from 项目 and 公司.
- ``X`` words that are no given name after a surname (凌晨, 就是): frequent
  two-character time words, adverbs, verbs …; log10 of the count.
- ``L`` / ``R`` context words: words (one to three characters, count ≥ ``MIN_CONTEXT``)
  whose tag says a person may stand right after them (``L``: verbs, prepositions,
  conjunctions, adverbs, time words, pronouns: 催, 碰到, 听说, 跟, 昨天) or right
  before them (``R``: verbs, adverbs, prepositions, conjunctions, particles, time
  and place words: 说, 商量, 已经, 的, 下午). Nouns count too, weaker (``L`` 同事,
  客户; ``R`` 奶奶, 老人家), and on the left particles (的, 了, 等) too: the value is the
  weight of the tag's class; a noun for a person (ending in ``PERSON_NOUN_ENDS``: 村民,
  被告人, 妈妈, 女士) counts as strong.

Rebuild after changing the surname or given-name lists:

    .venv/bin/python -m plinth.privacy.build_name_model
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import jieba  # type: ignore[import-untyped]

from plinth.privacy.gazetteer import COMPOUND_SURNAMES, HAND_GIVEN_NAME_CHARS, PERSON_NOUN_ENDS
from plinth.privacy.names_surnames import RARE_SURNAMES, SURNAMES

MIN_WORD = 20  # jieba's counts; rarer words are mostly names and noise
MIN_FREQUENT = 300  # a word starting with a given-name character competes only if this common
MIN_CONTEXT = 100
FUNCTION_TAGS = ("c", "p", "d", "r", "u", "t")  # conjunctions, prepositions, adverbs …
RARE_PRIOR = 6.0  # a rare surname (names_surnames): as strong as the most common ones
# A compound surname that starts everyday words this often (东方, 第五, 西门, by count)
# gets its prior from the counts; the others count as rare surnames.
COMPOUND_WORD_COUNT = 1000
HAND_LIKELIHOOD = 1.0  # the least G of a character in the hand-written given-name list
# 老/阿 after a surname make a form of address (王老吉, 阿 in 王阿姨), not a given name.
FORMS_OF_ADDRESS = frozenset("老阿氏")  # 氏: a clan or a company (邵氏), not a given name
# Characters that end a place's, a building's or an office's name (蒋坝镇, 唐山站, 文化厅,
# 宣传处), not a given name.
PLACE_SUFFIXES = frozenset("镇县村乡区市省州路街站桥港寺庙宫殿庄屯寨堡厂店馆院厅处局部组社委队署办")
NR_WORD_FREQUENCY = 150  # as in build_common_words: above it a two-character nr word is a word
# Tags of words that are no given name when they stand after a surname (于|凌晨, 于|是):
# time words, adverbs, prepositions, conjunctions, verbs, numerals, pronouns.
NOT_A_GIVEN_NAME = ("t", "d", "p", "c", "v", "m", "r", "f", "q")
# Tag classes: strong says "a clause boundary, a person may be next"; weak only "a word ends".
STRONG_LEFT = ("v", "p", "c", "d", "t", "r")
STRONG_RIGHT = ("v", "p", "c", "d", "t", "u", "f", "r")
WEAK = ("n", "vn", "a")
# Particles (的, 了, 等, 着: jieba's u, uj, ul …) end a phrase, so a person may stand next
# (隔壁床的|逯长贵, 等|白建平到了): weak left context. (As strong, the newspaper sample
# lost precision: 0.858 -> 0.855 for recall 0.776 -> 0.779; as weak, P 0.858 and R
# 0.773 -> 0.776.) On the right they are strong already (的, 了: STRONG_RIGHT).
WEAK_LEFT = (*WEAK, "u", "uj", "ul", "uz", "ug", "ud", "uv")
HERE = Path(__file__).parent


def _entries() -> list[tuple[str, int, str]]:
    dictionary = Path(jieba.__file__).with_name("dict.txt")
    out = []
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, count, tag = line.split(" ")
        out.append((word, int(count), tag))
    return out


def _everyday(word: str, count: int, tag: str) -> bool:
    """A word, not a name: jieba's ``nr`` tag is noisy (陈列, 杨柳, 乌克兰, 莫斯科 carry
    it), so an ``nr`` word seen often and a transliteration (``nrt``) count too. (The
    few real names seen that often, mostly of novels' heroes, then need context.)"""
    if not tag.startswith("nr"):
        return True
    return tag == "nrt" or count >= NR_WORD_FREQUENCY


def _class(word: str, tag: str, strong: tuple[str, ...], weak: tuple[str, ...] = WEAK) -> float:
    if tag in strong or (tag[:1] in strong and tag not in ("nr", "ns", "nt", "nz")):
        return 1.0
    if tag == "n" and len(word) >= 2 and word[-1] in PERSON_NOUN_ENDS:
        return 1.0  # a noun for a person (村民, 被告人, 妈妈) stands beside names
    return 0.5 if tag in weak else 0.0


def build(entries: list[tuple[str, int, str]]) -> list[tuple[str, str, float]]:
    names: Counter[str] = Counter()  # surnames of three-character nr names
    given: Counter[str] = Counter()  # their given-name characters
    starts: Counter[str] = Counter()  # other words by first character, weighted by count
    chars: Counter[str] = Counter()  # other words' characters, weighted by count
    foreign: Counter[str] = Counter()  # characters of transliterations (nrt, or nr not
    # starting with a surname: 克林顿, 莫斯科 is nr too but starts with one)
    for word, count, tag in entries:
        if tag == "nrt" or (tag == "nr" and len(word) >= 3 and word[0] not in SURNAMES):
            foreign.update(word)
        if tag.startswith("nr"):
            if len(word) == 3 and word[0] in SURNAMES and word[:2] not in COMPOUND_SURNAMES:
                names[word[0]] += 1
                given.update(word[1:])
            if len(word) in (3, 4) and word[:2] in COMPOUND_SURNAMES:
                names[word[:2]] += 1
        else:
            starts[word[0]] += count
            if word[:2] in COMPOUND_SURNAMES:
                starts[word[:2]] += count
            for ch in word:
                chars[ch] += count
    total_names, total_starts = sum(names.values()), sum(starts.values())
    total_given, total_chars = sum(given.values()), sum(chars.values())
    rows: list[tuple[str, str, float]] = []
    for ch in sorted(SURNAMES):
        prior = math.log((names[ch] + 1) / total_names) - math.log(
            (starts[ch] + 100) / total_starts
        )
        if ch in RARE_SURNAMES:  # rarely anything else: jieba's few names under-count it
            prior = max(prior, RARE_PRIOR)
        rows.append(("S", ch, round(prior, 2)))
    for pair in sorted(COMPOUND_SURNAMES):  # 东方 and 第五 start words; 欧阳 and 诸葛 hardly
        prior = math.log((names[pair] + 1) / total_names) - math.log(
            (starts[pair] + 100) / total_starts
        )
        if starts[pair] < COMPOUND_WORD_COUNT:
            prior = max(prior, RARE_PRIOR)
        rows.append(("S", pair, round(prior, 2)))
    for ch in sorted(set(given) | HAND_GIVEN_NAME_CHARS):
        seen = given[ch]
        ratio = math.log((seen + 1) / total_given) - math.log((chars[ch] + 50) / total_chars)
        if ch in HAND_GIVEN_NAME_CHARS:  # common in modern names, whatever jieba's names say
            ratio = max(ratio, HAND_LIKELIHOOD)
        if ch in FORMS_OF_ADDRESS or ch in PLACE_SUFFIXES:
            ratio = min(ratio, -5.0)  # as unlike a given name as any (王老吉, 蒋坝镇)
        if seen >= 3 or ch in HAND_GIVEN_NAME_CHARS:
            rows.append(("G", ch, round(ratio, 2)))
    for word, count, tag in entries:  # surnames that are function words: 和, 于, 向, 都
        if word in SURNAMES and tag in FUNCTION_TAGS and count > 1000:
            rows.append(("F", word, round(math.log10(count) - 3, 2)))
    total_foreign = sum(foreign.values())
    for ch, seen in sorted(foreign.items()):
        ratio = math.log(seen / total_foreign) - math.log((given[ch] + 5) / total_given)
        if seen >= 10 and ratio > 0:
            rows.append(("T", ch, round(ratio, 2)))
    firsts = SURNAMES | {name[0] for name in COMPOUND_SURNAMES}
    for word, count, tag in entries:
        if count < MIN_WORD or not 2 <= len(word) <= 4 or not _everyday(word, count, tag):
            continue
        holds_a_surname = any(ch in firsts for ch in word)
        frequent = len(word) == 2 and count >= MIN_FREQUENT
        if holds_a_surname or frequent:
            rows.append(("W", word, round(math.log10(count), 2)))
            if tag.startswith("nr"):  # a frequent name: a word to compete, still a name
                rows.append(("P", word, round(math.log10(count), 2)))
        if len(word) == 2 and count >= MIN_FREQUENT and tag[:1] in NOT_A_GIVEN_NAME:
            rows.append(("X", word, round(math.log10(count), 2)))
    for word, count, tag in entries:
        if count < MIN_CONTEXT or len(word) > 3 or tag.startswith("nr"):
            continue
        if left := _class(word, tag, STRONG_LEFT, WEAK_LEFT):
            rows.append(("L", word, left))
        if right := _class(word, tag, STRONG_RIGHT):
            rows.append(("R", word, right))
    return rows


def main() -> None:
    rows = build(_entries())
    lines = [f"{kind}\t{key}\t{value:g}" for kind, key, value in rows]
    (HERE / "name_model.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(Counter(kind for kind, _, _ in rows))


if __name__ == "__main__":
    main()
