"""Plinth over HTTP versus a lone bare xllamacpp server, in one run.

The reference is a lone bare server: llama.cpp's own HTTP server on xllamacpp
in a process of its own with nothing else loaded, driven by the same HTTP
client as Plinth, which runs at its defaults (bundled embedder loaded). The
same streamed chat requests (same prompts, temperature 0, same seed, same
max_tokens, and the lone server given the repetition penalty Plinth adds by
default, so llama.cpp decodes the same tokens on both: ``request_body``) go to
each; reported per concurrency level: aggregate output tokens/s, TTFT p50/p95,
Plinth's ratio and TTFT overhead.

How the sides share the machine: the two never serve at the same time (they
would share the CPU). Each repeat starts both processes afresh and keeps them
up; then at each concurrency level they take turns in blocks, A-B-B-A (which
side goes first alternates by level and by repeat), so that a drift of the
machine within a level (another VM on the host, a warming CPU) falls on both
sides alike. Per level and side, the blocks of every repeat are pooled:
tokens/s is all tokens over all block time, TTFT p50 the median of all
requests. The spread is shown per pair of blocks that ran next to each other
(Plinth / lone of each pair, and the TTFT overhead of each pair), and as a
90 % bootstrap interval of the pooled ratio over those pairs. Short blocks in
turn, rather than one long sweep per side and repeat, matter on a small VM:
back-to-back sweeps of the same lone server differed by 10-20 %.

``--breakdown`` adds two in-process sides (bare ``xllamacpp.Server`` built with
exactly the parameters Plinth's engine uses, and Plinth's engine without
HTTP); they double the run's length, so they are off by default.

A transport error must not lose a run: each side starts on a fresh client
with a readiness request (retried until the server answers), a request that
failed before any byte of its response arrived is retried (and counted, per
side, in the results), and a run that fails anyway writes what it has to
``local_inference_partial.json`` with the error and the server's state.

    .venv/bin/python benchmarks/local_inference.py            # full run (3 repeats)
    .venv/bin/python benchmarks/local_inference.py --quick    # smoke run
    .venv/bin/python benchmarks/local_inference.py --probe-keepalive  # the drop's cause
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.engines.llamacpp_sampling import REPEAT_LAST_N, REPEAT_PENALTY

MODEL = "smollm2-135m-instruct"
ADMIN_KEY = "sk-plinth-bench-0123456789"
RESULTS = Path(__file__).parent / "results"
PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle works to a child.",
    "List some ideas for a rainy weekend.",
    "Describe the water cycle in simple words.",
    "What makes a good cup of tea?",
    "Tell me about the history of paper.",
    "Give advice for learning a new language.",
    "Describe a busy market in the morning.",
]
# A request that failed before any byte of its answer arrived is sent again, at
# most this many times; one that failed after bytes arrived fails the run.
RETRIES = 3
# How long a fresh server may take to answer its first chat request.
READY_TIMEOUT_S = 180.0


@dataclass
class Sample:
    ttft_s: float
    latency_s: float
    output_tokens: int


@dataclass
class Level:
    side: str
    concurrency: int
    requests: int
    wall_s: float
    output_tokens: int
    tokens_per_s: float
    ttft_p50_ms: float
    ttft_p95_ms: float
    latency_p50_ms: float
    # Requests sent again after a transport error before any byte of their answer.
    retries: int = 0
    # Every request's TTFT and latency: blocks are pooled per side (``pooled``).
    ttfts_ms: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The level without its per-request lists (those stay in the raw results)."""
        return {k: v for k, v in asdict(self).items() if k not in ("ttfts_ms", "latencies_ms")}


