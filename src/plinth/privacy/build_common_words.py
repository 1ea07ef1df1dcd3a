"""Build ``common_words.txt``: everyday words that look like a surname plus a given name.

Not imported at run time. The list is cut from jieba's dictionary (a runtime
dependency already, MIT licence): words of two to four characters that start
with a surname and continue with a given-name character (黄金, 安全, 方便, 东方明珠),
leaving out the rare ones and those jieba tags as person names (``nr``), except
two-character ones it has seen often (its tag is noisy: 叶子, 敬礼 and 阳光 are ``nr``).
Rebuild after changing the surname or given-name lists:

    .venv/bin/python -m plinth.privacy.build_common_words
"""

from __future__ import annotations

from pathlib import Path

import jieba  # type: ignore[import-untyped]

from plinth.privacy.gazetteer import COMPOUND_SURNAMES, GIVEN_NAME_CHARS, SINGLE_SURNAMES

MIN_FREQUENCY = 5  # jieba's counts; rarer words are mostly names and noise
# jieba tags many everyday two-character words as names (叶子, 敬礼, 白银, 文明, 阳光):
# above this count a two-character ``nr`` word is far more often the word.
NR_WORD_FREQUENCY = 150
OUT = Path(__file__).with_name("common_words.txt")


def looks_like_a_name(word: str) -> bool:
    surname = 2 if word[:2] in COMPOUND_SURNAMES else 1 if word[0] in SINGLE_SURNAMES else 0
    return 0 < surname < len(word) and word[surname] in GIVEN_NAME_CHARS


def main() -> None:
    dictionary = Path(jieba.__file__).with_name("dict.txt")
    kept = set()
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, frequency, tag = line.split(" ")
        count = int(frequency)
        if count < MIN_FREQUENCY or not 2 <= len(word) <= 4:
            continue
        if tag.startswith("nr") and (len(word) > 2 or count < NR_WORD_FREQUENCY):
            continue
        if looks_like_a_name(word):
            kept.add(word)
    OUT.write_text("\n".join(sorted(kept)) + "\n", encoding="utf-8")
    print(f"{len(kept)} words → {OUT}")


if __name__ == "__main__":
    main()
