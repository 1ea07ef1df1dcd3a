"""Which plinth modules a vector-store search and a file ingest run code in (issue 19.7).

    .venv/bin/python benchmarks/vector_store_paths.py now
    # the same requests on another checkout of the code, e.g. the reviewed commit:
    git archive 14ccc49 | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/vector_store_paths.py 14ccc49

As ``request_path.py`` does for a chat request: the app starts in-process on
the bundled models (the real all-MiniLM-L6-v2 embedder on llama.cpp); a
profiler hook on every thread records the source file of each Python
function called while the traced work is in flight. Start-up is not counted.

- **search**: ``POST /v1/vector_stores/{id}/search`` (hybrid, no filter),
  traced twice: the first search after the store was filled, and the next.
- **ingest**: ``POST /v1/files`` (a .txt) and ``POST /v1/vector_stores/{id}/files``,
  then the background ingestion until the queue is empty (parse, chunk,
  embed, index, usage metering), for a first file and a second one; each
  file's status is checked afterwards, outside the traced work.

Each run replaces its label's entry in results/vector_store_paths.json and
rewrites results/vector_store_paths.md.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

import plinth
from plinth.app import create_app
from plinth.settings import Settings

RESULTS = Path(__file__).parent / "results"
ROOT = str(Path(plinth.__file__).parent) + "/"
ADMIN = "sk-plinth-vector-store-paths-0123456789"
AUTH = {"authorization": f"Bearer {ADMIN}"}
# Kept with the numbers it explains (rewritten into the .md on every run).
NOTE = [
    "14ccc49 is the commit the code review traced. What changed on each path",
    "(now vs 14ccc49): the vector-store modules went from 7 (search) and 8",
    "(ingest) to 4 and 4 (`vectorstores/service`, `catalog`, `embedded_index`,",
    "plus `wire` on search and `ingest` on ingest): no adapter closure in a set-up",
    "module, no second service layer (`knowledge/service`), no windowed-embedding",
    "module of its own, attributes validated once where the request is read. The",
    "database door (`store/door.py`, issue 19.4), the JSON-body guard",
    "(`api/json_body.py`) and `paths.py` (file permissions) are new on the paths",
    "from other issues' work.",
]
_recording = False
_seen: set[str] = set()


def _profile(frame: Any, event: str, arg: Any) -> None:
    if _recording and event == "call" and frame.f_code.co_filename.startswith(ROOT):
        _seen.add(frame.f_code.co_filename[len(ROOT) :])


def _traced(work: Callable[[], None]) -> list[str]:
    global _recording
    _seen.clear()
    _recording = True
    try:
        work()
    finally:
        _recording = False
    return sorted(_seen)


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
        "Command: see benchmarks/vector_store_paths.py. Files under src/plinth/ whose",
        "functions ran while the work was in flight (second run of each: steady state).",
        "",
        *NOTE,
        "",
        "| code | search | ingest (upload + attach + ingestion) |",
        "| --- | --- | --- |",
    ]
    for label, run in runs.items():
        lines.append(f"| {label} ({run['date']}) | {len(run['search'])} | {len(run['ingest'])} |")
    for label, run in runs.items():
        for path in ("search", "ingest"):
            lines += ["", f"## {label}, {path}", ""]
            lines += [f"- {module}" for module in run[path]]
    return "\n".join(lines) + "\n"


def main(label: str) -> None:
    threading.setprofile(_profile)
    sys.setprofile(_profile)
    returns = "Refunds: an item may be returned within 30 days of delivery with its receipt."
    leave = "Annual leave: every employee has 25 days of paid leave a year."
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), admin_key=ADMIN)
        with TestClient(create_app(settings)) as client:
            store = client.post("/v1/vector_stores", json={"name": "paths"}, headers=AUTH)
            store_id = store.json()["id"]
            ids: list[str] = []
            _traced(lambda: _ingest(client, store_id, "returns.txt", returns, ids))
            ingest = _traced(lambda: _ingest(client, store_id, "leave.txt", leave, ids))
            for file_id in ids:  # checked outside the traced work
                _completed(client, store_id, file_id)
            _traced(lambda: _search(client, store_id))
            search = _traced(lambda: _search(client, store_id))
    sys.setprofile(None)
    threading.setprofile(None)
    path = RESULTS / "vector_store_paths.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    runs[label] = {"date": stamp, "search": search, "ingest": ingest}
    path.write_text(json.dumps(runs, indent=1) + "\n")
    (RESULTS / "vector_store_paths.md").write_text(_markdown(runs))
    print(f"{label}: search {len(search)}, ingest {len(ingest)} modules")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "now")
