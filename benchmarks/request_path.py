"""Which plinth modules one non-streamed local chat request runs code in.

    .venv/bin/python benchmarks/request_path.py now
    # the same request on another checkout of the code, e.g. the reviewed commit:
    git archive 14ccc49 | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/request_path.py 14ccc49

The app starts in-process on the bundled models (Starlette's TestClient); a
profiler hook on every thread records the source file of each Python function
called while a request is in flight, its ledger write included. Start-up is
not counted. Two requests are traced: the first after start-up (caches cold)
and the next one (steady state). Each run replaces its label's entry in
results/request_path.json and rewrites results/request_path.md.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

import plinth
from plinth.app import create_app
from plinth.settings import Settings

RESULTS = Path(__file__).parent / "results"
ROOT = str(Path(plinth.__file__).parent) + "/"
ADMIN = "sk-plinth-request-path-admin-0123456789"
_recording = False
_seen: set[str] = set()


def _profile(frame: Any, event: str, arg: Any) -> None:
    if _recording and event == "call" and frame.f_code.co_filename.startswith(ROOT):
        _seen.add(frame.f_code.co_filename[len(ROOT) :])


def _traced_request(client: TestClient) -> list[str]:
    global _recording
    _seen.clear()
    _recording = True
    response = client.post(
        "/v1/chat/completions",
        json={
            "model": "smollm2-135m-instruct",
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "Say hi"}],
        },
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    _recording = False
    assert response.status_code == 200, response.text
    return sorted(_seen)


def _markdown(runs: dict[str, Any]) -> str:
    lines = [
        "# Modules one non-streamed local chat request runs code in",
        "",
        "Command: see benchmarks/request_path.py. Files under src/plinth/ whose",
        "functions ran while the request was in flight (its ledger write included).",
        "",
        "| code | first request | steady state | packages (steady) |",
        "| --- | --- | --- | --- |",
    ]
    for label, run in runs.items():
        packages = sorted({m.split("/")[0] if "/" in m else "(top)" for m in run["steady"]})
        lines.append(
            f"| {label} ({run['date']}) | {len(run['first'])} | {len(run['steady'])}"
            f" | {len(packages)}: {', '.join(packages)} |"
        )
    for label, run in runs.items():
        lines += ["", f"## {label}, steady state", ""]
        lines += [f"- {module}" for module in run["steady"]]
    return "\n".join(lines) + "\n"


def main(label: str) -> None:
    threading.setprofile(_profile)
    sys.setprofile(_profile)
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), admin_key=ADMIN)
        with TestClient(create_app(settings)) as client:
            first = _traced_request(client)
            steady = _traced_request(client)
    sys.setprofile(None)
    threading.setprofile(None)
    path = RESULTS / "request_path.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    runs[label] = {"date": stamp, "first": first, "steady": steady}
    path.write_text(json.dumps(runs, indent=1) + "\n")
    (RESULTS / "request_path.md").write_text(_markdown(runs))
    print(f"{label}: first {len(first)}, steady {len(steady)} modules")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "now")
