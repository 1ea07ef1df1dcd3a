"""The idle lane's child process: llama.cpp's own HTTP server at the lowest CPU priority.

Started by :mod:`plinth.batches.idle_lane` as ``python -m plinth.batches.lane_child``
with one JSON line on stdin (the model, its engine options, the port and the
key). It loads the model at normal priority (at SCHED_IDLE on a busy machine
it might never load), then lowers every thread it has to the lowest priority
(threads created later inherit it from their creator), so the server runs
only on CPU time nothing else wants: the kernel, not Plinth, gives a core to
an interactive request the instant one needs it, even mid prompt-evaluation.
It then answers one JSON line on stdout (its priority and tool verdict).

stdin stays open while the parent lives: at its end (the parent stopped or
died) this process exits, so a lane never outlives its server.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


def _threads() -> list[int]:
    """This process's thread ids (Linux: priorities are per thread), else [0]."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def lower_priority(wanted: str) -> str:
    """Give every thread of this process the lowest CPU priority the platform offers:
    ``SCHED_IDLE`` (Linux) if ``wanted`` is "idle", else 19 nice steps below the server
    (nice 19 for a server at 0; under a server run at nice -20, -1). Returns what it got."""
    if wanted == "idle" and hasattr(os, "SCHED_IDLE"):
        try:
            for tid in _threads():
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            return "idle"
        except OSError:
            pass  # refused (a container's seccomp): nice is the next best
    if sys.platform.startswith("linux"):
        for tid in _threads():
            niceness = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, niceness + 19))
        return "nice"
    if hasattr(os, "nice"):  # elsewhere nice is the whole process's
        os.nice(19)  # the kernel stops at 19
        return "nice"
    return "normal"


def serve(config: dict[str, Any]) -> tuple[Any, bool]:
    """llama.cpp's HTTP server for the model, with the in-process engine's parameters,
    and whether tools go through the model's own template (as the engine decides)."""
    import xllamacpp

    from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from plinth.engines.llamacpp_template_caps import native_tool_calls

    options = LlamaCppOptions(**config["options"])
    engine = LlamaCppEngine(config["model"], "chat", Path(config["path"]), options)
    params = engine._params()  # exactly the in-process engine's: the same outputs
    params.port, params.hostnames, params.api_keys = config["port"], ["127.0.0.1"], [config["key"]]
    server = xllamacpp.Server(params)
    return server, native_tool_calls(server, params)


def wait_healthy(port: int, key: str, within_s: float = 60.0) -> None:
    """Until llama.cpp's server answers, still at normal priority: at SCHED_IDLE on a
    busy machine its answer might never come, and the parent would give up on it."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/health", headers={"authorization": f"Bearer {key}"}
    )
    deadline = time.monotonic() + within_s
    while True:
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def main() -> None:
    config = json.loads(sys.stdin.readline())
    server, native_tools = serve(config)
    wait_healthy(config["port"], config["key"])
    got = lower_priority(config["priority"])
    print(json.dumps({"priority": got, "native_tools": native_tools}), flush=True)
    sys.stdin.read()  # until the parent closes it or dies
    del server
    os._exit(0)  # llama.cpp's destructor joins threads: nothing left worth waiting for


if __name__ == "__main__":
    main()
