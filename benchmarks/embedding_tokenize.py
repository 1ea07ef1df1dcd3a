"""How long a big embedding input holds the event loop, and how long it takes to refuse.

    .venv/bin/python benchmarks/embedding_tokenize.py   # writes results/embedding_tokenize.*

The bundled embedder (all-MiniLM-L6-v2) reads at most 512 tokens, so a 5 MB
input is refused. Before: its whole text was tokenized on the event loop
(measured here by calling the tokenizer as the engine used to). Now: the engine
tokenizes on a worker thread and only the input's leading words when they
alone are over the limit. A 1 ms ticker on the loop records its longest gap.
No model is loaded: the refusal comes before llama.cpp is called. The last
rows are a 5 MB single "word", which has 3 tokens and must be tokenized whole
(on the worker thread; the unloaded model then fails, which is not timed apart).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plinth.catalog.embedding_gguf import bundled_embedding_model_dir
from plinth.catalog.wordpiece import WordPieceTokenizer
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.errors import ContextLengthExceeded

RESULTS = Path(__file__).parent / "results"
SENTENCE = "The quick brown fox jumps over the lazy dog. "


async def _measure(work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(seconds the work took, longest gap between 1 ms ticks meanwhile)."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    with contextlib.suppress(ContextLengthExceeded, AttributeError):  # no model loaded
        await work()
    took = time.perf_counter() - started
    done.set()
    await ticker
    return took, max(gaps)


async def main() -> None:
    tokenizer = WordPieceTokenizer.from_model_dir(bundled_embedding_model_dir())
    engine = LlamaCppEngine(
        "all-minilm-l6-v2", "embedding", Path("unused.gguf"), LlamaCppOptions(), tokenizer=tokenizer
    )
    rows: list[dict[str, Any]] = []
    inputs = [
        (f"{mb} MB of sentences", SENTENCE * (mb * 1_000_000 // len(SENTENCE))) for mb in (1, 5)
    ]
    inputs.append(("5 MB one word", "x" * 5_000_000))
    for label, text in inputs:

        async def before(text: str = text) -> None:
            tokenizer.encode_batch([text])  # the old engine: whole text, on the loop

        async def after(text: str = text) -> None:
            await engine.embed([text])

        for name, work in (("before", before), ("after", after)):
            took, gap = await _measure(work)
            rows.append({"input": label, "path": name, "seconds": took, "max_loop_gap_s": gap})
            print(rows[-1])
    await engine.close()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "embedding_tokenize.json").write_text(
        json.dumps({"date": stamp, "rows": rows}, indent=2)
    )
    lines = [
        "# Embedding tokenization: event-loop stall and time to refuse an over-long input",
        "",
        f"- date: {stamp}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores shared with other work"
        f" (load average {os.getloadavg()[0]:.1f}), Python {platform.python_version()}",
        "- command: python benchmarks/embedding_tokenize.py",
        "",
        "| input | path | time | longest event-loop gap |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['input']} | {row['path']} | {row['seconds'] * 1000:.1f} ms"
            f" | {row['max_loop_gap_s'] * 1000:.1f} ms |"
        )
    lines += [
        "",
        "The tokenizer releases the GIL while it works, so the worker thread leaves the",
        "loop running; the remaining gaps are thread hand-overs on shared, busy cores.",
    ]
    (RESULTS / "embedding_tokenize.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()  # no options: --help prints what the script measures, and runs nothing
    asyncio.run(main())
