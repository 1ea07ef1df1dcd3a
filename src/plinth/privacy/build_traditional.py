"""Build ``traditional_chars.txt``: traditional Chinese characters and the simplified
character each is written as, for reading names and addresses typed in Hong Kong or
Taiwan script (陳家豪, 黃詠詩, 台北市大安區) with the simplified tables.

Not imported at run time, and not a runtime dependency: the table is derived once
from OpenCC's character dictionary as shipped on PyPI in
``opencc-python-reimplemented`` (Apache-2.0; ``TSCharacters.txt`` maps a traditional
character to its simplified forms, ``STCharacters.txt`` the other way). A pair is
kept only if it is safe to apply blindly, character for character:

- the traditional character has exactly one simplified form, and it differs
  (乾 -> 干 or 乾, 餘 -> 余 or 馀: left out, the choice depends on the word);
- the traditional character is not itself a simplified character (著, 瞭, 藉 and 於
  are written in simplified text too, where mapping them would change the word);
- both are in the BMP Han blocks the detectors read (U+3400-U+9FFF).

Rebuild (the package installed anywhere, e.g. ``pip install --target /tmp/occ``):

    .venv/bin/python -m plinth.privacy.build_traditional /tmp/occ/opencc/dictionary
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent


def _table(path: Path) -> dict[str, list[str]]:
    table = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        if key and values:
            table[key] = values.split()
    return table


def _han(ch: str) -> bool:
    return len(ch) == 1 and "\u3400" <= ch <= "\u9fff"


def safe_pairs(
    to_simplified: dict[str, list[str]], to_traditional: dict[str, list[str]]
) -> dict[str, str]:
    """The traditional -> simplified pairs that can be applied to any text (see above)."""
    return {
        t: forms[0]
        for t, forms in to_simplified.items()
        if len(forms) == 1 and forms[0] != t and t not in to_traditional
        if _han(t) and _han(forms[0])
    }


def main(dictionary: Path) -> None:
    pairs = safe_pairs(
        _table(dictionary / "TSCharacters.txt"), _table(dictionary / "STCharacters.txt")
    )
    keys = "".join(sorted(pairs))
    lines = [
        "# Traditional -> simplified characters, one pair a line; built by build_traditional.py",
        "# from OpenCC's TSCharacters/STCharacters (opencc-python-reimplemented, Apache-2.0).",
        *(f"{t}{pairs[t]}" for t in keys),
    ]
    (HERE / "traditional_chars.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(pairs)} pairs")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
