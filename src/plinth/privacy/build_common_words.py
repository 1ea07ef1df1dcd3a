"""Build the two lists cut from jieba's dictionary (``given_name_chars.txt``, ``common_words.txt``).

Not imported at run time. jieba (a runtime dependency already, MIT licence) tags
person names ``nr``; its dictionary holds some 46,000 three-character ones that
start with a single surname. From them:

- ``given_name_chars.txt``: characters used in given names, as positions 2-3 of
  those names, that are (a) in at least ``MIN_NAMES`` of them, (b) at least
  ``MIN_RATIO`` times as frequent there as in the dictionary's other words (so
  everyday characters such as 子, 家, 人 are left out), (c) not mostly in
  transliterations (names not starting with a surname: 斯, 尔, 克), and (d) not
  surnames themselves. They extend the hand-written ``GIVEN_NAME_CHARS``.
- ``common_words.txt``: everyday words of two to four characters that start with a
  surname and continue with a given-name character (黄金, 安全, 方便, 东方明珠),
  leaving out the rare ones and those jieba tags ``nr``, except two-character ones it
  has seen often (its tag is noisy: 叶子, 敬礼 and 阳光 are ``nr``).

Rebuild after changing the surname or given-name lists:

    .venv/bin/python -m plinth.privacy.build_common_words
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import jieba  # type: ignore[import-untyped]

from plinth.privacy.gazetteer import COMPOUND_SURNAMES, HAND_GIVEN_NAME_CHARS, SINGLE_SURNAMES

MIN_FREQUENCY = 5  # jieba's counts; rarer words are mostly names and noise
# jieba tags many everyday two-character words as names (叶子, 敬礼, 白银, 文明, 阳光):
# above this count a two-character ``nr`` word is far more often the word.
NR_WORD_FREQUENCY = 150
# A character is kept if it is in MIN_NAMES names at MIN_RATIO, or (a frequent name
# character that is also frequent elsewhere: 立, 保, 才) in MANY_NAMES at MANY_RATIO.
MIN_NAMES, MIN_RATIO = 20, 3.0
MANY_NAMES, MANY_RATIO = 100, 1.5
# Characters that follow a surname to make a word about a family or a place, not a
# given name (王子, 李家, 张氏, 刘村): jieba's names hold them often (historical names).
NOT_GIVEN = frozenset("子家儿氏县州村寺")
HERE = Path(__file__).parent


def _entries() -> list[tuple[str, int, str]]:
    dictionary = Path(jieba.__file__).with_name("dict.txt")
    out = []
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, frequency, tag = line.split(" ")
        out.append((word, int(frequency), tag))
    return out


def mined_given_chars(entries: list[tuple[str, int, str]]) -> set[str]:
    in_names: Counter[str] = Counter()  # given-name positions of surname-first names
    in_transliterations: Counter[str] = Counter()
    in_words: Counter[str] = Counter()  # weighted by jieba's counts
    names = 0
    for word, count, tag in entries:
        if tag.startswith("nr"):
            if len(word) == 3 and word[0] in SINGLE_SURNAMES and word[:2] not in COMPOUND_SURNAMES:
                names += 1
                in_names.update(word[1:])
            elif len(word) >= 3 and word[0] not in SINGLE_SURNAMES:
                in_transliterations.update(word)
        else:
            for ch in word:
                in_words[ch] += count
    total = sum(in_words.values())
    kept = set()
    for ch, seen in in_names.items():
        # +50: a character barely seen outside names must still be seen in several.
        ratio = (seen / (2 * names)) / ((in_words[ch] + 50) / total)
        common = (seen >= MIN_NAMES and ratio >= MIN_RATIO) or (
            seen >= MANY_NAMES and ratio >= MANY_RATIO
        )
        if (
            common
            and in_transliterations[ch] < seen
            and ch not in SINGLE_SURNAMES
            and ch not in NOT_GIVEN
        ):
            kept.add(ch)
    return kept


def main() -> None:
    entries = _entries()
    mined = mined_given_chars(entries)
    given = HAND_GIVEN_NAME_CHARS | mined
    (HERE / "given_name_chars.txt").write_text(
        "".join(sorted(mined - HAND_GIVEN_NAME_CHARS)) + "\n", encoding="utf-8"
    )

    def looks_like_a_name(word: str) -> bool:
        surname = 2 if word[:2] in COMPOUND_SURNAMES else 1 if word[0] in SINGLE_SURNAMES else 0
        return 0 < surname < len(word) and word[surname] in given

    kept = set()
    for word, count, tag in entries:
        if count < MIN_FREQUENCY or not 2 <= len(word) <= 4:
            continue
        if tag.startswith("nr") and (len(word) > 2 or count < NR_WORD_FREQUENCY):
            continue
        if looks_like_a_name(word):
            kept.add(word)
    (HERE / "common_words.txt").write_text("\n".join(sorted(kept)) + "\n", encoding="utf-8")
    print(f"{len(mined - HAND_GIVEN_NAME_CHARS)} mined given-name characters, {len(kept)} words")


if __name__ == "__main__":
    main()
