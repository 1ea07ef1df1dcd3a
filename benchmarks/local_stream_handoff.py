"""What one streamed token costs outside llama.cpp's compute, piece by piece, in one process.

Plinth streams a local model's tokens through xllamacpp: a blocking
``handle_chat_completions`` call on a worker thread, whose callback runs once
per chunk (with the GIL) and hands the chunk to the event loop
(``llamacpp_stream.Handoff``), which shapes it and writes it to the client.
This script measures the CPU per chunk of each thread on that path, with
nothing else running in the process, so the pieces can be told apart:

- ``trivial``: xllamacpp's own path, the callback only counts (the floor any
  in-process use of xllamacpp pays: llama.cpp's result queue, the chunk's JSON,
  its conversion to a dict, the GIL taken for the callback);
- ``bytes``: the same with the request given as JSON bytes, so xllamacpp hands
  each chunk over as llama.cpp's bytes instead of building a dict;
- ``handoff``: the callback puts the chunk in a ``Handoff`` and the event loop
  (uvloop, as ``plinth serve`` runs) takes it: the hand-off's cost on both threads;
- ``engine``: Plinth's ``LlamaCppEngine.chat_stream`` read by ``async for``
  (the hand-off plus the engine's checks; no gateway, no HTTP).

Every side uses the engine's own llama.cpp server (exactly Plinth's
``CommonParams``), the same requests (``local_inference.request_body``, one at
a time), the sides in turns over the rounds. CPU is read per thread from
``/proc/self/task/<tid>/schedstat`` (nanoseconds), so it means something on a
busy machine; the tokens/s do not. The gateway's shaping and the HTTP write
come on top of ``engine`` (``local_inference_threads.py`` measures the whole
server by thread).

    .venv/bin/python benchmarks/local_stream_handoff.py --data-dir DIR
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_inference as li

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.llamacpp import LlamaCppEngine
from plinth.engines.llamacpp_stream import STREAM_END, Handoff

RESULTS = Path(__file__).parent / "results"
SIDES = ("trivial", "bytes", "handoff", "engine")


def cpu_ns(tid: int) -> int:
    """A thread's time on a CPU so far, in nanoseconds."""
    return int(Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[0])


def body_of(i: int, max_tokens: int) -> dict[str, Any]:
    body = li.request_body(i, max_tokens, "engine")
    del body["model"]
    return body


def streamed(body: dict[str, Any]) -> dict[str, Any]:
    """The body as the engine sends it (llamacpp._stream)."""
    return {
        **body,
        "stream": True,
        "stream_options": {"include_usage": True},
        "timings_per_token": True,
    }


async def xllamacpp_side(side: str, server: Any, args: Any) -> dict[str, float]:
    """One side that calls xllamacpp on a thread of its own: trivial, bytes or handoff."""
    loop = asyncio.get_running_loop()
    handoff = Handoff(loop)
    worker: dict[str, int] = {}
    chunks = 0

    def on_chunk(chunk: Any) -> bool:
        nonlocal chunks
        chunks += 1
        if side == "handoff":
            handoff.put(chunk)
        return False

    def run() -> None:
        tid = threading.get_native_id()
        start = cpu_ns(tid)
        for i in range(args.requests):
            body = streamed(body_of(i, args.max_tokens))
            server.handle_chat_completions(
                json.dumps(body).encode() if side == "bytes" else body, on_chunk
            )
        worker["ns"] = cpu_ns(tid) - start
        handoff.put(STREAM_END)

    main = threading.get_native_id()
    main_start, wall = cpu_ns(main), time.perf_counter()
    thread = threading.Thread(target=run)
    thread.start()
    while await handoff.get() is not STREAM_END:
        pass
    main_ns = cpu_ns(main) - main_start
    wall = time.perf_counter() - wall
    thread.join()
    return per_chunk(chunks, worker["ns"], main_ns, wall)


