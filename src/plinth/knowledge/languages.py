"""Which writing systems a text uses, and how much of it an embedder can read.

An embedding model trained on English alone still turns Chinese into a
vector, but a meaningless one: all-MiniLM-L6-v2 scores nDCG@10 0.18 on a
Chinese question-answering set where BM25 scores 0.99. Hybrid search must
then stop listening to it. The model's catalog entry declares the languages
it was trained on; a query's script is read off its characters. Scripts, not
languages: Latin text is taken to be readable by any model that reads
English (a French query to an English model is not caught here; the fusion's
agreement signal is what catches that case).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

# The script each declared language is written in. "multilingual" covers all.
LANGUAGE_SCRIPTS: dict[str, str] = {
    "en": "latin",
    "fr": "latin",
    "de": "latin",
    "es": "latin",
    "pt": "latin",
    "it": "latin",
    "nl": "latin",
    "zh": "han",
    "ja": "kana",
    "ko": "hangul",
    "ru": "cyrillic",
    "uk": "cyrillic",
    "ar": "arabic",
}
MULTILINGUAL = "multilingual"


def script_of(char: str) -> str | None:
    """The writing system of one letter, or None for digits, punctuation, spaces."""
    code = ord(char)
    if char.isascii():
        return "latin" if char.isalpha() else None
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2FA1F:
        return "han"
    if 0x3040 <= code <= 0x30FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
        return "hangul"
    if 0x0400 <= code <= 0x04FF:
        return "cyrillic"
    if 0x0600 <= code <= 0x06FF:
        return "arabic"
    if char.isalpha():
        return "latin" if code < 0x0250 else "other"
    return None


def scripts(text: str) -> Counter[str]:
    """Letters per script (a Han character counts as much as a Latin letter)."""
    return Counter(s for s in map(script_of, text) if s is not None)


def readable_share(text: str, languages: Iterable[str] | None) -> float:
    """The share of ``text``'s letters in scripts an embedder of ``languages`` reads.

    ``None`` (an embedder whose languages nobody declared) reads everything:
    the fusion then relies on the score signals alone. Japanese reads Han too.
    A text without letters (numbers, symbols) is readable.
    """
    if languages is None:
        return 1.0
    declared = set(languages)
    if MULTILINGUAL in declared:
        return 1.0
    readable = {LANGUAGE_SCRIPTS[lang] for lang in declared if lang in LANGUAGE_SCRIPTS}
    if "kana" in readable:
        readable.add("han")
    counts = scripts(text)
    total = sum(counts.values())
    if total == 0:
        return 1.0
    return sum(n for script, n in counts.items() if script in readable) / total
