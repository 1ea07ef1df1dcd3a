"""Plinth over HTTP versus the same model on bare xllamacpp, in one run.

The reference is a lone bare server: llama.cpp's own HTTP server on xllamacpp
in a process of its own with nothing else loaded, driven by the same HTTP
client as Plinth, which runs at its defaults (bundled embedder loaded); the
two are interleaved (lone first on even repeats, last on odd ones) and every
repeat's tokens/s is kept to show the spread. The in-process sides below stay
as a breakdown.

For each concurrency level, the same streamed chat requests (same prompts,
temperature 0, same seed, same max_tokens) go first to a bare in-process
``xllamacpp.Server`` built with exactly the parameters Plinth's engine uses,
then to a real ``plinth serve`` subprocess over HTTP. Reported per level:
aggregate output tokens/s, TTFT p50/p95, and Plinth's ratio and overhead.
The two sides never run at the same time (they would share the CPU).

    .venv/bin/python benchmarks/local_inference.py            # full run
    .venv/bin/python benchmarks/local_inference.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions

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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def request_body(i: int, max_tokens: int) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 42,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def has_content(chunk: dict[str, Any]) -> bool:
    choices = chunk.get("choices") or []
    return bool(choices and (choices[0].get("delta") or {}).get("content"))


async def run_level(
    side: str, concurrency: int, requests: int, one: Callable[[int], Awaitable[Sample]]
) -> Level:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    samples: list[Sample] = []

    async def worker() -> None:
        while not queue.empty():
            samples.append(await one(queue.get_nowait()))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    tokens = sum(s.output_tokens for s in samples)
    ttfts = [s.ttft_s * 1000 for s in samples]
    return Level(
        side=side,
        concurrency=concurrency,
        requests=requests,
        wall_s=round(wall, 3),
        output_tokens=tokens,
        tokens_per_s=round(tokens / wall, 2),
        ttft_p50_ms=round(percentile(ttfts, 50), 2),
        ttft_p95_ms=round(percentile(ttfts, 95), 2),
        latency_p50_ms=round(percentile([s.latency_s * 1000 for s in samples], 50), 2),
    )


def bare_driver(engine: LlamaCppEngine, max_tokens: int) -> Callable[[int], Awaitable[Sample]]:
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

        body = request_body(i, max_tokens)
        del body["model"]
        server.handle_chat_completions(body, on_chunk)
        end = time.perf_counter()
        return Sample(first[0] - started, end - started, int(usage["completion_tokens"]))

    async def one(i: int) -> Sample:
        return await asyncio.get_running_loop().run_in_executor(pool, blocking, i)

    one.server = server  # type: ignore[attr-defined]  # keeps it alive for the phase
    return one


def engine_driver(engine: LlamaCppEngine, max_tokens: int) -> Callable[[int], Awaitable[Sample]]:
    """Plinth's engine without HTTP: separates the engine's cost from the server's."""

    async def one(i: int) -> Sample:
        body = request_body(i, max_tokens)
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

    return one


