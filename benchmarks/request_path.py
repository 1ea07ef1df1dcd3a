"""Which plinth modules one non-streamed local chat request runs code in.

    .venv/bin/python benchmarks/request_path.py now
    # the same request on another checkout of the code, e.g. the reviewed commit:
    git archive 14ccc49 | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/request_path.py 14ccc49

The app starts in-process on the bundled models (Starlette's TestClient); a
profiler hook on every thread records the source file of each Python function
called while a request is in flight, its ledger write included. Start-up is
not counted. The first request after start-up (caches cold) is traced, then
**steady state**: the modules that each of the next five requests ran code
in (``module_trace.every``). The key, the limits and the prices are cached
for a few seconds (auth.CACHE_TTL_S, billing's 2 s, the price book's 5 s);
on a loaded machine one request can outlast them, and a single trace would
count their periodic reload as if every request made it. Each run replaces its label's entry in
results/request_path.json and rewrites results/request_path.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
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
ADMIN = "sk-plinth-request-path-admin-0123456789"
# The background pollers (batch runner, deployment sync) wake on a timer and
# would be traced with whatever request their wake-up falls beside; at an hour
# none wakes inside the traced window, so only the request's own work is counted.
QUIET: dict[str, Any] = {"batches": {"poll_s": 3600.0}, "routing": {"refresh_interval_s": 3600.0}}


def _request(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={
            "model": "smollm2-135m-instruct",
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "Say hi"}],
        },
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 200, response.text
    # The ledger row is committed by a background writer (at HEAD after the
    # response, from a local journal): wait for it inside the traced window, so
    # the request's own ledger write is always counted, on either commit.
    services = client.app.app.state.services  # type: ignore[attr-defined]
    client.portal.call(services.recorder.flush)  # type: ignore[union-attr]


# Kept with the numbers it explains (rewritten into the .md on every run).
NOTE = [
    "What changed on the chat path since 14ccc49 (issue 19 point 7):",
    "",
    "- Off the path because the request does not use them: the response cache",
    "  (`Gateway._cache_for`: only a request whose header or the configuration can",
    "  opt it in calls `cache/service.py`), model aliases (`Router.aliases` is None",
    "  when none are configured), the routing strategy for a plan of one deployment",
    "  (`routing/strategies.py`), and `store/keys.py` on an auth cache hit (the cache",
    "  is keyed by its own digest; the stored hash is needed only on a miss).",
    "- Merged: the body reading (`api/json_body.py` bounds, `api/heavy_body.py`",
    "  large bodies off the loop) is `api/http.py`'s again, where body parsing",
    "  was; a valid body is decoded once (its model name read from the parsed",
    "  request). `services(request)` is HTTP plumbing in `api/http.py`;",
    "  `services.py` only holds the container. The breaker is in",
    "  `routing/state.py`; `metering/estimate.py` became `tokens.py`.",
    "- Privacy: a small request's scan enters 3 modules (4 at 14ccc49): one",
    "  pre-filter pass runs a detector only where its trigger is in the text.",
    "- Added since the review and on every request: admission shared with the",
    "  Anthropic and Ollama routes (`api/dialect.py`), the database door",
    "  (`store/door.py`), the ledger journal (`metering/journal.py`) and local",
    "  sampling defaults (`engines/llamacpp_sampling.py`).",
    "- Off the path again (they had come with other work): local tool handling",
    "  (`llamacpp_tools.py`, `llamacpp_tool_choice.py`) runs only for a request",
    "  with tools, a tool choice or tool turns in its history; the batch runner",
    "  hooks the gateway (`on_interactive`) only while a batch line that could",
    "  be pre-empted is in flight, so no `batches/` code runs otherwise; a",
    "  loaded local model checks a flag instead of entering `engines/lazy_load.py`",
    "  (`llamacpp.load = on_first_use`, not configured here).",
    "- Packages: 9 on both; `batches/` is off the path again, no other package",
    "  could go without moving modules for the count's sake.",
    "- A cache's reload is not the request's work, but a request that outlasts",
    "  the cache (2 s for billing's limits) reloads it each time: `billing/",
    "  accounts.py` is then in every steady request. The script sets",
    "  OMP_WAIT_POLICY=passive (llama.cpp's spinning threads made HEAD's chats",
    "  take 3-17 s on the loaded machine); the table says how long the slowest",
    "  steady request took (traced, so slower than untraced).",
    "- HEAD measured from `git archive HEAD` (PYTHONPATH), as 14ccc49 is, so",
    "  uncommitted work in the tree is not counted.",
    "- Each window lasts until the request's ledger row is committed (the script",
    "  awaits the recorder's flush), on both commits; that call makes",
    "  `metering/recorder.py` a reader's module on both.",
]


def _markdown(runs: dict[str, Any]) -> str:
    lines = [
        "# Modules one non-streamed local chat request runs code in",
        "",
        "Command: see benchmarks/request_path.py; the measures are defined in",
        "benchmarks/module_trace.py. **traced**: files under src/plinth/ whose functions",
        "ran while the request was in flight (its ledger write included). **reader's**:",
        "the traced modules entered from outside their own package (a package's",
        "internals behind its facade not counted). **packages**: directories crossed,",
        "top-level modules as one group '(top)'. Background pollers are kept out of",
        "the window (QUIET in the script). Steady state: the modules each of five",
        "requests after the first ran code in (a cache's periodic reload not counted).",
        "",
        *NOTE,
        "",
        "| code | traced, first request | traced, steady | reader's, steady"
        " | packages (steady) | slowest steady request |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, run in runs.items():
        crossed = packages(run["steady"])
        slowest = f"{run['slowest_s']:.2f} s" if "slowest_s" in run else "-"
        lines.append(
            f"| {label} ({run['date']}) | {len(run['first'])} | {len(run['steady'])}"
            f" | {len(run['steady_reader'])} | {len(crossed)}: {', '.join(crossed)}"
            f" | {slowest} |"
        )
    for label, run in runs.items():
        reader = set(run["steady_reader"])
        lines += ["", f"## {label}, steady state (* = also a reader's module)", ""]
        lines += [f"- {m}{' *' if m in reader else ''}" for m in run["steady"]]
    return "\n".join(lines) + "\n"


def main(label: str) -> None:
    module_trace.start()
    with tempfile.TemporaryDirectory() as data:
        quiet = {k: v for k, v in QUIET.items() if k in Settings.model_fields}
        settings = Settings(data_dir=Path(data), admin_key=ADMIN, **quiet)
        with TestClient(create_app(settings)) as client:
            first = module_trace.traced(lambda: _request(client))
            seconds: list[float] = []

            def timed() -> None:
                started = time.perf_counter()
                _request(client)
                seconds.append(time.perf_counter() - started)

            steady = module_trace.every([timed] * 5)
    module_trace.stop()
    path = RESULTS / "request_path.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    runs[label] = {
        "date": stamp,
        "first": first["modules"],
        "steady": steady["modules"],
        "steady_reader": steady["reader"],
        "slowest_s": round(max(seconds), 3),
    }
    path.write_text(json.dumps(runs, indent=1) + "\n")
    (RESULTS / "request_path.md").write_text(_markdown(runs))
    print(
        f"{label}: traced first {len(first['modules'])}, steady {len(steady['modules'])};"
        f" reader's {len(steady['reader'])}; packages {len(packages(steady['modules']))};"
        f" slowest steady request {max(seconds):.2f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("label", nargs="?", default="now", help="this run's name in the results")
    main(parser.parse_args().label)
