"""The bundled embedding model: converted once to GGUF, equal to sentence-transformers.

The reference vectors were produced by ``scripts/make_embedding_reference.py``
with sentence-transformers on torch; Plinth reaches them with numpy, gguf and
llama.cpp only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.catalog.embedding_gguf import (
    CONVERTER_VERSION,
    EmbeddingConversionError,
    convert_sentence_transformer,
    converter_version_of,
    ensure_bundled_embedding_gguf,
)
from plinth.catalog.wordpiece import WordPieceTokenizer
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.errors import ContextLengthExceeded

REFERENCE = Path(__file__).parent.parent / "data" / "embedding_reference.json"
MINILM = next(m for m in BUNDLED_MODELS if m.kind == "embedding")


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_bundled_embedding_gguf(tmp_path_factory.mktemp("models"), show_progress=False)


@pytest.fixture
async def engine(gguf_path: Path) -> AsyncIterator[LlamaCppEngine]:
    assert MINILM.tokenizer_dir is not None
    engine = LlamaCppEngine(
        MINILM.id,
        "embedding",
        gguf_path,
        LlamaCppOptions(parallel_slots=2, context_per_slot=512),
        tokenizer=WordPieceTokenizer.from_model_dir(MINILM.tokenizer_dir()),
    )
    await engine.start()
    yield engine
    await engine.close()


@pytest.mark.anyio
async def test_matches_sentence_transformers_on_every_reference_text(
    engine: LlamaCppEngine,
) -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))["items"]
    assert len(reference) >= 20
    texts = [item["text"] for item in reference]
    assert any("\u4e00" <= ch <= "\u9fff" for text in texts for ch in text), "needs Chinese"
    result = await engine.embed(texts)
    got = np.array(result.vectors)
    want = np.array([item["embedding"] for item in reference])
    assert got.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cosines = (got * want).sum(axis=1) / np.linalg.norm(want, axis=1)
    for text, cosine in zip(texts, cosines, strict=True):
        assert cosine >= 0.999, f"cosine {cosine:.6f} for {text!r}"
    assert result.prompt_tokens == sum(item["tokens"] for item in reference)


@pytest.mark.anyio
async def test_over_long_input_is_refused_not_truncated(engine: LlamaCppEngine) -> None:
    with pytest.raises(ContextLengthExceeded) as refused:
        await engine.embed(["short", "word " * 600])
    assert "input[1] is 602 tokens" in refused.value.message


def test_conversion_is_reused(tmp_path: Path) -> None:
    first = ensure_bundled_embedding_gguf(tmp_path, show_progress=False)
    stamp = first.stat().st_mtime_ns
    assert converter_version_of(first) == CONVERTER_VERSION
    assert ensure_bundled_embedding_gguf(tmp_path, show_progress=False).stat().st_mtime_ns == stamp


def test_a_stale_or_broken_file_is_converted_again(tmp_path: Path) -> None:
    target = tmp_path / "models" / "all-minilm-l6-v2.f16.gguf"
    target.parent.mkdir()
    target.write_bytes(b"GGUF but truncated")
    path = ensure_bundled_embedding_gguf(tmp_path, show_progress=False)
    assert converter_version_of(path) == CONVERTER_VERSION
    assert path.stat().st_size > 40_000_000


def test_bad_model_folders_raise_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingConversionError, match=r"config\.json is missing"):
        convert_sentence_transformer(tmp_path, tmp_path / "out.gguf", show_progress=False)
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(EmbeddingConversionError, match="only BERT"):
        convert_sentence_transformer(tmp_path, tmp_path / "out.gguf", show_progress=False)
    assert not list(tmp_path.glob("*.partial")) and not (tmp_path / "out.gguf").exists()
