"""Han characters, as every Chinese detector reads them: CJK Unified Ideographs and
extension A (U+3400–U+9FFF). Rarer extensions are left out: names and place words
are written in these blocks, and a wider class would only cost time."""

from __future__ import annotations


def is_han(ch: str) -> bool:
    """``ch`` (one character) is a Han character."""
    return "\u3400" <= ch <= "\u9fff"
