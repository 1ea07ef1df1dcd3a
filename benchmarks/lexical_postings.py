"""BM25 postings in plain numpy against the scipy.sparse version they replaced.

    .venv/bin/python benchmarks/lexical_postings.py            # needs scipy (pip install scipy)
    .venv/bin/python benchmarks/lexical_postings.py --docs 20000 --queries 300

Loads the scipy implementation from git (``--old-rev``, default the commit
before the change) and the current ``plinth.knowledge.lexical``, feeds both
the same synthetic corpus (Zipf-distributed terms, documents of 20–300 terms,
added in files of 1–40 chunks, a tenth of the files removed along the way),
and checks that every query's scores are bitwise identical. Then it times
adding, querying and removing on each, interleaved and repeated (best of
``--repeat``, process CPU time, so a shared machine's load moves it less).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from plinth.knowledge import lexical as new_lexical

ROOT = Path(__file__).resolve().parent.parent


def load_old(rev: str) -> ModuleType:
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:src/plinth/knowledge/lexical.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "lexical_scipy.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("lexical_scipy", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lexical_scipy"] = module
    spec.loader.exec_module(module)
    return module


def corpus(docs: int, vocab: int, seed: int) -> list[list[list[str]]]:
    """Files, each a list of chunks (term lists)."""
    rng = np.random.default_rng(seed)
    files: list[list[list[str]]] = []
    made = 0
    while made < docs:
        size = min(int(rng.integers(1, 41)), docs - made)
        chunks = []
        for _ in range(size):
            ids = np.minimum(rng.zipf(1.15, int(rng.integers(20, 301))), vocab)
            chunks.append([f"t{i}" for i in ids])
        files.append(chunks)
        made += size
    return files


def queries(count: int, vocab: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed + 1)
    return [
        [f"t{i}" for i in np.minimum(rng.zipf(1.3, int(rng.integers(1, 8))), vocab)]
        for _ in range(count)
    ]


def build(module: Any, files: list[list[list[str]]], seed: int) -> tuple[Any, float, float]:
    """Adds every file, removing a tenth of them along the way; (index, add s, remove s)."""
    rng = np.random.default_rng(seed + 2)
    index = module.LexicalIndex()
    spans: list[list[int]] = []
    add_s = remove_s = 0.0
    for chunks in files:
        start = time.process_time()
        index.add(index.rows, chunks)
        add_s += time.process_time() - start
        spans.append(list(range(index.rows - len(chunks), index.rows)))
        if len(spans) > 3 and rng.random() < 0.1:
            victim = spans.pop(int(rng.integers(0, len(spans))))
            start = time.process_time()
            index.remove(victim)
            remove_s += time.process_time() - start
    return index, add_s, remove_s


def query_time(index: Any, qs: list[list[str]]) -> float:
    start = time.process_time()
    for q in qs:
        index.scores(q)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--vocab", type=int, default=50000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-rev", default="643e749")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    old = load_old(args.old_rev)
    files = corpus(args.docs, args.vocab, args.seed)
    qs = queries(args.queries, args.vocab, args.seed)
    sides = {"scipy.sparse (before)": old, "numpy postings (after)": new_lexical}
    best: dict[str, list[float]] = {name: [1e9, 1e9, 1e9] for name in sides}
    indexes: dict[str, Any] = {}
    for _ in range(args.repeat):
        for name, module in sides.items():
            index, add_s, remove_s = build(module, files, args.seed)
            q_s = query_time(index, qs)
            best[name] = [
                min(a, b) for a, b in zip(best[name], [add_s, remove_s, q_s], strict=True)
            ]
            indexes[name] = index
    before, after = indexes.values()
    for q in qs:
        if not np.array_equal(before.scores(q), after.scores(q)):
            raise SystemExit(f"scores differ for query {q}")
    nnz = sum(len(set(c)) for f in files for c in f)
    print(
        f"{args.docs} documents, {nnz} postings, {args.queries} queries: "
        "every query's scores identical (bitwise)\n"
    )
    print("| implementation | add all (CPU s) | removes (CPU s) | queries (CPU ms each) |")
    print("| --- | --- | --- | --- |")
    for name, (add_s, remove_s, q_s) in best.items():
        print(f"| {name} | {add_s:.2f} | {remove_s:.3f} | {1000 * q_s / args.queries:.2f} |")


if __name__ == "__main__":
    main()
