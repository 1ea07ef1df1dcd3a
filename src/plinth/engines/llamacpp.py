"""GGUF models in-process on llama.cpp, through xllamacpp's native server.

xllamacpp's ``handle_*`` calls block (with the GIL released) until a request
finishes, so each runs on a worker thread while llama.cpp batches all active
slots together (continuous batching). Stream chunks arrive through a callback
on that thread and are handed to the event loop; the callback's return value
is how a closed client stream cancels generation at the next token.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from plinth.engines import llamacpp_tools
from plinth.engines.base import EmbeddingResult, Engine, Json, ModelKind, closing_stream
from plinth.engines.lazy_load import LoadOnFirstUse, check_loads, until_listening
from plinth.engines.llamacpp_errors import (
    check_input_lengths,
    check_token_ids,
    fit_integers,
    raise_for_engine_error,
    reject_non_text_parts,
)
from plinth.engines.llamacpp_sampling import DEFAULT_MAX_TOKENS, with_sampling_defaults
from plinth.engines.llamacpp_stream import STREAM_END, ChunkStream, Handoff
from plinth.engines.llamacpp_template_caps import native_tool_calls
from plinth.errors import EngineError

log = logging.getLogger(__name__)

# How long close() waits for llama.cpp's destructor (it joins its threads).
_CLOSE_TIMEOUT_S = 15.0
# Templates llama.cpp carries built in (its llama-chat.cpp), long-standing ones.
BUILTIN_CHAT_TEMPLATES = frozenset(
    [
        "chatml",
        "llama2",
        "llama2-sys",
        "llama3",
        "llama4",
        "mistral-v1",
        "mistral-v3",
        "mistral-v7",
        "phi3",
        "phi4",
        "falcon3",
        "zephyr",
        "monarch",
        "gemma",
        "orion",
        "openchat",
        "vicuna",
        "deepseek",
        "deepseek2",
        "deepseek3",
        "command-r",
        "chatglm3",
        "chatglm4",
        "glmedge",
        "minicpm",
        "exaone3",
        "rwkv-world",
        "granite",
        "megrez",
        "yandex",
        "bailing",
        "smolvlm",
    ]
)


def _asks_for_tools(body: Json) -> bool:
    """Tools, a choice of them, or earlier calls or results in the history: only then
    does ``llamacpp_tools`` read the request (a plain chat never enters it)."""
    if "tools" in body or "tool_choice" in body or "parallel_tool_calls" in body:
        return True
    return any(
        isinstance(m, dict) and (m.get("role") == "tool" or "tool_calls" in m)
        for m in body["messages"]
    )


def _prompt_param(method: str) -> str:
    """The request field a context overflow is blamed on."""
    return "prompt" if method == "handle_completions" else "messages"


class TextTokenizer(Protocol):
    """A model's own tokenizer, used where llama.cpp's built-in one differs."""

    max_tokens: int

    def encode_batch(
        self, texts: list[str], *, stop_over: int | None = None
    ) -> list[list[int]]: ...


@dataclass(frozen=True)
class LlamaCppOptions:
    parallel_slots: int = 8
    context_per_slot: int = 2048
    threads: int = 0
    verbosity: int = 0  # llama.cpp's own log: 0 silent, 1 errors, 3 chatty
    # A llama.cpp built-in template name ("gemma", "llama3", …) or a Jinja
    # template's text; None uses the GGUF's own template (ChatML if it has none).
    chat_template: str | None = None
    # How hard llama.cpp's worker threads busy-wait for work (0–100; its own
    # default 50 spins). On cores shared with other processes spinning threads
    # starve each other: the bundled embedder ran 0.8 texts/s at 50 and 19 at
    # 1 thread (benchmarks/results/retrieval_embedding_throughput.md).
    poll: int = 50
    # One KV cache shared by all slots (llama.cpp's kv_unified): n_ctx is then
    # the total, and one request may use all of it; else each slot owns a
    # fixed n_ctx / parallel_slots share.
    kv_unified: bool = False
    # The KV cache's element type ("f16", or "q8_0": about half the memory).
    kv_cache_type: str = "f16"
    # The output limit of a chat or completion request that sets none (0: none,
    # llama.cpp decodes until end of turn or a full slot); see llamacpp_sampling.
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    # Host memory for llama.cpp's cache of prompts' KV states (MiB; 0 off).
    # Its own default, 8192, let RSS grow with every new prompt.
    prompt_cache_mib: int = 256
    # Load at the first request that needs the model instead of at start()
    # (llamacpp.load = "on_first_use"; lazy_load.py).
    load_on_first_use: bool = False
    # The nice value of the engine's threads, llama.cpp's included (they inherit
    # it from the worker thread that starts the server); 19 for spare_core_embedder.
    nice: int = 0
    # How many nice steps below that llama.cpp's own threads run (its decode loop
    # and compute team, made on a thread of their own at nice + compute_nice): on
    # cores they fill, the event loop and the threads that hand tokens over then
    # run as soon as they wake instead of waiting behind the compute.
    compute_nice: int = 0


# Nice is per thread (and inherited by the threads it starts) only on Linux; elsewhere
# PRIO_PROCESS takes a process id, and a thread id there is none: priorities are left alone.
PER_THREAD_NICE = sys.platform.startswith("linux")


def _lower_priority(nice: int) -> None:
    """A worker thread's initializer: on Linux nice is per thread, and inherited."""
    if nice and PER_THREAD_NICE:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def _make_server(params: Any, nice: int) -> Any:
    """``xllamacpp.Server(params)``; above this worker thread's nice, made on a thread
    of its own at ``nice``: the threads llama.cpp starts (its loop, which decodes,
    and its compute team) inherit that thread's nice, the worker threads keep theirs."""
    import xllamacpp

    if not PER_THREAD_NICE or nice <= os.getpriority(os.PRIO_PROCESS, threading.get_native_id()):
        return xllamacpp.Server(params)
    made: list[Any] = []

    def make() -> None:
        try:
            _lower_priority(nice)
            made.append(xllamacpp.Server(params))
        except BaseException as exc:  # noqa: BLE001 - raised on the calling thread below
            made.append(exc)

    thread = threading.Thread(target=make, name="llamacpp-load")
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


