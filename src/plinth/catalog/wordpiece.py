"""The bundled embedding model's own tokenizer, run before llama.cpp.

llama.cpp's built-in WordPiece tokenizer splits some scripts differently from
the tokenizer the model was trained with (Korean fell to cosine 0.63-0.66
against sentence-transformers; Hindi with virama and vowel signs to 0.91).
``handle_embeddings`` also accepts lists of token ids, and sending the ids from
the model's own ``tokenizer.json`` gives cosine ≥ 0.99999 on every reference
text. It also tells Plinth each input's exact length before it is run.
"""

from __future__ import annotations

import json
from pathlib import Path


class WordPieceTokenizer:
    def __init__(self, tokenizer_json: Path, max_tokens: int):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        # The shipped tokenizer.json pads to 128 and truncates; Plinth wants neither:
        # padding would be pooled into the mean, truncation would hide over-long input.
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        # Inputs longer than this (position table size) must be refused, not cut.
        self.max_tokens: int = max_tokens

    @classmethod
    def from_model_dir(cls, model_dir: Path) -> WordPieceTokenizer:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        return cls(model_dir / "tokenizer.json", int(config["max_position_embeddings"]))

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids with [CLS] … [SEP], as the model was trained."""
        return [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]