@dataclass
class TransportLog:
    """Every transport error of the run: what failed, where, and the server's state."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, side: str, stage: str, exc: BaseException, server: Any = None) -> None:
        exit_code = server.poll() if isinstance(server, subprocess.Popen) else None
        self.events.append(
            {
                "side": side,
                "stage": stage,
                "error": f"{type(exc).__name__}: {exc}",
                "at": datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3],
                # None: the server process still runs (it closed the connection);
                # a number: it had exited (crashed) by then.
                "server_exit_code": exit_code,
            }
        )
        print(
            f"  transport error ({side}, {stage}): {exc!r}; server exit {exit_code}",
            file=sys.stderr,
        )


TRANSPORT = TransportLog()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


#: The sides that are llama.cpp without Plinth in front (its own HTTP server, or
#: xllamacpp called in this process).
BARE_SIDES = ("lone", "bare")


def request_body(i: int, max_tokens: int, side: str) -> dict[str, Any]:
    """The request ``side`` gets; llama.cpp decodes the same thing on every side.

    Plinth adds its repetition penalty (``llamacpp_sampling``) to a request that
    names none; llama.cpp's own server adds none. So the sides used to sample
    differently: other texts and lengths (985 against 952 tokens per c=1
    level), another KV cache left in each slot and so other prompt-cache reuse
    and slot choices for the next requests (a 38-token cache hit answers in
    ~16 ms, a 24-token one in ~100), and the penalty's own cost (~1 % of
    llama.cpp's samples in ``perf``) on Plinth's side only. The bare sides get
    the penalty Plinth gives llama.cpp by default, in llama.cpp's own fields
    (Plinth's OpenAI API refuses them); Plinth gets the request as before, at
    its defaults. Nothing else of Plinth's body for llama.cpp is copied
    (``timings_per_token`` is Plinth's bookkeeping, at its cost).
    """
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 42,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if side in BARE_SIDES:
        body |= {"repeat_penalty": REPEAT_PENALTY, "repeat_last_n": REPEAT_LAST_N}
    return body


def has_content(chunk: dict[str, Any]) -> bool:
    choices = chunk.get("choices") or []
    return bool(choices and (choices[0].get("delta") or {}).get("content"))


class StreamReader:
    """A streamed answer's first-content time and its usage, read with little CPU.

    The client shares the two cores with the server it drives, and on a core that
    llama.cpp's threads fill, CPU it spends per token stalls a compute thread (and
    its partner, waiting at the next barrier): so it decodes events only until the
    first content, then keeps bytes and decodes the usage event at the end.
    """

    #: Enough of the stream's end to hold its usage event and [DONE].
    TAIL = 16384

    def __init__(self) -> None:
        self.first = 0.0
        self._head = b""
        self._tail = b""

    def feed(self, piece: bytes) -> None:
        if self.first:
            self._tail = (self._tail + piece)[-self.TAIL :]
            return
        self._head += piece
        events = self._head.split(b"\n\n")
        for event in events[:-1]:
            data = event.strip()
            if data.startswith(b"data: {") and has_content(json.loads(data[6:])):
                self.first = time.perf_counter()
                self._tail = b"\n\n".join(events[events.index(event) + 1 :])[-self.TAIL :]
                return

    def tokens(self) -> int:
        """completion_tokens of the stream's usage event (0 if it sent none)."""
        for event in reversed((self._head + self._tail).split(b"\n\n")):
            data = event.strip()
            if data.startswith(b"data: {") and b'"usage"' in data:
                usage = json.loads(data[6:]).get("usage")
                if usage:
                    return int(usage["completion_tokens"])
        return 0


class Driver:
    """One request at a time per call; ``retries`` counts requests sent again."""

    def __init__(self, one: Callable[[int], Awaitable[Sample]]):
        self.one = one
        self.retries = 0

    async def __call__(self, i: int) -> Sample:
        return await self.one(i)


async def run_level(side: str, concurrency: int, requests: int, driver: Driver) -> Level:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    samples: list[Sample] = []
    retries_before = driver.retries

    async def worker() -> None:
        while not queue.empty():
            samples.append(await driver(queue.get_nowait()))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return level_of(
        side,
        concurrency,
        wall,
        [s.output_tokens for s in samples],
        [s.ttft_s * 1000 for s in samples],
        [s.latency_s * 1000 for s in samples],
        driver.retries - retries_before,
    )


def level_of(
    side: str,
    concurrency: int,
    wall: float,
    tokens: list[int],
    ttfts_ms: list[float],
    latencies_ms: list[float],
    retries: int,
) -> Level:
    return Level(
        side=side,
        concurrency=concurrency,
        requests=len(tokens),
        wall_s=round(wall, 3),
        output_tokens=sum(tokens),
        tokens_per_s=round(sum(tokens) / wall, 2),
        ttft_p50_ms=round(percentile(ttfts_ms, 50), 2),
        ttft_p95_ms=round(percentile(ttfts_ms, 95), 2),
        latency_p50_ms=round(percentile(latencies_ms, 50), 2),
        retries=retries,
        ttfts_ms=[round(t, 2) for t in ttfts_ms],
        latencies_ms=[round(t, 2) for t in latencies_ms],
    )


def pooled(blocks: list[Level]) -> Level:
    """One side's blocks at one level as one: all tokens over all block time, and the
    percentiles of all requests."""
    first = blocks[0]
    return level_of(
        first.side,
        first.concurrency,
        sum(b.wall_s for b in blocks),
        [b.output_tokens for b in blocks],
        [t for b in blocks for t in b.ttfts_ms],
        [t for b in blocks for t in b.latencies_ms],
        sum(b.retries for b in blocks),
    )


def plinth_chat_options(args: Any, verbosity: int = 0) -> LlamaCppOptions:
    """The chat model's options as ``plinth serve`` builds them from its default settings
    (KV cache type, prompt cache, ...), with this run's slots, context and threads: the
    lone server and the in-process sides run exactly Plinth's ``CommonParams``."""
    from plinth.settings import LlamaCppSettings

    llama = LlamaCppSettings()
    return LlamaCppOptions(
        args.slots,
        args.context,
        args.threads,
        verbosity,
        kv_unified=llama.kv_unified,
        kv_cache_type=llama.kv_cache_type,
        default_max_tokens=llama.default_max_tokens,
        prompt_cache_mib=llama.prompt_cache_mib,
    )


def engine_options(args: Any) -> LlamaCppOptions:
    return plinth_chat_options(args)


def bare_driver(engine: LlamaCppEngine, max_tokens: int) -> Driver:
    """One request on bare xllamacpp: the blocking call on a worker thread, as Plinth does."""
    import xllamacpp

    server = xllamacpp.Server(engine._params())
    pool = ThreadPoolExecutor(max_workers=64)

    def blocking(i: int) -> Sample:
        started = time.perf_counter()
        first: list[float] = []
        usage: dict[str, Any] = {}

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if not first and has_content(chunk):
                first.append(time.perf_counter())
            if chunk.get("usage"):
                usage.update(chunk["usage"])
            return False

        body = request_body(i, max_tokens, "bare")
        del body["model"]
        server.handle_chat_completions(body, on_chunk)
        end = time.perf_counter()
        return Sample(first[0] - started, end - started, int(usage["completion_tokens"]))

    async def one(i: int) -> Sample:
        return await asyncio.get_running_loop().run_in_executor(pool, blocking, i)

    driver = Driver(one)
    driver.server = server  # type: ignore[attr-defined]  # keeps it alive for the phase
    return driver


def engine_driver(engine: LlamaCppEngine, max_tokens: int) -> Driver:
    """Plinth's engine without HTTP: separates the engine's cost from the server's."""

    async def one(i: int) -> Sample:
        body = request_body(i, max_tokens, "engine")
        del body["model"]
        started = time.perf_counter()
        first = 0.0
        tokens = 0
        async for chunk in engine.chat_stream(body):
            if not first and has_content(chunk):
                first = time.perf_counter()
            if chunk.get("usage"):
                tokens = int(chunk["usage"]["completion_tokens"])
        return Sample(first - started, time.perf_counter() - started, tokens)

    return Driver(one)


def http_driver(
    side: str, client: httpx.AsyncClient, max_tokens: int, server: subprocess.Popen[bytes]
) -> Driver:
    """Streamed requests over HTTP; one that failed before any byte is sent again."""

    async def attempt(i: int, started: float, answered: list[bool]) -> Sample:
        reader = StreamReader()
        async with client.stream(
            "POST", "/v1/chat/completions", json=request_body(i, max_tokens, side)
        ) as response:
            answered.append(True)  # a status line came: from here on, no retry
            response.raise_for_status()
            async for piece in response.aiter_raw():
                reader.feed(piece)
        return Sample(reader.first - started, time.perf_counter() - started, reader.tokens())

    async def one(i: int) -> Sample:
        # The clock starts at the first try: a retried request's time includes the
        # failed try (for the side that dropped it, never flattering).
        started = time.perf_counter()
        for tries in range(RETRIES + 1):
            answered: list[bool] = []
            try:
                return await attempt(i, started, answered)
            except httpx.TransportError as exc:
                TRANSPORT.add(side, f"request {i}, try {tries + 1}", exc, server)
                if answered or tries == RETRIES or server.poll() is not None:
                    raise
                driver.retries += 1
        raise AssertionError("unreachable")

    driver = Driver(one)
    return driver


async def ready_request(
    side: str, client: httpx.AsyncClient, server: subprocess.Popen[bytes]
) -> int:
    """A 1-token chat request on the sweep's own client, sent until it is answered.

    ``/health`` says 200 once the model is loaded; this proves the whole
    request path (and warms the client's first connection). Returns how many
    tries failed before the answer.
    """
    deadline = time.monotonic() + READY_TIMEOUT_S
    failed = 0
    body = {**request_body(0, 1, side), "stream": False}
    del body["stream_options"]
    while True:
        try:
            response = await client.post("/v1/chat/completions", json=body)
            response.raise_for_status()
            return failed
        except httpx.TransportError as exc:
            TRANSPORT.add(side, "readiness request", exc, server)
            failed += 1
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def sweep(side: str, driver: Driver, args: Any) -> list[Level]:
    await run_level(side, 2, 2, driver)  # warm-up: page in weights, fill caches
    levels = []
    for concurrency in args.concurrency:
        # One sweep per repeat: as many requests as the HTTP sides' blocks together.
        requests = (args.requests_per_block or max(4, 2 * concurrency)) * args.blocks
        level = await run_level(side, concurrency, requests, driver)
        retried = f", {level.retries} retried" if level.retries else ""
        print(
            f"  {side:6} c={concurrency}: {level.tokens_per_s} tok/s, "
            f"TTFT p50 {level.ttft_p50_ms} ms{retried}",
            file=sys.stderr,
        )
        levels.append(level)
    return levels


def serve_bare(args: Any) -> None:
    """Child mode: a lone bare xllamacpp server (llama.cpp's own HTTP), nothing else loaded."""
    import signal

    import xllamacpp

    chat = next(m for m in BUNDLED_MODELS if m.id == MODEL)
    data_dir = Path(args.data_dir)
    options = plinth_chat_options(args, verbosity=args.lone_verbosity)
    params = LlamaCppEngine(MODEL, "chat", chat.locate(data_dir, False), options)._params()
    params.port, params.hostnames, params.api_keys = args.serve_bare, ["127.0.0.1"], []
    server = xllamacpp.Server(params)
    signal.pause()  # until the benchmark terminates this process
    del server


def start_lone_bare(args: Any, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "--serve-bare", str(port), "--data-dir", str(data_dir)]
    command += ["--slots", str(args.slots), "--context", str(args.context)]
    command += ["--threads", str(args.threads), "--lone-verbosity", str(args.lone_verbosity)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def http_client(base_url: str, side: str) -> httpx.AsyncClient:
    """The sweep's client. llama.cpp's own server closes the connection after every
    streamed response although its headers say ``Keep-Alive: timeout=5, max=100``
    (``--probe-keepalive`` shows it); a client that takes the connection back
    into its pool then races the close, and a request that wins the race is
    "disconnected without a response". So the lone side opens a connection per
    request (what the server does anyway), and Plinth (uvicorn keeps them) reuses."""
    keep = 0 if side == "lone" else 64
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=keep)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=120,
        limits=limits,
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_plinth(args: Any, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PLINTH_ADMIN_KEY": ADMIN_KEY,
        "PLINTH_LLAMACPP__PARALLEL_SLOTS": str(args.slots),
        "PLINTH_LLAMACPP__CONTEXT_PER_SLOT": str(args.context),
        "PLINTH_LLAMACPP__THREADS": str(args.threads),
        "PLINTH_LOG_LEVEL": "warning",
    }
    command = [
        sys.executable,
        "-m",
        "plinth",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


async def wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the server exited during start-up ({process.returncode})")
            try:
                if (await client.get(f"{base_url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"the server did not become ready in {READY_TIMEOUT_S:.0f} s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: The two HTTP sides, in the order that goes first on even-numbered levels of
#: even-numbered repeats.
HTTP_SIDES = ("lone", "plinth")


@dataclass
class Runs:
    """Every repeat's blocks per side, as the run goes (what a failed run still writes).

    ``lone`` and ``plinth``: per repeat, per level, the side's blocks in the order they
    ran; block k of one side ran next to block k of the other. ``bare`` and ``engine``
    (``--breakdown``): per repeat, per level, one sweep.
    """

    lone: list[list[list[Level]]] = field(default_factory=list)
    plinth: list[list[list[Level]]] = field(default_factory=list)
    bare: list[list[Level]] = field(default_factory=list)
    engine: list[list[Level]] = field(default_factory=list)
    not_ready: dict[str, list[int]] = field(default_factory=lambda: {"lone": [], "plinth": []})

    def raw(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lone_bare": [[[asdict(b) for b in lv] for lv in run] for run in self.lone],
            "plinth": [[[asdict(b) for b in lv] for lv in run] for run in self.plinth],
        }
        if self.bare:
            for side, runs in (("bare", self.bare), ("engine", self.engine)):
                out[side] = [[asdict(lv) for lv in run] for run in runs]
        return out


def block_order(repeat: int, level: int, blocks: int) -> list[str]:
    """A-B, B-A, A-B, ... with A the side that goes first at this level of this repeat."""
    a, b = HTTP_SIDES if (repeat + level) % 2 == 0 else HTTP_SIDES[::-1]
    order: list[str] = []
    for k in range(blocks):
        order += [a, b] if k % 2 == 0 else [b, a]
    return order


async def http_repeat(args: Any, data_dir: Path, runs: Runs, repeat: int) -> None:
    """Both servers started afresh and kept up; every level in blocks, in turns."""
    print(f"repeat {repeat + 1}/{args.repeats}: starting both servers", file=sys.stderr)
    ports = {side: free_port() for side in HTTP_SIDES}
    processes = {
        "lone": start_lone_bare(args, data_dir, ports["lone"]),
        "plinth": start_plinth(args, data_dir, ports["plinth"]),
    }
    mine = {"lone": runs.lone, "plinth": runs.plinth}
    try:
        async with contextlib.AsyncExitStack() as stack:
            drivers: dict[str, Driver] = {}
            for side, process in processes.items():
                base_url = f"http://127.0.0.1:{ports[side]}"
                await wait_ready(base_url, process)
                client = await stack.enter_async_context(http_client(base_url, side))
                runs.not_ready[side].append(await ready_request(side, client, process))
                drivers[side] = http_driver(side, client, args.max_tokens, process)
                await run_level(side, 2, 2, drivers[side])  # warm-up: page in, fill caches
                mine[side].append([])
            per_block = args.requests_per_block
            for i, concurrency in enumerate(args.concurrency):
                requests = per_block or max(4, 2 * concurrency)
                for side in HTTP_SIDES:
                    mine[side][-1].append([])
                for side in block_order(repeat, i, args.blocks):
                    level = await run_level(side, concurrency, requests, drivers[side])
                    mine[side][-1][-1].append(level)
                    retried = f", {level.retries} retried" if level.retries else ""
                    print(
                        f"  {side:6} c={concurrency}: {level.tokens_per_s} tok/s, "
                        f"TTFT p50 {level.ttft_p50_ms} ms{retried}",
                        file=sys.stderr,
                    )
    finally:
        for process in processes.values():
            stop(process)


async def in_process_sides(args: Any, chat_path: Path, runs: Runs, repeat: int) -> None:
    """The breakdown: bare xllamacpp and Plinth's engine, both in this process."""
    engine = LlamaCppEngine(MODEL, "chat", chat_path, engine_options(args))
    print(f"repeat {repeat + 1}/{args.repeats}: bare xllamacpp in-process", file=sys.stderr)
    driver = bare_driver(engine, args.max_tokens)
    runs.bare.append(await sweep("bare", driver, args))
    del driver
    gc.collect()
    print(f"repeat {repeat + 1}/{args.repeats}: Plinth's engine, no HTTP", file=sys.stderr)
    await engine.start()
    runs.engine.append(await sweep("engine", engine_driver(engine, args.max_tokens), args))
    await engine.close()
    gc.collect()


async def main(args: Any, runs: Runs) -> None:
    chat = next(m for m in BUNDLED_MODELS if m.id == MODEL)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="plinth-bench-"))
    chat_path = chat.locate(data_dir, False)
    for repeat in range(args.repeats):
        await http_repeat(args, data_dir, runs, repeat)
        if args.breakdown:
            await in_process_sides(args, chat_path, runs, repeat)


def median_level(runs: list[list[Level]], index: int) -> Level:
    """The repeat with the median throughput at this level (keeps its TTFTs together)."""
    candidates = sorted((run[index] for run in runs), key=lambda level: level.tokens_per_s)
    return candidates[len(candidates) // 2]


def paired_blocks(runs: Runs, index: int) -> list[tuple[Level, Level]]:
    """(lone, Plinth) blocks of level ``index`` that ran next to each other."""
    pairs: list[tuple[Level, Level]] = []
    for lone_run, plinth_run in zip(runs.lone, runs.plinth, strict=False):
        if index < len(lone_run) and index < len(plinth_run):
            pairs += zip(lone_run[index], plinth_run[index], strict=False)
    return pairs


def bootstrap_intervals(
    pairs: list[tuple[Level, Level]], rounds: int = 2000
) -> tuple[list[float], list[float]]:
    """90 % intervals of the pooled ratio (%) and TTFT p50 overhead (ms), the pairs
    resampled with replacement (seeded: the same run gives the same interval)."""
    rng = random.Random(0)
    ratios, overheads = [], []
    for _ in range(rounds):
        pick = [rng.choice(pairs) for _ in pairs]
        lone, plinth = pooled([p[0] for p in pick]), pooled([p[1] for p in pick])
        ratios.append(plinth.tokens_per_s / lone.tokens_per_s * 100)
        overheads.append(plinth.ttft_p50_ms - lone.ttft_p50_ms)
    return (
        [round(percentile(ratios, 5), 1), round(percentile(ratios, 95), 1)],
        [round(percentile(overheads, 5), 2), round(percentile(overheads, 95), 2)],
    )


def level_rows(args: Any, runs: Runs) -> list[dict[str, Any]]:
    rows = []
    for i, concurrency in enumerate(args.concurrency):
        pairs = paired_blocks(runs, i)
        if not pairs:
            continue
        lone, plinth = pooled([p[0] for p in pairs]), pooled([p[1] for p in pairs])
        ratio = plinth.tokens_per_s / lone.tokens_per_s * 100
        overhead = plinth.ttft_p50_ms - lone.ttft_p50_ms
        ratio_interval, overhead_interval = bootstrap_intervals(pairs)
        row: dict[str, Any] = {
            "concurrency": concurrency,
            "blocks_per_side": len(pairs),
            "lone_bare": lone.summary(),
            "plinth": plinth.summary(),
            "lone_ratio_pct": round(ratio, 1),
            "lone_ratio_interval_90_pct": ratio_interval,
            "lone_ttft_p50_overhead_ms": round(overhead, 2),
            "lone_ttft_p50_overhead_interval_90_ms": overhead_interval,
            "per_pair_ratio_pct": [
                round(p.tokens_per_s / lo.tokens_per_s * 100, 1) for lo, p in pairs
            ],
            "per_pair_ttft_p50_overhead_ms": [
                round(p.ttft_p50_ms - lo.ttft_p50_ms, 2) for lo, p in pairs
            ],
            "spread_tokens_per_s": {
                side: [min(b.tokens_per_s for b in bs), max(b.tokens_per_s for b in bs)]
                for side, bs in (
                    ("lone", [p[0] for p in pairs]),
                    ("plinth", [p[1] for p in pairs]),
                )
            },
            "retries": {"lone": lone.retries, "plinth": plinth.retries},
            "throughput_target_met": ratio >= 95.0,
            "ttft_target_met": overhead <= 5.0,
        }
        complete = [run for run in runs.bare if i < len(run)]
        engines = [run for run in runs.engine if i < len(run)]
        if complete and engines:
            bare, engine = median_level(complete, i), median_level(engines, i)
            row |= {
                "bare": bare.summary(),
                "engine": engine.summary(),
                "engine_ratio_pct": round(engine.tokens_per_s / bare.tokens_per_s * 100, 1),
                "throughput_ratio_pct": round(plinth.tokens_per_s / bare.tokens_per_s * 100, 1),
                "ttft_p50_overhead_ms": round(plinth.ttft_p50_ms - bare.ttft_p50_ms, 2),
            }
        rows.append(row)
    return rows


def facts_of(args: Any, started: float) -> dict[str, Any]:
    import xllamacpp

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "xllamacpp": xllamacpp.__version__,
        "model": MODEL,
        "command": "python benchmarks/local_inference.py " + " ".join(sys.argv[1:]),
        "run_s": round(time.monotonic() - started, 1),
        "load_average_at_start": args.load_at_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "settings": {
            "slots": args.slots,
            "context_per_slot": args.context,
            "threads": args.threads or "Plinth's default (all cores)",
            "max_tokens": args.max_tokens,
            "repeats": args.repeats,
            "blocks_per_side_per_repeat": args.blocks,
            "requests_per_block": args.requests_per_block or "max(4, 2 x concurrency)",
            "temperature": 0,
            "seed": 42,
        },
    }


def write_partial(args: Any, runs: Runs, started: float, exc: BaseException) -> Path:
    """What a failed run measured, the error and every transport error, for the post-mortem."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "local_inference_partial.json"
    out = {
        "facts": facts_of(args, started),
        "error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
        "levels_so_far": level_rows(args, runs),
        "transport_errors": TRANSPORT.events,
        "readiness_failures": runs.not_ready,
        "raw": runs.raw(),
    }
    path.write_text(json.dumps(out, indent=2) + "\n")
    return path


def report(args: Any, runs: Runs, started: float) -> None:
    rows = level_rows(args, runs)
    facts = facts_of(args, started)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "local_inference.json").write_text(
        json.dumps(
            {
                "facts": facts,
                "levels": rows,
                "transport_errors": TRANSPORT.events,
                "readiness_failures": runs.not_ready,
                "raw": runs.raw(),
            },
            indent=2,
        )
        + "\n"
    )
    retried = sum(sum(row["retries"].values()) for row in rows)
    lines = [
        "# Local inference: Plinth over HTTP vs a lone bare xllamacpp server",
        "",
        f"- date: {facts['date']}; CPU: {facts['cpu']}, {facts['cores']} cores; "
        f"Python {facts['python']}; xllamacpp {facts['xllamacpp']}",
        f"- model: `{MODEL}`; {args.slots} slots × {args.context} context; "
        f"max_tokens {args.max_tokens}, temperature 0, seed 42; streamed; "
        f"llama.cpp threads: {facts['settings']['threads']}",
        f"- {args.repeats} repeats, each with both servers started afresh; at each level"
        f" {args.blocks} blocks per side per repeat, in turns A-B-B-A (the side going first"
        " alternates by level and repeat); per level and side the blocks pooled (all tokens"
        " over all block time, the median of all requests' TTFTs), min–max over the blocks;"
        " per pair: Plinth / lone and the TTFT overhead of two blocks that ran next to each"
        " other; [a, b]: 90 % bootstrap interval over the pairs",
        f"- command: `{facts['command']}`; {facts['run_s']} s; load average at the start "
        f"{facts['load_average_at_start']}, at the end {facts['load_average_at_end']} "
        f"on {facts['cores']} cores",
        "- lone bare: llama.cpp's own HTTP server on xllamacpp in its own process, nothing"
        " else loaded, with exactly the parameters Plinth's chat engine gets from its default"
        " settings (KV cache type included); Plinth at its defaults (bundled embedder"
        " loaded); both over HTTP",
        f"- transport errors: {len(TRANSPORT.events)} ({retried} requests retried; "
        f"readiness tries that failed: {runs.not_ready})",
        "",
        "| concurrency | lone bare tok/s (min–max) | Plinth tok/s (min–max) | Plinth / lone "
        "[90 % interval] (per pair) | lone TTFT p50 ms | Plinth TTFT p50 ms | TTFT p50 "
        "overhead ms [90 % interval] (per pair) | targets (≥ 95 %, ≤ 5 ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lone, plinth, spread = row["lone_bare"], row["plinth"], row["spread_tokens_per_s"]
        verdict = "pass" if row["throughput_target_met"] and row["ttft_target_met"] else "FAIL"
        per_ratio = ", ".join(f"{x}" for x in row["per_pair_ratio_pct"])
        per_ttft = ", ".join(f"{x:+}" for x in row["per_pair_ttft_p50_overhead_ms"])
        low, high = row["lone_ratio_interval_90_pct"]
        t_low, t_high = row["lone_ttft_p50_overhead_interval_90_ms"]
        lines.append(
            f"| {row['concurrency']} | {lone['tokens_per_s']} ({spread['lone'][0]}–"
            f"{spread['lone'][1]}) | {plinth['tokens_per_s']} ({spread['plinth'][0]}–"
            f"{spread['plinth'][1]}) | {row['lone_ratio_pct']} % [{low}, {high}] ({per_ratio}) "
            f"| {lone['ttft_p50_ms']} | {plinth['ttft_p50_ms']} "
            f"| {row['lone_ttft_p50_overhead_ms']:+} [{t_low:+}, {t_high:+}] ({per_ttft}) "
            f"| {verdict} |"
        )
    if runs.bare and runs.engine:
        lines += [
            "",
            "In-process bare xllamacpp (the benchmark's own process) and Plinth's engine"
            " without HTTP (`--breakdown`):",
            "",
            "| concurrency | bare tok/s | engine only tok/s (ratio) | Plinth HTTP / bare "
            "| bare TTFT p50 / p95 ms | engine TTFT p50 ms |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in rows:
            bare, engine = row["bare"], row["engine"]
            lines.append(
                f"| {row['concurrency']} | {bare['tokens_per_s']} "
                f"| {engine['tokens_per_s']} ({row['engine_ratio_pct']} %) "
                f"| {row['throughput_ratio_pct']} % "
                f"| {bare['ttft_p50_ms']} / {bare['ttft_p95_ms']} | {engine['ttft_p50_ms']} |"
            )
    (RESULTS / "local_inference.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def closed_after_response(port: int, stream: bool) -> dict[str, Any]:
    """One chat request on a raw keep-alive socket: the response's connection headers,
    and whether the server closed the socket once the response was complete."""
    import socket

    body = json.dumps({**request_body(0, 4, "lone"), "stream": stream}).encode()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head + body)
        data = b""
        while not (
            (stream and b"[DONE]" in data and data.endswith(b"\r\n0\r\n\r\n"))
            or (not stream and b"\r\n\r\n" in data and data.endswith(b"}"))
        ):
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
        headers = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
        sock.settimeout(2.0)
        started = time.perf_counter()
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return {
            "stream": stream,
            "connection_headers": [
                h for h in headers if h.lower().startswith(("connection", "keep-alive"))
            ],
            "server_closed_after_response": closed,
            "closed_within_ms": round((time.perf_counter() - started) * 1000, 2)
            if closed
            else None,
        }


async def probe_keepalive(args: Any, data_dir: Path) -> None:
    """Why the lone server "dropped" requests: does it keep a connection it says it keeps?

    A non-streamed and a streamed request, each on a raw socket, to a lone
    server; written to ``local_inference_keepalive.json``.
    """
    port = free_port()
    process = start_lone_bare(args, data_dir, port)
    try:
        await wait_ready(f"http://127.0.0.1:{port}", process)
        checks = [
            await asyncio.to_thread(closed_after_response, port, stream)
            for stream in (False, True, False, True)
        ]
    finally:
        stop(process)
    for check in checks:
        print(f"  {check}", file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    out = {
        "facts": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python benchmarks/local_inference.py " + " ".join(sys.argv[1:]),
        },
        "checks": checks,
    }
    (RESULTS / "local_inference_keepalive.json").write_text(json.dumps(out, indent=2) + "\n")


def parse_args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8]
    )
    parser.add_argument(
        "--requests-per-block", type=int, default=0, help="default: max(4, 2 × concurrency)"
    )
    parser.add_argument(
        "--blocks", type=int, default=2, help="blocks per side per level in each repeat"
    )
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="llama.cpp threads on both sides (default 0: Plinth's default, all cores; "
        "1 keeps a loaded machine's numbers meaningful: 2 threads on 2 busy cores "
        "spend their time in OpenMP barriers)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None, help="reuse a data dir (skips conversion)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 repeat, few requests")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also the in-process sides (bare xllamacpp, Plinth's engine without HTTP)",
    )
    parser.add_argument(
        "--probe-keepalive",
        action="store_true",
        help="only check whether the lone server closes connections after a response",
    )
    parser.add_argument("--lone-verbosity", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path, help="where to write (default results/)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.requests_per_block, args.max_tokens = 1, 2, 32
    args.load_at_start = [round(x, 2) for x in os.getloadavg()]
    return args


def run(args: Any) -> None:
    if args.probe_keepalive:
        data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="plinth-bench-"))
        asyncio.run(probe_keepalive(args, data_dir))
        return
    runs, started = Runs(), time.monotonic()
    try:
        asyncio.run(main(args, runs))
    except BaseException as exc:
        path = write_partial(args, runs, started, exc)
        print(f"run failed ({exc!r}); what it measured is in {path}", file=sys.stderr)
        raise
    report(args, runs, started)


if __name__ == "__main__":
    parsed = parse_args()
    if parsed.out_dir is not None:
        RESULTS = parsed.out_dir
    if parsed.serve_bare:
        serve_bare(parsed)
    else:
        run(parsed)
