"""The bundled BERT embedder on numpy (``numpy_bert``) instead of llama.cpp, as an Engine.

Chosen with ``llamacpp.embedding_backend: numpy``. It serves the same model
from the package's fp32 safetensors, with the model's own WordPiece ids, and
refuses what the llama.cpp embedder refuses (over-long inputs with their
index, token ids out of range) with the same errors.

The forward passes run in a child process (``numpy_bert_worker``: why there
and not on a thread here), started at the first load and shared by the
model's copies: one copy at normal priority plus one nice-19 copy per
further core, behind ``SpareCoreEmbedder``'s one queue, as the llama.cpp
embedder's copies. Each copy is one thread in the child (one BLAS thread
each, so two copies never wait on each other's OpenBLAS pool) and one socket
here; tokenizing and the checks stay in this process.

``load = "on_first_use"`` starts no child until an embedding is asked for;
start-up then only reads the safetensors' header against the config, so a
missing or wrong file still stops start-up. A child that dies, or gives no
answer within ``FORWARD_FLOOR_S`` plus ``FORWARD_PER_TOKEN_S`` a token (then it
is killed), fails the texts it held; the next text starts a new one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from plinth.catalog.model_tokenizer import load_tokenizer
from plinth.engines.base import EmbeddingResult, Engine, Json
from plinth.engines.lazy_load import LoadOnFirstUse
from plinth.engines.llamacpp import TextTokenizer
from plinth.engines.llamacpp_errors import check_input_lengths, check_token_ids
from plinth.engines.numpy_bert import check_model_dir
from plinth.engines.numpy_bert_worker import OK, read_reply, send_ids
from plinth.errors import EngineUnavailable, InvalidRequest

log = logging.getLogger(__name__)

# Loading the weights takes about a second; a child that has not answered by
# then is stuck (or the machine is swapping), and start-up must not hang on it.
LOAD_TIMEOUT_S = 120.0
# How long close() waits for the child to leave by itself before killing it.
_EXIT_WAIT_S = 5.0
# The longest wait for one text's vectors (per socket wait, not per call). A
# pass takes ~0.1 s per SciFact abstract on one core (ingest_throughput.md); a
# nice-19 copy on a busy machine may get a few percent of a core. A
# child that has not answered in this long is stuck (a hang in BLAS, a stopped
# process): it is killed, its texts fail, and the next call starts another.
FORWARD_FLOOR_S = 60.0
FORWARD_PER_TOKEN_S = 0.1


# OpenBLAS's kernels by CPU where its own pick is not the fastest for this model's
# products: on AMD Zen 4 (family 25 with AVX-512, which Zen 4 runs as two
# 256-bit halves) it picks SkylakeX, and its AVX2 Haswell kernels are faster:
# sgemm of the model's shapes 96-98 -> 102-105 GFLOP/s, a forward pass 102.7-106.5
# -> 99.6-101.8 ms (one core, 24 SciFact texts, interleaved; vectors at cosine
# 0.9999999). On Intel's AVX-512 cores SkylakeX is the faster (run 7 of
# benchmarks/results/ingest_throughput.md); a set OPENBLAS_CORETYPE is left alone.
_CORE_BY_CPU = {("AuthenticAMD", "25"): "Haswell"}


def blas_core_type(cpuinfo: str) -> str | None:
    """The OPENBLAS_CORETYPE to give the child for this ``/proc/cpuinfo``, or None."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first CPU is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    if "avx512f" not in fields.get("flags", "").split():
        return None  # OpenBLAS picks AVX2 kernels itself
    return _CORE_BY_CPU.get((fields.get("vendor_id", ""), fields.get("cpu family", "")))


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


