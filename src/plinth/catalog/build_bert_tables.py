"""Build ``bert_tables.py``: how the ``tokenizers`` library's BERT normalizer sees each character.

Not imported at run time. ``bert_wordpiece`` reproduces the Rust library's
``BertNormalizer`` and ``BertPreTokenizer`` in Python, and the library's
character classes come from Unicode tables of its own (older than Python's
``unicodedata`` for some, newer for others), so they are taken from the library
itself rather than from ``unicodedata``: for every code point, is it dropped
(control, format, private use, nonspacing mark), whitespace, or punctuation
(split off as its own word)? Each class is stored as sorted code point ranges.

Rebuild with the test extra installed (it brings ``tokenizers``):

    .venv/bin/python -m plinth.catalog.build_bert_tables
"""

from __future__ import annotations

import sys
from pathlib import Path

from tokenizers import normalizers, pre_tokenizers

OUT = Path(__file__).with_name("bert_tables.py")


def classify() -> dict[str, list[int]]:
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    classes: dict[str, list[int]] = {"DROPPED": [], "WHITESPACE": [], "PUNCTUATION": []}
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        char = chr(cp)
        # Between two letters, so that a dropped or whitespace character shows.
        normalized = normalizer.normalize_str(f"a{char}a")
        if normalized == "aa":
            classes["DROPPED"].append(cp)
        elif normalized == "a a":
            classes["WHITESPACE"].append(cp)
        elif len(pre_tokenizer.pre_tokenize_str(f"a{char}a")) == 3:
            classes["PUNCTUATION"].append(cp)  # also CJK ideographs; the caller checks those first
    return classes


def ranges(code_points: list[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for cp in code_points:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return [(low, high) for low, high in out]


def main() -> None:
    import tokenizers

    lines = [
        f'"""Built by ``build_bert_tables`` from tokenizers {tokenizers.__version__}; do not edit.',
        "",
        "Inclusive code point ranges, sorted: (first, last, first, last, ...).",
        '"""',
        "",
    ]
    for name, code_points in classify().items():
        flat = [str(x) for pair in ranges(code_points) for x in pair]
        lines.append(f"{name} = (")
        for i in range(0, len(flat), 10):
            lines.append("    " + ", ".join(flat[i : i + 10]) + ",")
        lines.append(")")
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
