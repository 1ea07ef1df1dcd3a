"""BERT's WordPiece tokenizer in plain Python, as the ``tokenizers`` library runs it.

The bundled embedder (all-MiniLM-L6-v2) ships a ``tokenizer.json`` of the
standard BERT shape: a ``BertNormalizer`` (drop control characters, spaces
around CJK ideographs, strip accents, lowercase), a ``BertPreTokenizer``
(split on whitespace and punctuation) and a greedy longest-match WordPiece
model. Reading it here instead of with the Rust ``tokenizers`` library keeps
that library, and the ``huggingface_hub`` it pulls in (~40 MB), out of the
default install. The character classes the library uses come from
``bert_tables`` (built from the library itself); ids and character offsets are
the library's on the test corpus (tests/catalog/test_bert_wordpiece.py).

Each token carries the original text's character offsets, as the library's
``Encoding.offsets`` do: every normalized character remembers the character it
came from.

Speed (ingestion tokenizes every chunk): runs of ASCII letters and digits are
taken whole rather than character by character, and each word's pieces are
remembered; 0.63 -> 0.29 ms per ~330-piece SciFact text, the same ids and
offsets on 30,000 SciFact, XQuAD and random Unicode texts as before.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from pathlib import Path

from plinth.catalog import bert_tables

# The normalizer puts spaces around these (BERT's "Chinese character" blocks).
_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_DROP, _SPACE, _ALONE = 0, 1, 2  # _ALONE: punctuation and CJK ideographs, a word each

# (id, start, end): a token and the original text's characters it covers.
Token = tuple[int, int, int]

# A run of ASCII letters and digits, a run of spaces, or any one other character.
_RUNS = re.compile(r"[A-Za-z0-9]+| +|.", re.DOTALL)
_ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
# Words whose pieces are remembered (per tokenizer); past it the memory starts over.
_WORDS_CACHED = 65536


def _in(ranges: tuple[int, ...], cp: int) -> bool:
    """``cp`` in one of the flat (first, last, ...) inclusive ranges."""
    index = bisect_right(ranges, cp)
    # Odd: after a range's first and before its last; or exactly its last.
    return index % 2 == 1 or (index > 0 and ranges[index - 1] == cp)


@lru_cache(maxsize=65536)
def _normalize_char(char: str) -> int | str:
    """A class (_DROP, _SPACE) or what the normalizer makes of the character.

    The normalizer puts spaces around a CJK ideograph, strips accents (NFD,
    then drops nonspacing marks) and lowercases, per character; then the
    pre-tokenizer makes each punctuation character a word of its own. Output
    that must stand alone comes back prefixed with a NUL, and output that mixes
    punctuation with letters with a SOH (both never in normalized text: the
    normalizer drops them).
    """
    cp = ord(char)
    if _in(bert_tables.DROPPED, cp):
        return _DROP
    if _in(bert_tables.WHITESPACE, cp):
        return _SPACE
    out = "".join(
        part.lower()
        for part in unicodedata.normalize("NFD", char)
        if not _in(bert_tables.DROPPED, ord(part))
    )
    if not out:
        return _DROP
    if any(low <= cp <= high for low, high in _CJK):
        return "\0" + out
    punctuation = [_is_punctuation(c) for c in out]
    if all(punctuation) and len(out) == 1:
        return "\0" + out
    return "\1" + out if any(punctuation) else out


def _is_punctuation(char: str) -> bool:
    return _in(bert_tables.PUNCTUATION, ord(char))


class BertWordPiece:
    def __init__(self, tokenizer_json: Path):
        spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
        model, normalizer = spec["model"], spec["normalizer"]
        if (
            model.get("type") != "WordPiece"
            or (normalizer or {}).get("type") != "BertNormalizer"
            or not normalizer.get("lowercase")
            or normalizer.get("strip_accents") is False
            or (spec.get("pre_tokenizer") or {}).get("type") != "BertPreTokenizer"
        ):
            raise ValueError(f"{tokenizer_json}: not an uncased BERT WordPiece tokenizer")
        self._vocab: dict[str, int] = model["vocab"]
        self._unk = self._vocab[model["unk_token"]]
        self._prefix: str = model.get("continuing_subword_prefix", "##")
        self._max_word_chars: int = model.get("max_input_chars_per_word", 100)
        self._longest = max(len(piece) for piece in self._vocab)
        self.cls_id, self.sep_id = self._vocab["[CLS]"], self._vocab["[SEP]"]
        # Special tokens written in the text ("[SEP]") are matched before normalizing.
        specials = sorted(
            (t["content"] for t in spec.get("added_tokens", []) if t.get("special")),
            key=len,
            reverse=True,
        )
        self._added = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
        self._specials = re.compile("|".join(map(re.escape, specials))) if specials else None
        # word -> its pieces as (id, first, last) character positions in the word.
        self._pieces_of: dict[str, tuple[tuple[int, int, int], ...]] = {}

    def encode_batch(self, texts: list[str]) -> list[list[Token]]:
        return [self.encode(text) for text in texts]

    def encode(self, text: str) -> list[Token]:
        """Tokens of ``text`` without [CLS]/[SEP], with character offsets."""
        tokens: list[Token] = []
        at = 0
        if self._specials is not None:
            for match in self._specials.finditer(text):
                self._encode_plain(text, at, match.start(), tokens)
                tokens.append((self._added[match.group()], match.start(), match.end()))
                at = match.end()
        self._encode_plain(text, at, len(text), tokens)
        return tokens

    def _encode_plain(self, text: str, start: int, end: int, tokens: list[Token]) -> None:
        word: list[str] = []
        origin: list[int] = []
        # Runs of ASCII letters and digits (most of most text) normalize to themselves
        # lowercased and stay in the word, and runs of spaces end it: whole runs at a
        # time instead of character by character. Any other character goes alone
        # through the normalizer, as before.
        for run in _RUNS.finditer(text, start, end):
            index = run.start()
            first = text[index]
            if first in _ASCII_ALNUM:
                word.append(run.group().lower())
                origin.extend(range(index, run.end()))
                continue
            if first == " ":
                if word:
                    self._word_pieces("".join(word), origin, tokens)
                    word, origin = [], []
                continue
            normalized = _normalize_char(first)
            if normalized == _DROP:
                continue
            if normalized == _SPACE:
                if word:
                    self._word_pieces("".join(word), origin, tokens)
                    word, origin = [], []
                continue
            assert isinstance(normalized, str)
            if normalized[0] == "\0":
                if word:
                    self._word_pieces("".join(word), origin, tokens)
                    word, origin = [], []
                self._word_pieces(normalized[1:], [index] * (len(normalized) - 1), tokens)
            elif normalized[0] == "\1":
                for part in normalized[1:]:
                    if not _is_punctuation(part):
                        word.append(part)
                        origin.append(index)
                        continue
                    if word:
                        self._word_pieces("".join(word), origin, tokens)
                        word, origin = [], []
                    self._word_pieces(part, [index], tokens)
            else:
                word.append(normalized)
                origin.extend([index] * len(normalized))
        if word:
            self._word_pieces("".join(word), origin, tokens)

    def _word_pieces(self, word: str, origin: list[int], tokens: list[Token]) -> None:
        """The word's pieces, placed at the characters they came from (``origin``)."""
        pieces = self._pieces_of.get(word)
        if pieces is None:
            pieces = self._split(word)
            if len(self._pieces_of) >= _WORDS_CACHED:
                self._pieces_of.clear()  # a bound, not an LRU: words repeat within a text
            self._pieces_of[word] = pieces
        for found, first, last in pieces:
            tokens.append((found, origin[first], origin[last] + 1))

    def _split(self, word: str) -> tuple[tuple[int, int, int], ...]:
        """Greedy longest match, as WordPiece; a word with an unknown part is [UNK] whole.

        (id, first, last): the piece covers ``word[first:last + 1]``.
        """
        length = len(word)
        whole = ((self._unk, 0, length - 1),)
        if length > self._max_word_chars:
            return whole
        pieces: list[tuple[int, int, int]] = []
        start = 0
        while start < length:
            end = min(length, start + self._longest)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else self._prefix + word[start:end]
                found = self._vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return whole
            pieces.append((found, start, end - 1))
            start = end
        return tuple(pieces)
