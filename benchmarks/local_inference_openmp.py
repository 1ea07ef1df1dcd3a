"""Why a co-hosted embedder slows the chat model: libgomp's spin-wait throttle.

llama.cpp (as xllamacpp builds it) runs its compute threads as OpenMP teams
and meets at ``#pragma omp barrier`` several times per token. libgomp spins
at a barrier for ~300,000 iterations before sleeping in futex, but only
while the threads it manages do not outnumber the CPUs; beyond that it spins
~100 iterations and blocks. Each llama.cpp server whose graph ran on more
than one thread keeps its own team alive, so an embedder that has computed
once on 2 threads tips the count over on a 2-core machine and the chat
model's threads block hundreds of times per token from then on.

Each variant runs in its own process (the count is per process), one after
the other, repeated; reported per variant: voluntary context switches per
token (the blocking itself; it does not depend on how loaded the machine is),
CPU ms per token and tokens/s (which do: a spinning team on a busy machine
loses its time slices), with the load average at the time.

    .venv/bin/python benchmarks/local_inference_openmp.py --data-dir DIR
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
# name: (embedder loaded and used once, its thread count)
VARIANTS = {
    "chat alone": (False, 0),
    "chat + embedder on all cores": (True, 0),
    "chat + embedder on 1 thread (Plinth's default)": (True, 1),
}


def probe(data_dir: Path, with_embedder: bool, embed_threads: int, args: Any) -> dict[str, Any]:
    """One variant, in this process: the chat model's cost per token."""
    import xllamacpp

    from plinth.catalog.bundled import BUNDLED_MODELS
    from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions

    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    chat_engine = LlamaCppEngine(
        chat.id, "chat", chat.locate(data_dir, False), LlamaCppOptions(8, 2048, 0, 0)
    )
    server = xllamacpp.Server(chat_engine._params())
    if with_embedder:
        embedder = next(m for m in BUNDLED_MODELS if m.kind == "embedding")
        options = LlamaCppOptions(2, 512, embed_threads, 0)
        engine = LlamaCppEngine(embedder.id, "embedding", embedder.locate(data_dir, False), options)
        embed_server = xllamacpp.Server(engine._params())
        embed_server.handle_embeddings({"input": ["one sentence, embedded once"]})

    def one(i: int) -> int:
        tokens = [0]

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if chunk.get("usage"):
                tokens[0] = int(chunk["usage"]["completion_tokens"])
            return False

        body = {
            "messages": [{"role": "user", "content": f"Write story number {i}."}],
            "max_tokens": args.max_tokens,
            "temperature": 0,
            "seed": 42,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        server.handle_chat_completions(body, on_chunk)
        return tokens[0]

    one(0)  # warm-up
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        tokens = sum(pool.map(one, range(args.requests)))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "tokens": tokens,
        "tokens_per_s": round(tokens / wall, 2),
        "voluntary_switches_per_token": round((after.ru_nvcsw - before.ru_nvcsw) / tokens, 1),
        "cpu_ms_per_token": round(cpu / tokens * 1000, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def run_variant(name: str, args: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--data-dir", args.data_dir, "--child", name]
    command += ["--max-tokens", str(args.max_tokens), "--requests", str(args.requests)]
    command += ["--concurrency", str(args.concurrency)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {name}: {result}", file=sys.stderr)
    return {"variant": name, **result}


def report(args: Any, rows: list[dict[str, Any]]) -> None:
    import xllamacpp

    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "xllamacpp": xllamacpp.__version__,
        "command": "python benchmarks/local_inference_openmp.py " + " ".join(sys.argv[1:]),
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "requests": args.requests,
    }
    RESULTS.mkdir(exist_ok=True)
    out = {"facts": facts, "runs": rows}
    (RESULTS / "local_inference_openmp.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        "# Co-hosted llama.cpp servers: the chat model's cost per token",
        "",
        f"- date: {facts['date']}; {facts['cores']} cores; Python {facts['python']}; "
        f"xllamacpp {facts['xllamacpp']}",
        f"- c={args.concurrency}, {args.requests} requests × max_tokens {args.max_tokens}, "
        "each variant in its own process, variants interleaved, every repeat listed",
        f"- command: `{facts['command']}`",
        "",
        "| variant | voluntary switches / token | CPU ms / token | tokens/s | load avg 1 min |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | {row['voluntary_switches_per_token']} "
            f"| {row['cpu_ms_per_token']} | {row['tokens_per_s']} | {row['load_average_1m']} |"
        )
    (RESULTS / "local_inference_openmp.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="a Plinth data dir with the models")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with_embedder, threads = VARIANTS[args.child]
        print(json.dumps(probe(Path(args.data_dir), with_embedder, threads, args)))
        return
    rows = [run_variant(name, args) for _ in range(args.repeats) for name in VARIANTS]
    report(args, rows)


if __name__ == "__main__":
    main()
