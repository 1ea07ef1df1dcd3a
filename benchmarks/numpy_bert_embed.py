"""CPU per text: the numpy BERT forward pass against llama.cpp's Q8_0 embedder, one core.

The bundled all-MiniLM-L6-v2 embeds the same SciFact texts (those of
``ingest_throughput.py``: title + abstract, one chunk of at most 500 word
pieces each) on one core, one text per call, in separate processes run in
interleaved rounds (A B A B …) so that load on a shared machine hits both:

* ``llamacpp``: ``ingest_throughput.py``'s ``llamacpp-engine-only`` side (the
  Q8_0 GGUF in ``LlamaCppEngine``, 1 thread, tokenize + llama.cpp per window);
* ``numpy``: ``engines/numpy_bert.py`` on the fp32 safetensors (Plinth's
  WordPiece ids, then the forward pass), OpenBLAS at 1 thread, with the
  environment as it is (``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` as set);
* ``numpy-unset``: the same with those two variables removed (OpenBLAS then
  picks its kernels from the CPU itself); skipped where neither is set;
* ``numpy-haswell``: ``OPENBLAS_CORETYPE=Haswell`` (AVX2 kernels, as on a CPU
  without AVX-512), for what a machine like that would see;
* ``sentence-transformers`` (with ``--bench-python``, not timed against the
  others' rounds): the reference vectors, torch at 1 thread, batch size 1.

The figure is process CPU seconds per text (``time.process_time``), which
load on other cores changes far less than wall time. Cosines compare the
vectors of whole texts.

    .venv/bin/python benchmarks/numpy_bert_embed.py --texts 64 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest_throughput import (  # noqa: E402
    cpu_model,
    find_model_dir,
    scifact_texts,
    side_engine_only,
)

BLAS_TUNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def windows_of(texts: list[str]) -> list[str]:
    """The pieces ingestion embeds (``WindowedEmbedder``): one per text for these texts."""
    from plinth.knowledge.chunking import WindowedEmbedder, WordPieceSpans

    pieces: list[str] = []

    async def keep(batch: list[str]) -> list[list[float]]:
        pieces.extend(batch)
        return [[1.0] for _ in batch]

    asyncio.run(WindowedEmbedder(keep, WordPieceSpans.bundled(), batch_size=1).embed(texts))
    return pieces


def side_numpy(texts: list[str], work: Path) -> tuple[dict[str, Any], np.ndarray]:
    from plinth.catalog.model_tokenizer import load_tokenizer
    from plinth.engines.numpy_bert import NumpyBert

    model_dir = Path((work / "model_dir.txt").read_text())
    model = NumpyBert.from_model_dir(model_dir)
    tokenizer = load_tokenizer(model_dir)
    windows = windows_of(texts)
    model.embed_ids(tokenizer.encode_batch(["warm up the engine"])[0])
    cpu0, started = time.process_time(), time.perf_counter()
    for window in windows:
        model.embed_ids(tokenizer.encode_batch([window])[0])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    vectors = np.stack([model.embed_ids(ids) for ids in tokenizer.encode_batch(texts)])
    report = {
        "embedder": "all-minilm-l6-v2 (fp32 safetensors, numpy_bert, 1 BLAS thread)",
        "openblas_env": {k: os.environ.get(k) for k in (*BLAS_TUNING, "OPENBLAS_NUM_THREADS")},
        "seconds": round(elapsed, 3),
        "process_cpu_s": round(cpu, 3),
    }
    return report, vectors


def side_sentence_transformers(texts: list[str], work: Path) -> tuple[dict[str, Any], np.ndarray]:
    import torch  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    torch.set_num_threads(1)
    model = SentenceTransformer((work / "model_dir.txt").read_text(), device="cpu")
    model.max_seq_length = 512
    model.encode(texts[:2])
    cpu0, started = time.process_time(), time.perf_counter()
    vectors = model.encode(texts, batch_size=1, normalize_embeddings=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    report = {
        "embedder": f"sentence-transformers (torch {torch.__version__}, 1 thread, batch 1)",
        "seconds": round(elapsed, 3),
        "process_cpu_s": round(cpu, 3),
    }
    return report, np.asarray(vectors, np.float32)


def run_side(side: str, work: Path) -> None:
    texts = json.loads((work / "texts.json").read_text())
    if side == "llamacpp":
        report, vectors = side_engine_only(texts, work)
    elif side == "sentence-transformers":
        report, vectors = side_sentence_transformers(texts, work)
    else:
        report, vectors = side_numpy(texts, work)
    report["cpu_s_per_text"] = round(report["process_cpu_s"] / len(texts), 4)
    report["load_average"] = [round(x, 1) for x in os.getloadavg()]
    np.save(work / f"{side}.npy", vectors)
    (work / f"{side}.json").write_text(json.dumps(report))


def side_env(side: str) -> dict[str, str]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if side in ("numpy-unset", "numpy-haswell"):
        for name in BLAS_TUNING:
            env.pop(name, None)
    if side == "numpy-haswell":
        env["OPENBLAS_CORETYPE"] = "Haswell"
    return env


def cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    cos = (a * b).sum(1)
    return {"min": round(float(cos.min()), 6), "mean": round(float(cos.mean()), 6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bench-python", default="/tmp/bench-venv/bin/python")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/numpy_bert_embed.json"
    )
    args = parser.parse_args()
    if args.side:
        run_side(args.side, args.work)
        return

    sides = ["llamacpp", "numpy"]
    if any(name in os.environ for name in BLAS_TUNING):
        sides.append("numpy-unset")
    sides.append("numpy-haswell")
    texts = scifact_texts(args.texts)
    results: dict[str, Any] = {
        "texts": len(texts),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "openblas_env_as_set": {k: os.environ.get(k) for k in BLAS_TUNING},
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
        "rounds": [],
    }
    per_side: dict[str, list[float]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "texts.json").write_text(json.dumps(texts))
        (work / "model_dir.txt").write_text(str(find_model_dir()))
        vectors: dict[str, np.ndarray] = {}
        for round_no in range(args.rounds):
            row: dict[str, Any] = {}
            for side in sides if round_no % 2 == 0 else sides[::-1]:
                cmd = [sys.executable, __file__, "--side", side, "--work", str(work)]
                subprocess.run(cmd, check=True, env=side_env(side), cwd=ROOT)
                row[side] = json.loads((work / f"{side}.json").read_text())
                per_side[side].append(row[side]["cpu_s_per_text"])
                vectors[side] = np.load(work / f"{side}.npy")
                print(f"round {round_no} {side}: {row[side]}", flush=True)
            results["rounds"].append(row)
        if Path(args.bench_python).is_file():
            side = "sentence-transformers"
            cmd = [args.bench_python, __file__, "--side", side, "--work", str(work)]
            subprocess.run(cmd, check=True, env=side_env(side), cwd=ROOT)
            results[side] = json.loads((work / f"{side}.json").read_text())
            vectors[side] = np.load(work / f"{side}.npy")
    results["cpu_s_per_text_median"] = {s: float(np.median(v)) for s, v in per_side.items()}
    llama = results["cpu_s_per_text_median"]["llamacpp"]
    results["ratio_to_llamacpp"] = {
        s: round(v / llama, 3) for s, v in results["cpu_s_per_text_median"].items()
    }
    results["cosine"] = {
        f"{a} vs {b}": cosines(vectors[a], vectors[b])
        for a, b in [
            ("numpy", "llamacpp"),
            ("numpy", "sentence-transformers"),
            ("llamacpp", "sentence-transformers"),
            ("numpy", "numpy-haswell"),
        ]
        if a in vectors and b in vectors
    }
    results["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "rounds"}, indent=2))


if __name__ == "__main__":
    main()
