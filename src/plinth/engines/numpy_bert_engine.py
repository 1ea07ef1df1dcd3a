"""The bundled BERT embedder on numpy (``numpy_bert``) instead of llama.cpp, as an Engine.

Chosen with ``llamacpp.embedding_backend: numpy``. It serves the same model
from the package's fp32 safetensors: one text per forward pass on a worker
thread of its own, with the model's own WordPiece ids, and refuses what the
llama.cpp embedder refuses (over-long inputs with their index, token ids out
of range) with the same errors.

Cores are shared the way the llama.cpp embedder shares them: one copy at
normal priority plus one nice-19 copy per further core, behind
``SpareCoreEmbedder``'s one queue. The copies share one set of weights; each
is a single worker thread, and OpenBLAS is set to one thread for the whole
process (its own pool threads would otherwise run a nice-19 copy's work at
normal priority, and two copies calling it at once wait on each other).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from plinth.catalog.model_tokenizer import load_tokenizer
from plinth.engines.base import EmbeddingResult, Engine, Json
from plinth.engines.lazy_load import LoadOnFirstUse
from plinth.engines.llamacpp import TextTokenizer, _lower_priority
from plinth.engines.llamacpp_errors import check_input_lengths, check_token_ids
from plinth.engines.numpy_bert import NumpyBert
from plinth.errors import InvalidRequest

log = logging.getLogger(__name__)

# The setters numpy's OpenBLAS builds export (scipy-openblas wheels prefix theirs).
_BLAS_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def set_blas_threads(threads: int) -> bool:
    """Set the thread count of the OpenBLAS numpy has loaded (process-wide).

    numpy offers no call for it, and ``OPENBLAS_NUM_THREADS`` is read only when
    the library loads: find the loaded library in the process's memory map
    and call its setter. False where numpy uses another BLAS.
    """
    import numpy  # loads its BLAS first

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()}
    # numpy's own copy (its wheel keeps it in numpy.libs beside the package, or
    # inside it): another library's OpenBLAS (faiss, with the Milvus extra) may
    # be loaded too, and setting that one would leave numpy's as it was.
    home = Path(numpy.__file__).resolve().parent
    own = [p for p in paths if p.startswith((str(home), str(home.parent / "numpy.libs")))]
    for path in sorted(own) or sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _BLAS_SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                setter(threads)
                return True
    return False


class SharedBert:
    """One model's weights for all its copies, loaded once, at the first copy's load."""

    def __init__(self, model_dir: Path, blas_threads: int = 1):
        self.model_dir = model_dir
        self.blas_threads = blas_threads
        self._model: NumpyBert | None = None
        self._lock = threading.Lock()

    def get(self) -> NumpyBert:
        with self._lock:
            if self._model is None:
                if not set_blas_threads(self.blas_threads):
                    log.warning("numpy embedder: could not set the BLAS thread count")
                self._model = NumpyBert.from_model_dir(self.model_dir)
            return self._model


class NumpyBertEngine(Engine):
    is_local = True

    def __init__(
        self,
        model_id: str,
        shared: SharedBert,
        *,
        nice: int = 0,
        load_on_first_use: bool = False,
        tokenizer: TextTokenizer | None = None,
    ):
        super().__init__(model_id, "embedding")
        self.shared = shared
        self.load_on_first_use = load_on_first_use
        config = json.loads((shared.model_dir / "config.json").read_text(encoding="utf-8"))
        self.vocab_size = int(config["vocab_size"])
        self.tokenizer = tokenizer or load_tokenizer(shared.model_dir)
        self._model: NumpyBert | None = None
        self._loader = LoadOnFirstUse(model_id, self._load)
        # One thread: one text at a time per copy; more texts go to more copies.
        self._pool = ThreadPoolExecutor(
            1,
            thread_name_prefix=f"numpy-bert-{model_id}",
            initializer=_lower_priority,
            initargs=(nice,),
        )

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _load(self) -> None:
        self._model = await self._run(self.shared.get)

    async def start(self) -> None:
        if not self.load_on_first_use:
            await self._load()
            self._loader.loaded = True

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def loaded(self) -> bool:
        return self._loader.loaded

    def describe(self) -> Json:
        return {"kind": self.kind, "engine": "numpy", "path": str(self.shared.model_dir)}

    async def token_ids(self, inputs: list[str] | list[list[int]]) -> list[list[int]]:
        """Token ids for texts (the model's WordPiece), every input checked: length,
        and ids within the vocabulary (the llama.cpp embedder's errors)."""
        if isinstance(inputs[0], str):
            texts = [str(text) for text in inputs]
            max_tokens = self.tokenizer.max_tokens
            # Not on the copy's own thread: that may be busy with a text.
            ids = await asyncio.to_thread(self.tokenizer.encode_batch, texts, stop_over=max_tokens)
        else:
            ids = [list(map(int, item)) for item in inputs if isinstance(item, list)]
            if len(ids) != len(inputs):
                raise InvalidRequest("input mixes texts and token ids", param="input")
            check_token_ids(ids, "input")
            for index, item in enumerate(ids):
                if not item:
                    raise InvalidRequest(f"input[{index}] has no tokens", param="input")
                if max(item) >= self.vocab_size:
                    raise InvalidRequest(
                        f"input[{index}] is not a token id (ids run from 0 up to "
                        f"{self.vocab_size - 1})",
                        param="input",
                    )
        check_input_lengths(ids, self.tokenizer.max_tokens, self.model_id)
        return ids

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        if not inputs:
            return EmbeddingResult([], 0)
        ids = await self.token_ids(inputs)
        await self._loader.ensure()
        vectors: list[list[float]] = await self._run(self._forward, ids)
        return EmbeddingResult(vectors, sum(len(item) for item in ids))

    def _forward(self, ids: list[list[int]]) -> list[list[float]]:
        assert self._model is not None
        return [self._model.embed_ids(item).tolist() for item in ids]


def numpy_embedder(
    model_id: str,
    model_dir: Path,
    *,
    spares: int,
    threads: int,
    spare_nice: int,
    load_on_first_use: bool,
) -> Engine:
    """The model on numpy: one copy plus ``spares`` nice copies behind one queue
    (``SpareCoreEmbedder``), one BLAS thread each; or, with ``threads`` other
    than 1 (0 = all cores), one copy whose BLAS calls use that many threads."""
    import os

    blas_threads = 1 if threads == 1 else threads or os.cpu_count() or 1
    shared = SharedBert(model_dir, blas_threads)
    tokenizer = load_tokenizer(model_dir)

    def copy(nice: int) -> NumpyBertEngine:
        return NumpyBertEngine(
            model_id,
            shared,
            nice=nice,
            load_on_first_use=load_on_first_use,
            tokenizer=tokenizer,
        )

    primary = copy(0)
    if not spares:
        return primary
    from plinth.engines.spare_core_embedder import SpareCoreEmbedder

    return SpareCoreEmbedder(primary, [copy(spare_nice) for _ in range(spares)])
