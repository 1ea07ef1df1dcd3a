"""Embedding throughput of the bundled embedder on llama.cpp, engine settings side by side.

Ingestion was bound by the embedder at about 4 chunks/s on two cores. Each
variant runs in its own process on the same SciFact chunks (title + abstract,
chunked ``auto`` as ingestion chunks them) and reports texts/s:

- ``per-text``: one text per engine call, one call after the other: what
  ingestion did for SciFact (one chunk per file, files embedded one by one).
- ``batch``: 32 texts per call (``WindowedEmbedder``'s batch), same engine.
- threads / poll / slots: llama.cpp's thread count, its worker threads'
  busy-wait level (``poll`` 50 = spin, llama.cpp's default; 0 = sleep), and
  parallel sequences.

    .venv/bin/python benchmarks/embedding_throughput.py --texts 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VARIANTS: dict[str, dict[str, Any]] = {
    "today: per-text, threads 2, poll 50, 2 slots": {"batch": 1, "threads": 2, "poll": 50},
    "batch 32, threads 2, poll 50, 2 slots": {"batch": 32, "threads": 2, "poll": 50},
    "batch 32, threads 2, poll 0, 2 slots": {"batch": 32, "threads": 2, "poll": 0},
    "batch 32, threads 1, poll 0, 2 slots": {"batch": 32, "threads": 1, "poll": 0},
    "batch 32, threads 2, poll 0, 8 slots": {"batch": 32, "threads": 2, "poll": 0, "slots": 8},
    "per-text, threads 1, poll 50, 2 slots": {"batch": 1, "threads": 1, "poll": 50},
    "new default: per-text, threads 1, poll 0, 2 slots": {"batch": 1, "threads": 1, "poll": 0},
}


def scifact_chunks(limit: int) -> list[str]:
    from plinth.knowledge.chunking import AUTO, WordPieceSpans, chunk_text

    tokenizer = WordPieceSpans.bundled()
    texts: list[str] = []
    corpus = ROOT.parent / "shared/datasets/scifact/corpus.jsonl"
    for line in corpus.open(encoding="utf-8"):
        row = json.loads(line)
        chunks = chunk_text(f"{row['title']} {row['text']}", AUTO, tokenizer)
        # What fits the model's 512 positions in one piece (ingestion windows the rest).
        texts += [c.text for c in chunks if c.tokens <= 500]
        if len(texts) >= limit:
            return texts[:limit]
    return texts


async def run_variant(config: dict[str, Any], texts: list[str], model: Path) -> dict[str, Any]:
    from plinth.catalog.bundled import BUNDLED_MODELS
    from plinth.catalog.wordpiece import WordPieceTokenizer
    from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions

    options = LlamaCppOptions(config.get("slots", 2), 512, config["threads"], poll=config["poll"])
    (minilm,) = [m for m in BUNDLED_MODELS if m.id == "all-minilm-l6-v2"]
    assert minilm.tokenizer_dir is not None
    tokenizer = WordPieceTokenizer.from_model_dir(minilm.tokenizer_dir())
    engine = LlamaCppEngine("all-minilm-l6-v2", "embedding", model, options, tokenizer=tokenizer)
    await engine.start()
    await engine.embed(texts[:2])  # warm-up
    rows: list[list[float]] = []
    started = time.perf_counter()
    for first in range(0, len(texts), config["batch"]):
        rows += (await engine.embed(texts[first : first + config["batch"]])).vectors
    seconds = time.perf_counter() - started
    await engine.close()
    return {"texts_per_s": round(len(texts) / seconds, 2), "vectors": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/plinth-eval-cache/data"))
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help="run the variants whose name has this")
    args = parser.parse_args()
    from plinth.catalog.embedding_gguf import ensure_bundled_embedding_gguf

    model = ensure_bundled_embedding_gguf(args.data_dir, show_progress=False)
    texts = scifact_chunks(args.texts)
    if args.variant:  # the child: one variant, its result on stdout's last line
        found = asyncio.run(run_variant(VARIANTS[args.variant], texts, model))
        print(json.dumps(found))
        return
    out = ROOT / "benchmarks/results/retrieval_embedding_throughput.json"
    results: dict[str, Any] = {"texts": len(texts), "cpus": os.cpu_count(), "variants": {}}
    if args.only and out.exists():  # a partial run keeps the other variants' results
        results["variants"] = json.loads(out.read_text())["variants"]
    reference = None
    for name in [v for v in VARIANTS if args.only in v]:
        child = subprocess.run(
            [sys.executable, __file__, "--texts", str(args.texts), "--variant", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(f"{name}: failed\n{child.stderr[-2000:]}", flush=True)
            continue
        found = json.loads(child.stdout.strip().splitlines()[-1])
        vectors = np.asarray(found.pop("vectors"), np.float32)
        reference = vectors if reference is None else reference
        # Every variant must give the same vectors (same model, same texts).
        found["min_cosine_to_first"] = round(float((vectors * reference).sum(axis=1).min()), 5)
        results["variants"][name] = found
        print(f"{name:48} {found}", flush=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