def http_driver(client: httpx.AsyncClient, max_tokens: int) -> Callable[[int], Awaitable[Sample]]:
    async def one(i: int) -> Sample:
        started = time.perf_counter()
        first = 0.0
        tokens = 0
        async with client.stream(
            "POST", "/v1/chat/completions", json=request_body(i, max_tokens)
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if not first and has_content(chunk):
                    first = time.perf_counter()
                if chunk.get("usage"):
                    tokens = int(chunk["usage"]["completion_tokens"])
        return Sample(first - started, time.perf_counter() - started, tokens)

    return one


async def sweep(side: str, one: Callable[[int], Awaitable[Sample]], args: Any) -> list[Level]:
    await run_level(side, 2, 2, one)  # warm-up: page in weights, fill caches
    levels = []
    for concurrency in args.concurrency:
        requests = args.requests_per_level or max(8, 4 * concurrency)
        level = await run_level(side, concurrency, requests, one)
        print(
            f"  {side:6} c={concurrency}: {level.tokens_per_s} tok/s, "
            f"TTFT p50 {level.ttft_p50_ms} ms",
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
    options = LlamaCppOptions(args.slots, args.context, 0, 0)
    params = LlamaCppEngine(MODEL, "chat", chat.locate(data_dir, False), options)._params()
    params.port, params.hostnames, params.api_keys = args.serve_bare, ["127.0.0.1"], []
    server = xllamacpp.Server(params)
    signal.pause()  # until the benchmark terminates this process
    del server


def start_lone_bare(args: Any, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "--serve-bare", str(port), "--data-dir", str(data_dir)]
    command += ["--slots", str(args.slots), "--context", str(args.context)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


async def sweep_http(
    side: str, process: subprocess.Popen[bytes], port: int, args: Any
) -> list[Level]:
    """Start-up already begun; wait for it, sweep over HTTP, stop the process."""
    try:
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url, process)
        # Idle connections expire before llama.cpp's own server closes them (5 s), so
        # a sweep never sends on a connection the server is closing.
        limits = httpx.Limits(
            max_connections=64, max_keepalive_connections=64, keepalive_expiry=1.0
        )
        async with httpx.AsyncClient(
            base_url=base_url,
            timeout=120,
            limits=limits,
            headers={"authorization": f"Bearer {ADMIN_KEY}"},
        ) as client:
            return await sweep(side, http_driver(client, args.max_tokens), args)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def start_plinth(args: Any, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PLINTH_ADMIN_KEY": ADMIN_KEY,
        "PLINTH_LLAMACPP__PARALLEL_SLOTS": str(args.slots),
        "PLINTH_LLAMACPP__CONTEXT_PER_SLOT": str(args.context),
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
    deadline = time.monotonic() + 180
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit("plinth serve exited during start-up")
            try:
                if (await client.get(f"{base_url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("plinth serve did not become ready in 180 s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main(args: Any) -> None:
    chat = next(m for m in BUNDLED_MODELS if m.id == MODEL)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="plinth-bench-"))
    options = LlamaCppOptions(args.slots, args.context, 0, 0)
    engine = LlamaCppEngine(MODEL, "chat", chat.locate(data_dir, False), options)
    bare_runs, engine_runs, plinth_runs, lone_runs = [], [], [], []
    for repeat in range(args.repeats):
        # The lone bare server in its own process, before Plinth on even
        # repeats and after it on odd ones (interleaved against drift).
        if repeat % 2 == 0:
            print(f"repeat {repeat + 1}/{args.repeats}: lone bare server", file=sys.stderr)
            port = free_port()
            lone_runs.append(
                await sweep_http("lone", start_lone_bare(args, data_dir, port), port, args)
            )
        print(f"repeat {repeat + 1}/{args.repeats}: bare xllamacpp", file=sys.stderr)
        one = bare_driver(engine, args.max_tokens)
        bare_runs.append(await sweep("bare", one, args))
        del one
        gc.collect()
        print(f"repeat {repeat + 1}/{args.repeats}: Plinth's engine, no HTTP", file=sys.stderr)
        await engine.start()
        engine_runs.append(await sweep("engine", engine_driver(engine, args.max_tokens), args))
        await engine.close()
        engine = LlamaCppEngine(MODEL, "chat", engine.path, options)
        gc.collect()
        print(f"repeat {repeat + 1}/{args.repeats}: plinth over HTTP", file=sys.stderr)
        port = free_port()
        plinth_runs.append(
            await sweep_http("plinth", start_plinth(args, data_dir, port), port, args)
        )
        if repeat % 2 == 1:
            print(f"repeat {repeat + 1}/{args.repeats}: lone bare server", file=sys.stderr)
            port = free_port()
            lone_runs.append(
                await sweep_http("lone", start_lone_bare(args, data_dir, port), port, args)
            )
    report(args, bare_runs, engine_runs, plinth_runs, lone_runs)


def median_level(runs: list[list[Level]], index: int) -> Level:
    """The repeat with the median throughput at this level (keeps its TTFTs together)."""
    candidates = sorted((run[index] for run in runs), key=lambda level: level.tokens_per_s)
    return candidates[len(candidates) // 2]


def report(
    args: Any,
    bare_runs: list[list[Level]],
    engine_runs: list[list[Level]],
    plinth_runs: list[list[Level]],
    lone_runs: list[list[Level]],
) -> None:
    import xllamacpp

    rows = []
    for i, concurrency in enumerate(args.concurrency):
        bare, plinth = median_level(bare_runs, i), median_level(plinth_runs, i)
        engine, lone = median_level(engine_runs, i), median_level(lone_runs, i)
        lone_ratio = plinth.tokens_per_s / lone.tokens_per_s * 100
        ratio = plinth.tokens_per_s / bare.tokens_per_s * 100
        overhead = plinth.ttft_p50_ms - bare.ttft_p50_ms
        rows.append(
            {
                "concurrency": concurrency,
                "bare": asdict(bare),
                "engine": asdict(engine),
                "engine_ratio_pct": round(engine.tokens_per_s / bare.tokens_per_s * 100, 1),
                "plinth": asdict(plinth),
                "throughput_ratio_pct": round(ratio, 1),
                "lone_bare": asdict(lone),
                "lone_ratio_pct": round(lone_ratio, 1),
                "lone_ttft_p50_overhead_ms": round(plinth.ttft_p50_ms - lone.ttft_p50_ms, 2),
                "spread_tokens_per_s": {
                    side: [
                        min(r[i].tokens_per_s for r in runs),
                        max(r[i].tokens_per_s for r in runs),
                    ]
                    for side, runs in (
                        ("lone", lone_runs),
                        ("plinth", plinth_runs),
                        ("bare", bare_runs),
                    )
                },
                "ttft_p50_overhead_ms": round(overhead, 2),
                "throughput_target_met": ratio >= 95.0,
                "ttft_target_met": overhead <= 5.0,
            }
        )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "xllamacpp": xllamacpp.__version__,
        "model": MODEL,
        "command": "python benchmarks/local_inference.py " + " ".join(sys.argv[1:]),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "settings": {
            "slots": args.slots,
            "context_per_slot": args.context,
            "max_tokens": args.max_tokens,
            "repeats": args.repeats,
            "temperature": 0,
            "seed": 42,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "local_inference.json").write_text(
        json.dumps(
            {
                "facts": facts,
                "levels": rows,
                "raw": {
                    "bare": [[asdict(level) for level in run] for run in bare_runs],
                    "engine": [[asdict(level) for level in run] for run in engine_runs],
                    "plinth": [[asdict(level) for level in run] for run in plinth_runs],
                    "lone_bare": [[asdict(level) for level in run] for run in lone_runs],
                },
            },
            indent=2,
        )
        + "\n"
    )
    lines = [
        "# Local inference: Plinth over HTTP vs bare xllamacpp",
        "",
        f"- date: {facts['date']}; CPU: {cpu}, {facts['cores']} cores; "
        f"Python {facts['python']}; xllamacpp {facts['xllamacpp']}",
        f"- model: `{MODEL}`; {args.slots} slots × {args.context} context; "
        f"max_tokens {args.max_tokens}, temperature 0, seed 42; streamed",
        f"- median of {args.repeats} repeats per level (the repeat with the median throughput)",
        f"- command: `{facts['command']}`; load average at the end "
        f"{facts['load_average_at_end']} on {facts['cores']} cores",
        "- lone bare: llama.cpp's own HTTP server on xllamacpp in its own process, nothing"
        " else loaded; Plinth at its defaults (bundled embedder loaded); both over HTTP,"
        " interleaved (lone first on even repeats, last on odd ones)",
        "",
        "| concurrency | lone bare tok/s (min–max) | Plinth tok/s (min–max) | Plinth / lone "
        "| lone TTFT p50 ms | Plinth TTFT p50 ms | TTFT p50 overhead ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lone, plinth, spread = row["lone_bare"], row["plinth"], row["spread_tokens_per_s"]
        lines.append(
            f"| {row['concurrency']} | {lone['tokens_per_s']} ({spread['lone'][0]}–"
            f"{spread['lone'][1]}) | {plinth['tokens_per_s']} ({spread['plinth'][0]}–"
            f"{spread['plinth'][1]}) | {row['lone_ratio_pct']} % | {lone['ttft_p50_ms']} "
            f"| {plinth['ttft_p50_ms']} | {row['lone_ttft_p50_overhead_ms']} |"
        )
    lines += [
        "",
        "In-process bare xllamacpp (the benchmark's own process) and Plinth's engine without HTTP:",
        "",
        "| concurrency | bare tok/s | engine only tok/s (ratio) | Plinth HTTP tok/s | ratio "
        "| bare TTFT p50 / p95 ms | engine TTFT p50 ms | Plinth TTFT p50 / p95 ms "
        "| TTFT p50 overhead ms | targets (≥95 %, ≤5 ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        bare, engine, plinth = row["bare"], row["engine"], row["plinth"]
        verdict = "pass" if row["throughput_target_met"] and row["ttft_target_met"] else "FAIL"
        lines.append(
            f"| {row['concurrency']} | {bare['tokens_per_s']} "
            f"| {engine['tokens_per_s']} ({row['engine_ratio_pct']} %) | {plinth['tokens_per_s']} "
            f"| {row['throughput_ratio_pct']} % | {bare['ttft_p50_ms']} / {bare['ttft_p95_ms']} "
            f"| {engine['ttft_p50_ms']} "
            f"| {plinth['ttft_p50_ms']} / {plinth['ttft_p95_ms']} "
            f"| {row['ttft_p50_overhead_ms']} | {verdict} |"
        )
    (RESULTS / "local_inference.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def parse_args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8]
    )
    parser.add_argument(
        "--requests-per-level", type=int, default=0, help="default: max(8, 4 × concurrency)"
    )
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None, help="reuse a data dir (skips conversion)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 repeat, few requests")
    parser.add_argument("--serve-bare", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path, help="where to write (default results/)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.requests_per_level, args.max_tokens = 1, 4, 32
    return args


if __name__ == "__main__":
    parsed = parse_args()
    if parsed.out_dir is not None:
        RESULTS = parsed.out_dir
    if parsed.serve_bare:
        serve_bare(parsed)
    else:
        asyncio.run(main(parsed))