class LlamaCppEngine(Engine):
    is_local = True

    def __init__(
        self,
        model_id: str,
        kind: ModelKind,
        path: Path,
        options: LlamaCppOptions,
        *,
        tokenizer: TextTokenizer | None = None,
    ):
        super().__init__(model_id, kind)
        self.path = path
        self.options = options
        self.tokenizer = tokenizer
        self._server: Any = None
        self._loader = LoadOnFirstUse(model_id, self._load)
        # Whether tools go through the model's own chat template (llama.cpp's
        # verdict at load, llamacpp_template_caps) rather than the generic format.
        self.native_tools = False
        # Tokens llama.cpp produced after a stream was cancelled, over the
        # engine's life: the callback stops generation at the next token, so
        # each cancelled stream adds at most one. A test holds it to that.
        self.tokens_after_cancel = 0
        self.active_streams = 0
        self._counters_lock = threading.Lock()
        # One thread per in-flight call: llama.cpp queues beyond its slots itself.
        self._pool = ThreadPoolExecutor(
            max_workers=max(32, 4 * options.parallel_slots),
            thread_name_prefix=f"llamacpp-{model_id}",
            initializer=_lower_priority,
            initargs=(options.nice,),
        )

    def _params(self) -> Any:
        import xllamacpp

        opts = self.options
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.n_parallel = opts.parallel_slots
        params.n_ctx = opts.parallel_slots * opts.context_per_slot
        params.kv_unified = opts.kv_unified
        params.cache_ram_mib = opts.prompt_cache_mib
        cache_type = getattr(xllamacpp.ggml_type, f"GGML_TYPE_{opts.kv_cache_type.upper()}")
        params.cache_type_k = params.cache_type_v = cache_type
        threads = opts.threads or os.cpu_count() or 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.cpuparams.poll = opts.poll
        params.cpuparams_batch.poll = opts.poll
        params.verbosity = opts.verbosity
        params.warmup = False
        params.endpoint_metrics = True
        # xllamacpp also opens llama.cpp's own HTTP listener on loopback, open to
        # anyone and any origin by default. A random per-process key nobody
        # knows closes that door; in-process handle_* calls are unaffected.
        params.api_keys = [secrets.token_urlsafe(32)]
        params.cors_origins = "http://127.0.0.1:1"
        if opts.chat_template:
            params.chat_template = opts.chat_template
            # llama.cpp matches built-in names only outside its Jinja engine;
            # under Jinja a bare name would be rendered as literal text.
            params.use_jinja = opts.chat_template not in BUILTIN_CHAT_TEMPLATES
        if self.kind == "embedding":
            params.embedding = True
            params.embd_normalize = 2  # L2, as OpenAI and sentence-transformers return
        return params

    async def start(self) -> None:
        if not self.options.load_on_first_use:
            await self._load()
            self._loader.loaded = True
        else:  # a broken model still stops start-up (lazy_load.check_loads)
            await check_loads(self.model_id, self.path, self._params)

    @property
    def loaded(self) -> bool:
        return self._loader.loaded

    async def _load(self) -> None:
        params = self._params()
        try:
            self._server = await self._run(_make_server, params, self._compute_nice())
        except RuntimeError as exc:
            raise RuntimeError(
                f"llama.cpp could not load '{self.model_id}' from {self.path}: {exc}"
                " (rerun with --log-level debug for llama.cpp's own log)"
            ) from exc
        # Until llama.cpp's own listener runs, its destructor (close()) could hang
        # for ever joining it (lazy_load.check_loads); a few ms, once per load.
        await self._run(until_listening, self._server.listening_address)
        if self.kind == "chat":
            self.native_tools = await self._run(native_tool_calls, self._server, params)

    def _compute_nice(self) -> int:
        return min(19, self.options.nice + self.options.compute_nice)

    async def close(self) -> None:
        # Dropping the last reference runs llama.cpp's destructor, which joins its
        # loop and HTTP threads: never on the event loop, and never without a bound
        # (a join that hangs, seen once with several servers in one process, would
        # hang shutdown). A daemon thread does it; past the bound it is left behind.
        holder, self._server = [self._server], None
        self._pool.shutdown(wait=False, cancel_futures=True)
        if holder[0] is None:
            return
        released = asyncio.get_running_loop().create_future()

        def settle() -> None:
            if not released.done():
                released.set_result(None)

        def release() -> None:
            holder.clear()
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                released.get_loop().call_soon_threadsafe(settle)

        threading.Thread(
            target=release, name=f"llamacpp-close-{self.model_id}", daemon=True
        ).start()
        try:
            await asyncio.wait_for(asyncio.shield(released), _CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.warning(
                "llama.cpp did not stop '%s' within %.0f s; left to exit with the process",
                self.model_id,
                _CLOSE_TIMEOUT_S,
            )

    def _run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _call(self, method: str, body: Json) -> Json:
        try:
            result: Json = await self._run(getattr(self._server, method), body)
        except RuntimeError as exc:
            raise EngineError(f"Model '{self.model_id}' failed: {exc}") from exc
        raise_for_engine_error(result, self.model_id, prompt_param=_prompt_param(method))
        return result

    def _stream(self, method: str, body: Json) -> AsyncIterator[Json]:
        loop = asyncio.get_running_loop()
        handoff = Handoff(loop)
        cancelled = threading.Event()
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        # Per-chunk timings tell how many tokens were used even when a stream is cut.
        body["timings_per_token"] = True
        prompt_param = _prompt_param(method)

        def on_chunk(chunk: Json) -> bool:
            if cancelled.is_set():
                with self._counters_lock:
                    self.tokens_after_cancel += 1
                return True
            handoff.offer(chunk)
            return False

        def run() -> None:
            try:
                getattr(self._server, method)(body, on_chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the event loop below
                handoff.put(exc)
            finally:
                with self._counters_lock:
                    self.active_streams -= 1
                if not loop.is_closed():
                    handoff.put(STREAM_END)

        def start() -> None:
            with self._counters_lock:
                self.active_streams += 1
            self._pool.submit(run)

        def check(item: Any) -> Json:
            if isinstance(item, RuntimeError):
                raise EngineError(f"Model '{self.model_id}' failed: {item}") from item
            if isinstance(item, BaseException):
                raise item
            raise_for_engine_error(item, self.model_id, prompt_param=prompt_param)
            chunk: Json = item
            return chunk

        return ChunkStream(handoff, start=start, check=check, on_close=cancelled.set)

    def _require(self, kind: ModelKind, what: str) -> None:
        if self.kind != kind:
            raise self._unsupported(what)

    async def _ensure_loaded(self) -> None:
        if not self._loader.loaded:  # loaded (always so with on_start): lazy_load.py not run
            await self._loader.ensure()

    def _after_load(self, make: Callable[[], AsyncIterator[Json]]) -> AsyncIterator[Json]:
        """``make()``'s stream, made once the model is loaded (a load failure is
        raised by the first ``__anext__``, before any chunk, as the gateway expects)."""
        if self._loader.loaded:
            return make()

        async def chunks() -> AsyncIterator[Json]:
            await self._loader.ensure()
            async with closing_stream(make()) as inner:
                async for chunk in inner:
                    yield chunk

        return chunks()

    def _with_defaults(self, body: Json) -> Json:
        return with_sampling_defaults(body, max_tokens=self.options.default_max_tokens)

    async def chat(self, body: Json) -> Json:
        self._require("chat", "chat completions")
        reject_non_text_parts(body)
        await self._ensure_loaded()
        plan = None
        if _asks_for_tools(body):
            body, plan = llamacpp_tools.prepare(body, native=self.native_tools)
        body = self._with_defaults(body)
        result = await self._call("handle_chat_completions", fit_integers(body))
        return result if plan is None else llamacpp_tools.finish_result(result, plan)

    def chat_stream(self, body: Json) -> AsyncIterator[Json]:
        self._require("chat", "chat completions")
        reject_non_text_parts(body)
        # Tool handling reads native_tools, known only once the model is loaded.
        return self._after_load(lambda: self._chat_stream(body))

    def _chat_stream(self, body: Json) -> AsyncIterator[Json]:
        plan = None
        if _asks_for_tools(body):
            body, plan = llamacpp_tools.prepare(body, native=self.native_tools)
        chunks = self._stream("handle_chat_completions", fit_integers(self._with_defaults(body)))
        return chunks if plan is None else llamacpp_tools.finish_stream(chunks, plan)

    async def complete(self, body: Json) -> Json:
        self._require("chat", "text completions")
        await self._ensure_loaded()
        return await self._call("handle_completions", fit_integers(self._with_defaults(body)))

    def complete_stream(self, body: Json) -> AsyncIterator[Json]:
        self._require("chat", "text completions")
        body = fit_integers(self._with_defaults(body))
        return self._after_load(lambda: self._stream("handle_completions", body))

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        self._require("embedding", "embeddings")
        if not isinstance(inputs[0], str):
            check_token_ids(inputs, "input")  # before a lazy load
        await self._ensure_loaded()
        inputs = await self.token_ids(inputs)
        result = await self._call("handle_embeddings", {"input": inputs})
        data = sorted(result["data"], key=lambda item: item["index"])
        usage = result.get("usage") or {}
        return EmbeddingResult(
            vectors=[item["embedding"] for item in data],
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
        )

    async def token_ids(self, inputs: list[str] | list[list[int]]) -> list[str] | list[list[int]]:
        """The model's own token ids for texts, length-checked (texts as they are where
        llama.cpp's built-in tokenizer is used); spare_core_embedder calls it once per call."""
        if not isinstance(inputs[0], str):
            check_token_ids(inputs, "input")
        if self.tokenizer is None:
            return inputs
        if isinstance(inputs[0], str):
            inputs = await self._tokenize(self.tokenizer, inputs)
        check_input_lengths(inputs, self.tokenizer.max_tokens, self.model_id)
        return inputs

    async def _tokenize(self, tokenizer: TextTokenizer, texts: list[str]) -> list[list[int]]:
        """Token ids, on a worker thread: megabytes of input take seconds to tokenize,
        and the event loop must keep answering meanwhile."""
        encode = functools.partial(tokenizer.encode_batch, texts, stop_over=tokenizer.max_tokens)
        ids: list[list[int]] = await self._run(encode)
        return ids

    def describe(self) -> Json:
        return {
            "kind": self.kind,
            "engine": "llamacpp",
            "path": str(self.path),
            "parallel_slots": self.options.parallel_slots,
        }

    def native_metrics(self) -> str:
        """llama.cpp's own Prometheus text (tokens predicted, slots busy…)."""
        return str(self._server.handle_metrics()) if self._server else ""
