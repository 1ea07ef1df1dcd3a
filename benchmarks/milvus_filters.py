"""Why filtered search on milvus-lite is slow at 100k chunks, measured piece by piece.

Builds the synthetic store of ``retrieval_eval.py`` (random unit vectors,
Zipf-distributed random words, files of 100 chunks, ``{"group": file_no % 10}``
as every file's attributes, so the filter ``group == 3`` keeps 10%) through
``MilvusIndex``, then times:

* Plinth's own search (``MilvusIndex.search``), unfiltered and filtered, per mode;
* the single Milvus searches underneath (BM25 over ``sparse``, FLAT over
  ``vector``) with the filter spelled several ways, before and after a JSON
  path index on ``attributes["group"]``.

Each variant runs at most ``--queries`` queries or ``--cap-s`` seconds, whichever
comes first, so a pathological variant cannot hold the run.

    .venv/bin/python benchmarks/milvus_filters.py --chunks 100000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import MilvusException  # type: ignore[import-untyped]

from plinth.knowledge.filters import parse_filter
from plinth.knowledge.index import ChunkRecord, SearchOptions, SearchRequest
from plinth.knowledge.milvus import MilvusIndex, filter_expression, term_tokens

ROOT = Path(__file__).resolve().parent.parent
DIMS = 384


def build(index: MilvusIndex, store: str, chunks: int, rng: np.random.Generator) -> float:
    vocabulary = [f"w{i}x" for i in range(50_000)]
    zipf = 1 / np.arange(1, len(vocabulary) + 1)
    zipf /= zipf.sum()
    index.create_store(store, DIMS)
    started = time.perf_counter()
    for file_no in range(chunks // 100):
        records = []
        for _ in range(100):
            words = [vocabulary[i] for i in rng.choice(len(vocabulary), 120, p=zipf)]
            vector = rng.standard_normal(DIMS).astype(np.float32)
            records.append(ChunkRecord(" ".join(words), words, vector, 120))
        index.upsert_file(store, f"file-{file_no}", records, {"group": file_no % 10})
        if file_no % 100 == 99:
            print(f"  {100 * (file_no + 1)} chunks", flush=True)
    index._flush(index.collection(store))  # seal now rather than after flush_after_s
    return time.perf_counter() - started


def timed(run: Callable[[int], Any], queries: int, cap_s: float) -> dict[str, Any]:
    latencies: list[float] = []
    started = time.perf_counter()
    for q in range(queries + 3):
        t0 = time.perf_counter()
        run(q)
        if q >= 3:  # the first few load segments
            latencies.append(time.perf_counter() - t0)
        if time.perf_counter() - started > cap_s:
            break
    ms = np.asarray(latencies) * 1000
    return {
        "n": len(latencies),
        "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
        "p95_ms": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--cap-s", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/milvus_filters.json")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    words = [[f"w{i}x" for i in rng.choice(2000, 5)] for _ in range(args.queries + 3)]
    vectors = [v / np.linalg.norm(v) for v in rng.standard_normal((args.queries + 3, DIMS))]
    flt = parse_filter({"type": "eq", "key": "group", "value": 3})
    report: dict[str, Any] = {
        "chunks": args.chunks,
        "load_average_start": os.getloadavg(),
        "plinth": {},
        "raw": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        index = MilvusIndex(str(Path(tmp) / "milvus.db"))
        store = "filters"
        build_s = build(index, store, args.chunks, rng)
        report["ingest_chunks_per_s"] = round(args.chunks / build_s, 1)
        name = index.collection(store)
        group_files = [f"file-{n}" for n in range(3, args.chunks // 100, 10)]
        client = index._client

        def plinth(mode: str, filtered: bool) -> Callable[[int], Any]:
            def run(q: int) -> Any:
                options = SearchOptions(
                    mode=mode,  # type: ignore[arg-type]
                    filters=flt if filtered else None,
                )
                request = SearchRequest(" ".join(words[q]), vectors[q].astype(np.float32), options)
                return index.search(store, request)

            return run

        def raw(field: str, expr: str) -> Callable[[int], Any]:
            def run(q: int) -> Any:
                data = [term_tokens(words[q])] if field == "sparse" else [vectors[q].tolist()]
                return client.search(
                    name,
                    data,
                    anns_field=field,
                    limit=100,
                    filter=expr,
                    output_fields=["file_id", "seq", "text", "attributes"],
                )

            return run

        def measure(stage: str) -> None:
            for mode in ("lexical", "dense", "hybrid"):
                for filtered in (False, True):
                    key = f"{stage}: {mode}{' + filter' if filtered else ''}"
                    report["plinth"][key] = timed(plinth(mode, filtered), args.queries, args.cap_s)
                    print(key, report["plinth"][key], flush=True)
            spellings = {
                "none": "",
                "json (before)": filter_expression(flt),
                "json ==": 'attributes["group"] == 3',
                "json_contains": 'json_contains(attributes["group"], 3)',
                "scalar seq < 10": "seq < 10",
                "file_id in (10%)": "file_id in " + json.dumps(group_files),
            }
            for field in ("sparse", "vector"):
                for label, expr in spellings.items():
                    key = f"{stage}: {field} filter={label}"
                    try:
                        report["raw"][key] = timed(raw(field, expr), args.queries, args.cap_s)
                    except MilvusException as error:  # a spelling this Milvus refuses
                        report["raw"][key] = {"error": str(error)[:200]}
                    print(key, report["raw"][key], flush=True)

        measure("no JSON index")
        try:
            params = client.prepare_index_params()
            params.add_index(
                field_name="attributes",
                index_type="INVERTED",
                index_name="attributes_group",
                params={"json_path": 'attributes["group"]', "json_cast_type": "double"},
            )
            client.release_collection(name)
            client.create_index(name, params)
            client.load_collection(name)
            report["json_index"] = "INVERTED on attributes['group'] as double"
            measure("JSON path index")
        except MilvusException as error:
            report["json_index"] = f"refused: {str(error)[:300]}"
            print(report["json_index"], flush=True)
        index.close()
    report["load_average_end"] = os.getloadavg()
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