class BertProcess:
    """The child process of one model, with one socket per copy (``numpy_bert_worker``)."""

    def __init__(self, model_dir: Path, nices: list[int], blas_threads: int = 1):
        self.model_dir = model_dir
        self.nices = nices
        self.blas_threads = blas_threads
        self._proc: subprocess.Popen[bytes] | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def socket_for(self, copy: int) -> socket.socket:
        """Copy ``copy``'s socket; starts the child (blocking, until it has loaded) if
        none is running. Raises RuntimeError with the child's message if it cannot load."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._stop()
                self._start()
            return self._sockets[copy]

    def _start(self) -> None:
        pairs = [socket.socketpair() for _ in self.nices]
        theirs = [child for _, child in pairs]
        mine = [own for own, _ in pairs]
        import plinth

        source = str(Path(plinth.__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
        # OpenBLAS reads its thread count when it loads: no pool of idle threads.
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(self.blas_threads), "PYTHONPATH": path}
        core = blas_core_type(_cpuinfo())
        if core is not None and "OPENBLAS_CORETYPE" not in os.environ:
            env["OPENBLAS_CORETYPE"] = core
        args = [
            sys.executable,
            "-m",
            "plinth.engines.numpy_bert_worker",
            str(self.model_dir),
            str(self.blas_threads),
            *(f"{sock.fileno()}:{nice}" for sock, nice in zip(theirs, self.nices, strict=True)),
        ]
        try:
            proc = subprocess.Popen(
                args, pass_fds=[sock.fileno() for sock in theirs], env=env, stdin=subprocess.DEVNULL
            )
        except OSError:
            for sock in mine:
                sock.close()
            raise
        finally:
            for sock in theirs:
                sock.close()
        try:
            for sock in mine:
                sock.settimeout(LOAD_TIMEOUT_S)
                status, payload = read_reply(sock)
                sock.settimeout(None)
                if status != OK:
                    raise RuntimeError(payload.decode(errors="replace"))
        except (OSError, EOFError) as exc:
            self._proc, self._sockets = proc, mine
            self._stop()
            raise RuntimeError(f"the numpy embedder's process did not load: {exc}") from exc
        except RuntimeError:
            self._proc, self._sockets = proc, mine
            self._stop()
            raise
        self._proc, self._sockets = proc, mine

    def _stop(self) -> None:
        for sock in self._sockets:
            sock.close()  # the child's threads read EOF and it exits
        self._sockets = []
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.wait(_EXIT_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def discard(self, sock: socket.socket, *, kill: bool = False) -> None:
        """A copy's socket failed: stop the child it belonged to (the next use starts
        one); ``kill``: at once (a stuck child would not leave when its sockets close)."""
        with self._lock:
            if sock in self._sockets:
                if kill and self._proc is not None:
                    self._proc.kill()
                self._stop()

    def close(self) -> None:
        with self._lock:
            self._stop()


class NumpyBertEngine(Engine):
    is_local = True

    def __init__(
        self,
        model_id: str,
        process: BertProcess,
        copy: int = 0,
        *,
        load_on_first_use: bool = False,
        tokenizer: TextTokenizer | None = None,
    ):
        super().__init__(model_id, "embedding")
        self.process = process
        self.copy = copy
        self.load_on_first_use = load_on_first_use
        config = json.loads((process.model_dir / "config.json").read_text(encoding="utf-8"))
        self.vocab_size = int(config["vocab_size"])
        # The vectors' width, known without loading (vector stores read it at start-up).
        self.dims = int(config["hidden_size"])
        self.tokenizer = tokenizer or load_tokenizer(process.model_dir)
        self._loader = LoadOnFirstUse(model_id, self._load)
        # One thread: it waits on this copy's socket, one call at a time.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"numpy-bert-{model_id}")

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _load(self) -> None:
        await self._run(self.process.socket_for, self.copy)

    async def start(self) -> None:
        if self.load_on_first_use:
            # Nothing loaded, but a missing or malformed file stops start-up now.
            check_model_dir(self.process.model_dir)
        else:
            await self._load()
            self._loader.loaded = True

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self.process.close)

    @property
    def loaded(self) -> bool:
        return self._loader.loaded

    def describe(self) -> Json:
        # The weights' file, as the llama.cpp engines name their GGUF (Ollama's /api/ps
        # lists a local model by it, and its size).
        weights = self.process.model_dir / "model.safetensors"
        return {"kind": self.kind, "engine": "numpy", "path": str(weights)}

    async def token_ids(self, inputs: list[str] | list[list[int]]) -> list[list[int]]:
        """Token ids for texts (the model's WordPiece), every input checked: length,
        and ids within the vocabulary (the llama.cpp embedder's errors)."""
        if isinstance(inputs[0], str):
            texts = [str(text) for text in inputs]
            max_tokens = self.tokenizer.max_tokens
            # Not on the copy's own thread: that may be waiting for a text.
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
        """The texts' vectors from the child, two requests in flight so that it
        never waits for the next text (a copy answers its socket in order)."""
        try:
            sock = self.process.socket_for(self.copy)
        except RuntimeError as exc:
            raise EngineUnavailable(
                f"Model '{self.model_id}' could not be loaded: {exc}", code="model_unavailable"
            ) from exc
        vectors: list[list[float]] = []
        failure = ""
        sent = 0
        # Each wait is for at most the two texts in flight (recv and sendall alike).
        limit = FORWARD_FLOOR_S + FORWARD_PER_TOKEN_S * 2 * max(len(item) for item in ids)
        try:
            sock.settimeout(limit)
            while sent < min(2, len(ids)):
                send_ids(sock, ids[sent])
                sent += 1
            for index in range(len(ids)):
                status, payload = read_reply(sock)
                if status != OK and not failure:
                    failure = payload.decode(errors="replace")
                if not failure:
                    vectors.append(np.frombuffer(payload, np.float32).tolist())
                    if sent < len(ids):
                        send_ids(sock, ids[sent])
                        sent += 1
                elif index + 1 == sent:
                    break  # every text sent has its reply: the socket stays in step
        except TimeoutError as exc:
            self.process.discard(sock, kill=True)
            raise EngineUnavailable(
                f"Model '{self.model_id}': the numpy embedder's process gave no vectors in"
                f" {limit:g} s and was stopped; the next request starts it again"
            ) from exc
        except (OSError, EOFError) as exc:
            self.process.discard(sock)
            raise EngineUnavailable(
                f"Model '{self.model_id}': the numpy embedder's process exited ({exc})"
            ) from exc
        if failure:
            raise RuntimeError(f"numpy embedder failed: {failure}")
        return vectors


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
    blas_threads = 1 if threads == 1 else threads or os.cpu_count() or 1
    nices = [0] + [spare_nice] * spares
    process = BertProcess(model_dir, nices, blas_threads)
    tokenizer = load_tokenizer(model_dir)
    copies = [
        NumpyBertEngine(
            model_id,
            process,
            index,
            load_on_first_use=load_on_first_use,
            tokenizer=tokenizer,
        )
        for index in range(len(nices))
    ]
    if not spares:
        return copies[0]
    from plinth.engines.spare_core_embedder import SpareCoreEmbedder

    return SpareCoreEmbedder(copies[0], copies[1:])
