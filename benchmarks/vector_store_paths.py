"""Which plinth modules a vector-store search and a file ingest run code in (issue 19.7).

    .venv/bin/python benchmarks/vector_store_paths.py now
    # the same requests on another checkout of the code, e.g. the reviewed commit:
    git archive 14ccc49 | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/vector_store_paths.py 14ccc49

As ``request_path.py`` does for a chat request: the app starts in-process on
the bundled models (the real all-MiniLM-L6-v2 embedder on llama.cpp); a
profiler hook on every thread records the source file of each Python
function called while the traced work is in flight. Start-up is not counted.

- **search**: ``POST /v1/vector_stores/{id}/search`` (hybrid, no filter):
  after a first search, the modules each of the next three ran code in.
- **ingest**: ``POST /v1/files`` (a .txt) and ``POST /v1/vector_stores/{id}/files``,
  then the background ingestion until the queue is empty (parse, chunk,
  embed, index, usage metering): after a first file, the modules each of
  the next two ran code in; each file's status is checked afterwards,
  outside the traced work (``module_trace.every``: a cache's periodic reload
  that one of them happened to do is not counted as everyone's).

Each run replaces its label's entry in results/vector_store_paths.json and
rewrites results/vector_store_paths.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# llama.cpp's OpenMP threads spin-wait for work by default; on a loaded machine
# they starve each other and a 4-token chat took 3-17 s at HEAD instead of
# 0.1 s, long enough for the key, limit and price caches to reload inside
# every request. Passive waiting (as tests/conftest.py sets) keeps requests short.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import module_trace
from module_trace import packages
from starlette.testclient import TestClient

from plinth.app import create_app
from plinth.settings import Settings

RESULTS = Path(__file__).parent / "results"
ADMIN = "sk-plinth-vector-store-paths-0123456789"
AUTH = {"authorization": f"Bearer {ADMIN}"}
# Kept with the numbers it explains (rewritten into the .md on every run).
NOTE = [
    "14ccc49 is the commit the code review traced. What changed on each path",
    "(HEAD vs 14ccc49), issue 19 point 7:",
    "",
    "- The vector-store application left `knowledge/` for `vectorstores/` (the",
    "  service, catalog, default index, request models, ingestion; no adapter",
    "  closure in a set-up module, no second service layer), so `knowledge/` is a",
    "  library again: it is entered from `vectorstores/`, which is why its modules",
    "  now count as a reader's modules.",
    "- Taken off both paths: `services.py` (handlers reach the services through",
    "  `api/http.services`; `services.py` is the container only); the JSON-body",
    "  bounds are `api/http.py`'s body reading again (`api/json_body.py` gone);",
    "  the auth cache is keyed by its own digest, so `store/keys.py` runs only on",
    "  a cache miss; a model's embedder and its catalog languages are built once",
    "  at start-up (`vectorstores/embedders.py`), not per search or file.",
    "- Search: rerank runs only when the body or the store asks for it",
    "  (`rerank_hits.py` off the path); the query's readable share (its scripts",
    "  against the embedder's languages) lives in `knowledge/fusion.py`, its one",
    "  user (`knowledge/languages.py` gone).",
    "- Ingest: chunks and their BM25 terms come from one library call",
    "  (`knowledge/chunking.chunk_and_analyze`), so `knowledge/segment.py` is",
    "  behind the library's facade.",
    "- New on the paths from other work: the database door (`store/door.py`),",
    "  the per-store embedder (`vectorstores/embedders.py`); on ingest the shared",
    "  upload helpers (`api/keyed.py`, `files/uploads.py`) and file modes",
    "  (`paths.py`). Which embedder serves a store is `embedders.embedder_for`",
    "  (it was a method of `Retrieval` in `vectorstores/ingest.py`), so a search",
    "  no longer enters `ingest.py`.",
    "- Search's reader's modules (who enters them): `api/fastpath.py` (the",
    "  server), `auth.py`, `vectorstores/service.py` and `vectorstores/wire.py`",
    "  (the request model) from `api/vector_stores.py`; `store/door.py` and",
    "  `knowledge/chunking.py` (the query's embedding) from the service;",
    "  `knowledge/memory.py` (the index's search state) from",
    "  `vectorstores/embedded_index.py`; `engines/llamacpp.py` from the",
    "  embedder and `catalog/wordpiece.py` (the bundled embedder's tokenizer)",
    "  from the engine. At 14ccc49 one facade (`knowledge/stores.py`) embedded",
    "  and searched; now the application package (issue 19 point 2) enters the",
    "  library at its two parts, and the door (point 4) is one more: 8 -> 9,",
    "  and `vectorstores/` is the one package more (6 -> 7).",
    "- Steady state is the modules every run of the kind entered",
    "  (`module_trace.every`). `store/database.py` appears when the pool opens a",
    "  new SQLite connection inside the window: noise, on either commit.",
]
# The background pollers (batch runner, deployment sync) wake on a timer and
# would be traced with whatever request their wake-up falls beside; at an hour
# none wakes inside the traced window, so only the request's own work is counted.
QUIET: dict[str, Any] = {"batches": {"poll_s": 3600.0}, "routing": {"refresh_interval_s": 3600.0}}


def _ingest(client: TestClient, store_id: str, name: str, text: str, ids: list[str]) -> None:
    upload = client.post(
        "/v1/files", files={"file": (name, text.encode())}, data={"purpose": "assistants"},
        headers=AUTH,
    )  # fmt: skip
    assert upload.status_code == 200, upload.text
    file_id = upload.json()["id"]
    attach = client.post(
        f"/v1/vector_stores/{store_id}/files", json={"file_id": file_id}, headers=AUTH
    )
    assert attach.status_code == 200, attach.text
    stores = client.app.app.state.services.vector_stores  # type: ignore[attr-defined]
    client.portal.call(stores.ingestor.idle)  # type: ignore[union-attr]
    ids.append(file_id)


def _completed(client: TestClient, store_id: str, file_id: str) -> None:
    row = client.get(f"/v1/vector_stores/{store_id}/files/{file_id}", headers=AUTH).json()
    assert row["status"] == "completed", row


def _search(client: TestClient, store_id: str) -> None:
    response = client.post(
        f"/v1/vector_stores/{store_id}/search",
        json={"query": "how many days to return an item"},
        headers=AUTH,
    )
    assert response.status_code == 200 and response.json()["data"], response.text


def _markdown(runs: dict[str, Any]) -> str:
    lines = [
        "# Modules a vector-store search and a file ingest run code in",
        "",
        "Command: see benchmarks/vector_store_paths.py; the measures are defined in",
        "benchmarks/module_trace.py. Steady state: the modules each of three searches",
        "(two ingests), after a first one, ran code in. **traced**: files under",
        "src/plinth/ whose functions ran while the work was in flight.",
        "**reader's**: the traced modules entered from outside their own package.",
        "**packages**: directories crossed, top-level modules as one group '(top)'.",
        "",
        *NOTE,
        "",
        "| code | search: traced / reader's / packages | ingest: traced / reader's / packages |",
        "| --- | --- | --- |",
    ]
    for label, run in runs.items():
        cells = [
            f"{len(run[p])} / {len(run[p + '_reader'])} / {len(packages(run[p]))}"
            if p + "_reader" in run
            else f"{len(run[p])} / - / {len(packages(run[p]))}"
            for p in ("search", "ingest")
        ]
        lines.append(f"| {label} ({run['date']}) | {cells[0]} | {cells[1]} |")
    for label, run in runs.items():
        for path in ("search", "ingest"):
            reader = set(run.get(path + "_reader", ()))
            lines += ["", f"## {label}, {path} (* = also a reader's module)", ""]
            lines += [f"- {m}{' *' if m in reader else ''}" for m in run[path]]
    return "\n".join(lines) + "\n"


def main(label: str) -> None:
    module_trace.start()
    returns = "Refunds: an item may be returned within 30 days of delivery with its receipt."
    leave = "Annual leave: every employee has 25 days of paid leave a year."
    hours = "Opening hours: the shop is open from 9 to 18 every day but Sunday."
    with tempfile.TemporaryDirectory() as data:
        quiet = {k: v for k, v in QUIET.items() if k in Settings.model_fields}
        settings = Settings(data_dir=Path(data), admin_key=ADMIN, **quiet)
        with TestClient(create_app(settings)) as client:
            store = client.post("/v1/vector_stores", json={"name": "paths"}, headers=AUTH)
            store_id = store.json()["id"]
            ids: list[str] = []
            module_trace.traced(lambda: _ingest(client, store_id, "returns.txt", returns, ids))
            ingest = module_trace.every(
                [
                    lambda: _ingest(client, store_id, "leave.txt", leave, ids),
                    lambda: _ingest(client, store_id, "hours.txt", hours, ids),
                ]
            )
            for file_id in ids:  # checked outside the traced work
                _completed(client, store_id, file_id)
            module_trace.traced(lambda: _search(client, store_id))
            search = module_trace.every([lambda: _search(client, store_id)] * 3)
    module_trace.stop()
    path = RESULTS / "vector_store_paths.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    runs[label] = {
        "date": stamp,
        "search": search["modules"],
        "search_reader": search["reader"],
        "ingest": ingest["modules"],
        "ingest_reader": ingest["reader"],
    }
    path.write_text(json.dumps(runs, indent=1) + "\n")
    (RESULTS / "vector_store_paths.md").write_text(_markdown(runs))
    print(
        f"{label}: search traced {len(search['modules'])}, reader's {len(search['reader'])};"
        f" ingest traced {len(ingest['modules'])}, reader's {len(ingest['reader'])}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("label", nargs="?", default="now", help="this run's name in the results")
    main(parser.parse_args().label)
