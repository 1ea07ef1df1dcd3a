"""The numpy BERT embedder: its GELU, its vectors (against sentence-transformers' and
llama.cpp's), and its Engine contract (errors, token ids, copies in a child process,
lazy start, a dead child, BLAS threads)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import math
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from embeddingreference import REFERENCE, TEXTS, reference_vectors
from plinth.bootstrap import numpy_backend
from plinth.catalog.embedding_gguf import (
    bundled_embedding_model_dir,
    ensure_bundled_embedding_gguf,
)
from plinth.catalog.wordpiece import WordPieceTokenizer
from plinth.engines import numpy_bert_engine
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.engines.numpy_bert import NumpyBert, _gelu_inplace, check_model_dir
from plinth.engines.numpy_bert_engine import (
    BertProcess,
    NumpyBertEngine,
    blas_core_type,
    numpy_embedder,
)
from plinth.engines.numpy_bert_worker import set_blas_threads
from plinth.engines.spare_core_embedder import SpareCoreEmbedder
from plinth.errors import ContextLengthExceeded, EngineUnavailable, InvalidRequest
from plinth.settings import Settings

WANT = reference_vectors()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    result: np.ndarray = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return result


@pytest.fixture(scope="module")
def model() -> NumpyBert:
    return NumpyBert.from_model_dir(bundled_embedding_model_dir())


@pytest.fixture
async def engine() -> AsyncIterator[NumpyBertEngine]:
    engine = NumpyBertEngine("all-minilm-l6-v2", BertProcess(bundled_embedding_model_dir(), [0]))
    await engine.start()
    yield engine
    await engine.close()


def test_gelu_is_the_erf_form_to_1e_6() -> None:
    x = np.concatenate([np.linspace(-12, 12, 20001), [-40.0, -1e4, 0.0, 40.0, 1e4]])
    h = x.astype(np.float32)
    _gelu_inplace(h)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    # float32 rounding of values up to 1e4 is ~1e-3 absolute: compare relative there.
    assert np.all(np.abs(h - exact) <= 1e-6 + 1e-6 * np.abs(exact))


def test_vectors_are_sentence_transformers(model: NumpyBert) -> None:
    tokenizer = WordPieceTokenizer.from_model_dir(bundled_embedding_model_dir())
    ids = tokenizer.encode_batch(TEXTS)
    assert [len(i) for i in ids] == [item["tokens"] for item in REFERENCE]
    got = np.stack([model.embed_ids(i) for i in ids])
    assert got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    assert _cosines(got, WANT).min() >= 0.99999


def test_the_short_softmax_and_its_fallback_agree(
    model: NumpyBert, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plinth.engines import numpy_bert

    tokenizer = WordPieceTokenizer.from_model_dir(bundled_embedding_model_dir())
    ids = tokenizer.encode_batch(TEXTS)
    short = np.stack([model.embed_ids(i) for i in ids])
    # Every layer refused by the short form: each is redone with rows shifted.
    monkeypatch.setattr(numpy_bert, "_SUM_HIGH", np.float32(0))
    shifted = np.stack([model.embed_ids(i) for i in ids])
    assert _cosines(short, shifted).min() >= 0.9999999
    assert _cosines(shifted, WANT).min() >= 0.99999
    # The rows' sums: an overflowing row (a score at the clip) is over _SUM_HIGH.
    rows = np.array([[[0.0, 90.0, -200.0]]], np.float32)
    assert numpy_bert._exp_rows(rows.copy(), shift=False)[0, 0, 0] >= np.exp(81.0)
    shifted_rows = rows.copy()
    total = numpy_bert._exp_rows(shifted_rows, shift=True)
    assert np.allclose(shifted_rows / total, [[[np.exp(-90.0), 1.0, 0.0]]], atol=1e-30)


@pytest.mark.anyio
async def test_engine_vectors_equal_the_llamacpp_embedders(
    engine: NumpyBertEngine, tmp_path: Path
) -> None:
    llama = LlamaCppEngine(
        "all-minilm-l6-v2",
        "embedding",
        ensure_bundled_embedding_gguf(tmp_path, show_progress=False),
        LlamaCppOptions(parallel_slots=2, context_per_slot=512),
        tokenizer=WordPieceTokenizer.from_model_dir(bundled_embedding_model_dir()),
    )
    await llama.start()
    try:
        theirs = await llama.embed(TEXTS)
    finally:
        await llama.close()
    mine = await engine.embed(TEXTS)
    assert mine.prompt_tokens == theirs.prompt_tokens == sum(i["tokens"] for i in REFERENCE)
    assert _cosines(np.array(mine.vectors), np.array(theirs.vectors)).min() >= 0.999


@pytest.mark.anyio
async def test_token_ids_give_the_texts_vectors(engine: NumpyBertEngine) -> None:
    ids = await engine.token_ids(TEXTS[:3])
    by_ids, by_text = await engine.embed(ids), await engine.embed(TEXTS[:3])
    assert by_ids.vectors == by_text.vectors
    assert by_ids.prompt_tokens == sum(len(i) for i in ids)
    assert (await engine.embed([])).vectors == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("inputs", "error", "says"),
    [
        (["fine", "word " * 600], ContextLengthExceeded, "input[1] is at least"),
        ([[101, 30522, 102]], InvalidRequest, "input[0] is not a token id"),
        ([[101, 102], [101, -1, 102]], InvalidRequest, "input[1]"),
        ([[101, 102], []], InvalidRequest, "input[1] has no tokens"),
        ([[101] * 513], ContextLengthExceeded, "at most 512"),
    ],
)
async def test_refusals_are_the_llamacpp_embedders(
    engine: NumpyBertEngine, inputs: list[str] | list[list[int]], error: type, says: str
) -> None:
    with pytest.raises(error) as refused:
        await engine.embed(inputs)
    assert says in str(refused.value)


def _thread_nices(pid: int) -> list[int]:
    """The nice value of each thread of process ``pid``."""
    nices = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        nices.append(int(stat.rsplit(")", 1)[1].split()[16]))
    return nices


@pytest.mark.anyio
async def test_copies_share_one_child_and_spares_run_at_the_given_nice() -> None:
    embedder = numpy_embedder(
        "all-minilm-l6-v2",
        bundled_embedding_model_dir(),
        spares=1,
        threads=1,
        spare_nice=19,
        load_on_first_use=True,
    )
    assert isinstance(embedder, SpareCoreEmbedder)
    primary, spare = embedder.copies
    assert isinstance(primary, NumpyBertEngine) and isinstance(spare, NumpyBertEngine)
    assert primary.process is spare.process and not primary.loaded
    await embedder.start()
    try:
        assert primary.process.pid is None  # on first use: no child yet
        result = await embedder.embed(TEXTS[:4])
        assert _cosines(np.array(result.vectors), WANT[:4]).min() >= 0.99999
        assert primary.loaded and spare.loaded
        pid = primary.process.pid
        assert pid is not None
        # The child's main thread and the primary's at the parent's nice (0 unless the
        # tests themselves run niced), the spare's at 19.
        base = os.getpriority(os.PRIO_PROCESS, 0)
        assert sorted(_thread_nices(pid)) == [base, base, 19]
    finally:
        await embedder.close()
    assert primary.process.pid is None


@pytest.mark.anyio
async def test_a_dead_child_fails_its_texts_and_the_next_call_starts_another(
    engine: NumpyBertEngine,
) -> None:
    first = await engine.embed(TEXTS[:2])
    pid = engine.process.pid
    assert pid is not None
    os.kill(pid, 9)
    with pytest.raises(EngineUnavailable, match="process exited"):
        await engine.embed(TEXTS[:2])
    again = await engine.embed(TEXTS[:2])
    assert engine.process.pid not in (None, pid)
    assert _cosines(np.array(again.vectors), np.array(first.vectors)).min() >= 0.999999


def _copy_model(tmp_path: Path, cut: int = 0) -> Path:
    """The bundled model's config and safetensors in ``tmp_path``, the latter ``cut``
    bytes short."""
    source = bundled_embedding_model_dir()
    (tmp_path / "config.json").write_bytes((source / "config.json").read_bytes())
    data = (source / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) - cut])
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        if (source / name).is_file():
            (tmp_path / name).write_bytes((source / name).read_bytes())
    return tmp_path


def test_the_files_are_checked_without_loading(tmp_path: Path) -> None:
    check_model_dir(bundled_embedding_model_dir())
    with pytest.raises(ValueError, match="truncated"):
        check_model_dir(_copy_model(tmp_path, cut=1000))
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        check_model_dir(tmp_path)
    _copy_model(tmp_path)  # the whole file again, and a config asking for one layer more
    config = json.loads((tmp_path / "config.json").read_text())
    config["num_hidden_layers"] += 1
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"encoder\.layer\.6\."):
        check_model_dir(tmp_path)


@pytest.mark.anyio
async def test_a_bad_file_stops_a_lazy_start_and_fails_a_load(tmp_path: Path) -> None:
    folder = _copy_model(tmp_path, cut=1000)
    lazy = NumpyBertEngine("all-minilm-l6-v2", BertProcess(folder, [0]), load_on_first_use=True)
    with pytest.raises(ValueError, match="truncated"):
        await lazy.start()
    eager = NumpyBertEngine("all-minilm-l6-v2", BertProcess(folder, [0]))
    with pytest.raises(RuntimeError):  # the child's own error, reported by the load
        await eager.start()
    await eager.close()
    assert eager.process.pid is None


def test_blas_threads_are_set_in_the_loaded_openblas() -> None:
    paths = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()}
    # numpy's own build (faiss, loaded by the Milvus tests, brings another OpenBLAS).
    libraries = (ctypes.CDLL(p) for p in sorted(paths) if "openblas" in p.lower())
    library = next(lib for lib in libraries if hasattr(lib, "scipy_openblas_get_num_threads64_"))
    get = library.scipy_openblas_get_num_threads64_
    before = get()
    try:
        assert set_blas_threads(1) and get() == 1
        assert set_blas_threads(2) and get() == min(2, os.cpu_count() or 1)
    finally:
        set_blas_threads(before)


def test_the_setting_picks_numpy_only_for_a_bert_folder(tmp_path: Path) -> None:
    folder = bundled_embedding_model_dir()
    chosen = Settings(data_dir=tmp_path, llamacpp={"embedding_backend": "numpy"})
    assert numpy_backend(chosen, folder)
    assert not numpy_backend(chosen, tmp_path)  # no safetensors (e5's folder, say)
    assert not numpy_backend(chosen, None)
    assert numpy_backend(Settings(data_dir=tmp_path), folder)  # numpy by default
    llama = Settings(data_dir=tmp_path, llamacpp={"embedding_backend": "llamacpp"})
    assert not numpy_backend(llama, folder)


@pytest.mark.anyio
async def test_the_default_embedder_is_numpy_and_starts_nothing_and_makes_no_gguf(
    tmp_path: Path,
) -> None:
    from plinth.bootstrap import build_engines, numpy_served
    from plinth.store.database import open_database
    from plinth.store.models import ModelStore

    settings = Settings(data_dir=tmp_path)
    assert numpy_served(settings) == frozenset({"all-minilm-l6-v2"})
    llama = Settings(data_dir=tmp_path, llamacpp={"embedding_backend": "llamacpp"})
    assert numpy_served(llama) == frozenset()
    store = ModelStore(open_database(f"sqlite:///{tmp_path / 'plinth.db'}"))
    (embedder,) = [e for e in build_engines(settings, store) if e.kind == "embedding"]
    assert not list(tmp_path.rglob("*.gguf"))  # no GGUF made for a model numpy serves
    assert isinstance(embedder, SpareCoreEmbedder | NumpyBertEngine)
    # Its width is known unloaded (vector stores read it at start-up without a probe).
    assert embedder.dims == 384  # type: ignore[attr-defined]
    await embedder.start()
    try:
        copies = embedder.copies if isinstance(embedder, SpareCoreEmbedder) else [embedder]
        assert all(isinstance(c, NumpyBertEngine) and c.process.pid is None for c in copies)
    finally:
        await embedder.close()


def test_the_blas_kernels_are_chosen_only_for_zen_4() -> None:
    def cpu(vendor: str, family: str, flags: str) -> str:
        one = f"vendor_id\t: {vendor}\ncpu family\t: {family}\nflags\t\t: fpu {flags}\n"
        return one + "\n" + one.replace(vendor, "other")  # only the first CPU counts

    assert blas_core_type(cpu("AuthenticAMD", "25", "avx2 avx512f")) == "Haswell"
    assert blas_core_type(cpu("AuthenticAMD", "25", "avx2")) is None  # Zen 3
    assert blas_core_type(cpu("AuthenticAMD", "26", "avx2 avx512f")) is None  # Zen 5
    assert blas_core_type(cpu("GenuineIntel", "6", "avx2 avx512f")) is None
    assert blas_core_type("") is None


@pytest.mark.anyio
async def test_a_hung_child_is_killed_its_texts_fail_and_the_next_call_starts_another(
    engine: NumpyBertEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await engine.embed(TEXTS[:2])
    pid = engine.process.pid
    assert pid is not None
    monkeypatch.setattr(numpy_bert_engine, "FORWARD_FLOOR_S", 0.5)
    monkeypatch.setattr(numpy_bert_engine, "FORWARD_PER_TOKEN_S", 0.0)
    os.kill(pid, signal.SIGSTOP)  # hung: alive, holds its socket, never answers
    try:
        # The guard only turns a hang (the fault) into a failure instead of a stuck test.
        with pytest.raises(EngineUnavailable, match=r"gave no vectors in 0\.5 s"):
            await asyncio.wait_for(engine.embed(TEXTS[:2]), 60)
        assert engine.process.pid is None
        with pytest.raises(ProcessLookupError):  # killed and reaped
            os.kill(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    monkeypatch.setattr(numpy_bert_engine, "FORWARD_FLOOR_S", 60.0)
    again = await engine.embed(TEXTS[:2])
    assert engine.process.pid not in (None, pid)
    assert _cosines(np.array(again.vectors), np.array(first.vectors)).min() >= 0.999999
