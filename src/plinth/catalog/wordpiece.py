"""The bundled embedding model's own tokenizer, run before llama.cpp.

llama.cpp's built-in WordPiece tokenizer splits some scripts differently from
the tokenizer the model was trained with (Korean fell to cosine 0.63-0.66
against sentence-transformers; Hindi with virama and vowel signs to 0.91).
``handle_embeddings`` also accepts lists of token ids, and sending the ids from
the model's own ``tokenizer.json`` (read by ``bert_wordpiece``, the same ids as
the ``tokenizers`` library) gives cosine ≥ 0.99999 on every reference text.
It also tells Plinth each input's exact length before it is run.

Tokenizing costs about a second per megabyte (linear in the text), while the
model reads 512 tokens at most. So an input far longer than that is first
tokenized only in its leading words: if they alone are over the limit, the
input is refused after bounded work; the rest is never tokenized.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from plinth.catalog.bert_wordpiece import BertWordPiece
from plinth.catalog.bounded_encode import encode_bounded

_SPLITS = frozenset(" \t\n\r" + string.punctuation)
# BERT's "Chinese character" blocks in the Basic Multilingual Plane.
_CJK_IDEOGRAPHS = (("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uf900", "\ufaff"))


class WordPieceTokenizer:
    def __init__(self, tokenizer_json: Path, max_tokens: int):
        # The shipped tokenizer.json also pads to 128 and truncates; BertWordPiece
        # does neither: padding would be pooled into the mean, truncation would
        # hide over-long input.
        self._tokenizer = BertWordPiece(tokenizer_json)
        self._cls_id, self._sep_id = self._tokenizer.cls_id, self._tokenizer.sep_id
        # Inputs longer than this (position table size) must be refused, not cut.
        self.max_tokens: int = max_tokens

    @classmethod
    def from_model_dir(cls, model_dir: Path) -> WordPieceTokenizer:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        return cls(model_dir / "tokenizer.json", int(config["max_position_embeddings"]))

    def encode_batch(self, texts: list[str], *, stop_over: int | None = None) -> list[list[int]]:
        """Token ids with [CLS] … [SEP], as the model was trained.

        With ``stop_over``, a long text whose leading words alone make more than
        ``stop_over`` ids is returned as those ids only: enough to refuse it,
        without tokenizing the rest.
        """
        return encode_bounded(texts, stop_over, self._encode, _leading_words)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return [
            [self._cls_id, *(token[0] for token in tokens), self._sep_id]
            for tokens in self._tokenizer.encode_batch(texts)
        ]


def _leading_words(text: str, chars: int) -> str:
    """At most ``chars`` leading characters, cut where a word ends.

    The cut is just before whitespace, ASCII punctuation or a CJK ideograph:
    BERT's pre-tokenizer splits there, and its normalizer works per character,
    so the head's words tokenize exactly as in the whole text and the head
    never has more tokens than the whole.
    """
    for cut in range(min(chars, len(text) - 1), 0, -1):
        if _ends_word_before(text[cut]):
            return text[:cut]
    return ""


def _ends_word_before(char: str) -> bool:
    return char in _SPLITS or any(low <= char <= high for low, high in _CJK_IDEOGRAPHS)