async def engine_side(engine: LlamaCppEngine, args: Any) -> dict[str, float]:
    """Plinth's engine stream read by ``async for``; its worker threads' CPU summed."""
    pool_threads: Callable[[], list[int]] = lambda: [  # noqa: E731
        t.native_id for t in engine._pool._threads if t.native_id is not None
    ]
    before = {tid: cpu_ns(tid) for tid in pool_threads()}
    main = threading.get_native_id()
    main_start, wall = cpu_ns(main), time.perf_counter()
    chunks = 0
    for i in range(args.requests):
        async for _chunk in engine.chat_stream(body_of(i, args.max_tokens)):
            chunks += 1
    main_ns = cpu_ns(main) - main_start
    wall = time.perf_counter() - wall
    worker_ns = sum(cpu_ns(tid) - before.get(tid, 0) for tid in pool_threads())
    return per_chunk(chunks, worker_ns, main_ns, wall)


def per_chunk(chunks: int, worker_ns: int, main_ns: int, wall_s: float) -> dict[str, float]:
    return {
        "chunks": chunks,
        "worker_ms": round(worker_ns / chunks / 1e6, 4),
        "loop_ms": round(main_ns / chunks / 1e6, 4),
        "chunks_per_s": round(chunks / wall_s, 1),
    }


async def main(args: Any) -> list[dict[str, Any]]:
    chat = next(m for m in BUNDLED_MODELS if m.id == li.MODEL)
    path = chat.locate(Path(args.data_dir), False)
    engine = LlamaCppEngine(li.MODEL, "chat", path, li.plinth_chat_options(args))
    await engine.start()
    rows: list[dict[str, Any]] = []
    try:
        for round_ in range(args.rounds):
            # The sides in turns, in the other direction on every other round.
            order = SIDES if round_ % 2 == 0 else tuple(reversed(SIDES))
            for side in order:
                if side == "engine":
                    cost = await engine_side(engine, args)
                else:
                    cost = await xllamacpp_side(side, engine._server, args)
                row: dict[str, Any] = {"round": round_ + 1, "side": side} | cost
                print(f"  {json.dumps(row)}", file=sys.stderr)
                rows.append(row)
    finally:
        await engine.close()
    return rows


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for side in SIDES:
        mine = [r for r in rows if r["side"] == side]
        item: dict[str, Any] = {"side": side}
        for key in ("worker_ms", "loop_ms"):
            values = [r[key] for r in mine]
            item[key] = (round(statistics.median(values), 4), min(values), max(values))
        out.append(item)
    return out


def report(args: Any, rows: list[dict[str, Any]], load_start: list[float]) -> None:
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/local_stream_handoff.py " + " ".join(sys.argv[1:]),
        "load_average_at_start": load_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
    }
    out_dir = args.out_dir or RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    summed = summary(rows)
    (out_dir / f"{args.name}.json").write_text(
        json.dumps({"facts": facts, "rows": rows, "summary": summed}, indent=2) + "\n"
    )
    lines = [
        "# One streamed token's CPU outside llama.cpp's compute, by thread, in one process",
        "",
        f"- date: {facts['date']}; command: `{facts['command']}`",
        f"- load average at the start {load_start}, at the end "
        f"{facts['load_average_at_end']} on {facts['cores']} cores",
        f"- {args.requests} streamed chat requests x max_tokens {args.max_tokens} per side "
        f"per round, one at a time; llama.cpp threads {args.threads or 'all cores'}; "
        f"{args.rounds} rounds, sides in turns; CPU from /proc/self/task/*/schedstat",
        "- worker: the thread that makes xllamacpp's blocking call (its callback runs "
        "there); loop: the event loop's thread (uvloop)",
        "",
        "| side | worker CPU ms/chunk, median (min–max) | loop CPU ms/chunk, median (min–max) |",
        "| --- | --- | --- |",
    ]
    for item in summed:
        w, m = item["worker_ms"], item["loop_ms"]
        lines.append(f"| {item['side']} | {w[0]} ({w[1]}–{w[2]}) | {m[0]} ({m[1]}–{m[2]}) |")
    (out_dir / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def parse_args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--name", default="local_stream_handoff")
    parser.add_argument("--out-dir", type=Path)
    return parser.parse_args()


if __name__ == "__main__":
    parsed = parse_args()
    load = [round(x, 2) for x in os.getloadavg()]
    report(parsed, uvloop.run(main(parsed)), load)
