"""Plinth's memory: idle RSS, and RSS after repeated runs of 10,000 mixed requests.

    .venv/bin/python benchmarks/memory_soak.py                # 5 x 10,000: results/memory_soak.*
    .venv/bin/python benchmarks/memory_soak.py --tracemalloc  # + where Python's memory grew
    .venv/bin/python benchmarks/memory_soak.py --quick        # 1,000 requests x 3, prints only
    .venv/bin/python benchmarks/memory_soak.py --prompt-cache-mib 8192  # llama.cpp's default

One ``plinth serve`` at its defaults (the bundled chat model and embedder
load at their first request, in the warm-up) with one extra deployment, ``mock-gpt``, at a mock
OpenAI-compatible upstream (10 ms, then the answer; streamed: 10 chunks). A
client key drives it at concurrency 8 with a fixed mix, per 100 requests:

- 50 chat completions at the mock, non-streamed; 33 streamed;
- 10 embeddings (2 inputs each) on the local embedder;
- 2 chat completions on the local model (``max_tokens`` 4; one streamed);
- 5 errors: 2 unknown models (404), 2 invalid bodies (400), 1 bad key (401).

Every answer is checked (content, status). The server is measured from inside
(``probe``, on SIGUSR1, 2 s after the load stops) when idle after start-up,
after a warm-up of 500 requests, and after each of 5 runs of 10,000: RSS
(``VmRSS``, ``RssAnon``) as it is, then after ``gc.collect()`` and glibc's
``malloc_trim(0)`` (what those give back was garbage or free-but-held, not a
leak), glibc's ``mallinfo2`` (in use / free held), SQLite's own memory, live
objects by type, asyncio tasks and threads. ``--only`` runs some kinds alone,
to find which one grows; ``--tracemalloc`` traces Python's allocations (25
frames; slow) and lists the biggest growths by allocation site.

The leak check (``verdict``) compares the last two runs, when caches that fill
by design (llama.cpp's prompt cache, bounded by ``llamacpp.prompt_cache_mib``;
SQLite's page and statement caches; thread pools and their malloc arenas) have
filled. Evidence for its thresholds (results/memory_soak.md): a real leak found
with this soak (every ledger batch size a new prepared INSERT kept by SQLite,
fixed in store/usage.py) grew ~5 KiB per request, 50 MiB per 10,000; after the
fix, memory in use moved by at most a few MiB per 10,000 requests.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ctypes
import gc
import itertools
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN = "sk-bench-memory-admin-0123456789abcdef"
ANSWER = "The quick brown fox jumps over the lazy dog."
LOCAL_CHAT = "smollm2-135m-instruct"
EMBEDDER = "all-minilm-l6-v2"
MIX = (
    ["mock"] * 50
    + ["mock_stream"] * 33
    + ["embed"] * 10
    + ["local"]
    + ["local_stream"]
    + ["unknown_model"] * 2
    + ["bad_body"] * 2
    + ["bad_key"]
)


# --- child processes ---------------------------------------------------------------------


def mock_upstream(port: int) -> None:
    """An OpenAI-compatible chat upstream: 10 ms, then the answer (streamed: 10 chunks)."""
    from aiohttp import web

    words = ANSWER.split(" ")

    def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "mock-gpt",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    usage = {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22}
    whole = json.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "mock-gpt",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
    )
    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
    frames.append(chunk({}, "stop"))
    usage_frame = (
        b"data: "
        + json.dumps(
            {
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": "mock-gpt",
                "choices": [],
                "usage": usage,
            }
        ).encode()
        + b"\n\n"
    )

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        await asyncio.sleep(0.01)
        if not body.get("stream"):
            return web.Response(text=whole, content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for frame in frames:
            await response.write(frame)
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(usage_frame)
        await response.write(b"data: [DONE]\n\n")
        return response

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "mock-gpt"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (all arenas summed), in bytes."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",  # bytes the arenas took from the system with brk/mmap
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",  # bytes in chunks mmapped one by one (large blocks)
            "usmblks",
            "fsmblks",
            "uordblks",  # bytes in use in the arenas
            "fordblks",  # bytes free in the arenas: held, not returned to the system
            "keepcost",
        )
    ]


def _mallinfo(libc: Any) -> dict[str, float]:
    info = _MallInfo2()
    if hasattr(libc, "mallinfo2"):
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    mib = 1024 * 1024
    return {
        "malloc_in_use": round((info.uordblks + info.hblkhd) / mib, 1),
        "malloc_free_held": round(info.fordblks / mib, 1),
    }


def _sqlite_memory() -> dict[str, float]:
    """MiB SQLite holds in this process: all of it, and its page caches' part
    (``SQLITE_STATUS_PAGECACHE_OVERFLOW``: page caches come from malloc here), from the
    library the sqlite3 module is linked to (the same loaded copy: dlopen finds it)."""
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        return {}
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    current, highest = ctypes.c_int(), ctypes.c_int()
    lib.sqlite3_status(2, ctypes.byref(current), ctypes.byref(highest), 0)
    return {
        "sqlite_mib": round(lib.sqlite3_memory_used() / 2**20, 2),
        "sqlite_page_cache_mib": round(current.value / 2**20, 2),
    }


def _open_databases() -> int:
    """Open SQLite connections: file descriptors on a ``.db`` file (one per connection)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").endswith((".db", ".sqlite", ".sqlite3"))
        except OSError:
            continue
    return count


def _exceptions_held(objects: list[Any], limit: int = 3) -> list[str]:
    """What keeps the newest few live exceptions alive: their referrers, three levels up
    (an exception kept past its request keeps its traceback's frames and their locals)."""
    found = [o for o in objects if isinstance(o, BaseException)][-limit:]
    chains = []
    for exc in found:
        chain, current = [type(exc).__qualname__], exc
        for _ in range(3):
            holders = [r for r in gc.get_referrers(current) if r is not objects and r is not found]
            if not holders:
                break
            current = holders[0]
            chain.append(type(current).__qualname__)
        chains.append(" <- ".join(chain))
    return chains


def probe(folder: Path, number: int, traced: bool) -> None:
    """What one process's memory is made of, to ``<folder>/<number>.json`` (and with
    ``traced`` a tracemalloc snapshot to ``<number>.snap``). Runs in the server's main
    thread, between two steps of its event loop: the server is idle when it is asked.

    RSS is read before and after ``malloc_trim(0)``: what the trim gives back was free
    but held by glibc's arenas, not in use; growth that survives it is memory in use.
    """
    libc = ctypes.CDLL("libc.so.6")
    before = rss(os.getpid())
    malloc = _mallinfo(libc)
    # Garbage in reference cycles (an exception, its traceback and frames) waits for the
    # cyclic collector, whose thresholds serve raises (server/run.py): collect it first so
    # what follows is memory still referenced.
    uncollected = len(gc.get_objects())
    gc.collect()
    libc.malloc_trim(0)
    loop = asyncio.events._get_running_loop()
    objects = gc.get_objects()
    types = collections.Counter(type(o).__qualname__ for o in objects)
    record: dict[str, Any] = {
        "rss": before,
        "rss_trimmed": rss(os.getpid()),
        **malloc,
        "gc_objects_uncollected": uncollected,
        "gc_objects": len(objects),
        "gc_types": dict(types.most_common(400)),
        "asyncio_tasks": len(asyncio.all_tasks(loop)) if loop else None,
        "threads": len(os.listdir("/proc/self/task")),
        "python_allocated_blocks": sys.getallocatedblocks(),
        **_sqlite_memory(),
        "sqlite_connections": _open_databases(),
    }
    record["exceptions_held"] = _exceptions_held(objects)
    del objects
    if traced:
        record["python_traced_mib"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 2)
        record["tracemalloc_own_mib"] = round(tracemalloc.get_tracemalloc_memory() / 2**20, 2)
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        snapshot.dump(str(folder / f"{number}.snap"))
    tmp = folder / f"{number}.json.tmp"
    tmp.write_text(json.dumps(record))
    os.rename(tmp, folder / f"{number}.json")


def serve_plinth(port: int, data: str, probes: str, traced: bool) -> None:
    """``plinth serve`` in this process, SIGUSR1 writing a probe (``probe``) to
    ``<probes>/<n>.json``; with ``traced``, tracemalloc on (25 frames)."""
    if traced:
        tracemalloc.start(25)
    taken = 0

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal taken
        taken += 1
        probe(Path(probes), taken, traced)

    signal.signal(signal.SIGUSR1, on_signal)
    from plinth.cli import main as plinth

    sys.argv = ["plinth", "serve", "--port", str(port), "--data-dir", data]
    plinth()


def ledger_statements(batches: int) -> None:
    """SQLite's memory after ledger batches of random sizes (1..300 rows), written as one
    statement per batch (before the fix) and in power-of-two chunks (store/usage.py), each
    into its own database on one connection; and the CPU per row of each."""
    import random
    from datetime import UTC

    import plinth.store.usage as ledger
    from plinth.store.database import open_database

    lib = ctypes.CDLL("libsqlite3.so.0")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    chunked = ledger._power_of_two_chunks
    for name, chunks in (("one statement per batch", lambda rows: [rows]), ("chunked", chunked)):
        ledger._power_of_two_chunks = chunks
        with tempfile.TemporaryDirectory() as folder:
            engine = open_database(f"sqlite:///{folder}/plinth.db")
            store, rng, written, cpu = ledger.UsageStore(engine), random.Random(1), 0, 0.0
            start = lib.sqlite3_memory_used()
            for _ in range(batches):
                now = datetime.now(UTC)
                rows = [
                    ledger.UsageRecord(f"r{written + i}", now, "k", "chat", "m", "ok", 200)
                    for i in range(rng.randint(1, 300))
                ]
                written += len(rows)
                began = time.process_time()
                store.append(rows)
                cpu += time.process_time() - began
            grown = (lib.sqlite3_memory_used() - start) / 2**20
            engine.dispose()
        print(
            f"{name}: {batches} batches, {written} rows: SQLite +{grown:.1f} MiB, "
            f"{cpu / written * 1e6:.0f} us CPU per row"
        )
    ledger._power_of_two_chunks = chunked


# --- helpers -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon and VmHWM of a process in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "RssAnon", "VmHWM"):
            values[name] = round(int(rest.split()[0]) / 1024, 1)
    return values


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"plinth serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    raise RuntimeError("plinth serve did not become ready")


def _client_key(base: str) -> str:
    request = urllib.request.Request(
        base + "/admin/keys",
        data=json.dumps({"name": "soak"}).encode(),
        headers={"authorization": f"Bearer {ADMIN}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["key"])


# --- the load ----------------------------------------------------------------------------


def _request(kind: str, n: int) -> tuple[str, dict[str, Any], int]:
    """(path, body, expected status) of request ``n`` of a kind; texts vary with ``n``."""
    text = f"Request {n}: summarise the note about order {n * 7919 % 100_000} in one line."
    chat = {"messages": [{"role": "user", "content": text}]}
    if kind in ("mock", "mock_stream"):
        body = {**chat, "model": "mock-gpt", "stream": kind == "mock_stream"}
        return "/v1/chat/completions", body, 200
    if kind == "embed":
        return "/v1/embeddings", {"model": EMBEDDER, "input": [text, text[::-1]]}, 200
    if kind in ("local", "local_stream"):
        body = {**chat, "model": LOCAL_CHAT, "max_tokens": 4, "stream": kind == "local_stream"}
        return "/v1/chat/completions", body, 200
    if kind == "unknown_model":
        return "/v1/chat/completions", {**chat, "model": f"no-such-model-{n % 50}"}, 404
    if kind == "bad_body":
        return "/v1/chat/completions", {"model": "mock-gpt", "messages": "not a list"}, 400
    return "/v1/chat/completions", {**chat, "model": "mock-gpt"}, 401  # bad_key


async def _one(session: Any, base: str, key: str, kind: str, n: int) -> None:
    path, body, expected = _request(kind, n)
    auth = "sk-plinth-not-a-key-0000000000" if kind == "bad_key" else key
    headers = {"authorization": f"Bearer {auth}"}
    async with session.post(base + path, json=body, headers=headers) as response:
        raw = await response.read()
    if response.status != expected:
        raise RuntimeError(f"{kind}: {response.status} (expected {expected}): {raw[:300]!r}")
    if expected != 200:
        return
    if body.get("stream"):
        text = raw.decode()
        events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
        if events[-1] != "[DONE]":
            raise RuntimeError(f"{kind}: stream did not end with [DONE]")
        content = "".join(
            choice["delta"].get("content") or ""
            for event in events[:-1]
            for choice in json.loads(event).get("choices", [])
        )
        if kind == "mock_stream" and content != ANSWER:
            raise RuntimeError(f"{kind}: streamed content {content!r}")
        return
    answer = json.loads(raw)
    if kind == "embed":
        if len(answer["data"]) != 2 or len(answer["data"][0]["embedding"]) != 384:
            raise RuntimeError(f"embed: unexpected answer {str(answer)[:200]}")
    elif kind == "mock" and answer["choices"][0]["message"]["content"] != ANSWER:
        raise RuntimeError(f"mock: content {answer['choices'][0]['message']['content']!r}")
    elif kind == "local" and not answer["choices"]:
        raise RuntimeError("local: no choices")


async def _run(
    base: str, key: str, requests: int, concurrency: int, offset: int, mix: list[str]
) -> float:
    """Send ``requests`` of the mix at ``concurrency``; the wall time in seconds."""
    import aiohttp

    counter = iter(range(requests))
    timeout = aiohttp.ClientTimeout(total=120)
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def worker() -> None:
            for n in counter:
                await _one(session, base, key, mix[n % len(mix)], offset + n)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


# --- the soak ----------------------------------------------------------------------------


def _probe(pid: int, folder: Path, number: int) -> dict[str, Any]:
    """Ask the server for a probe (SIGUSR1) and wait for it."""
    os.kill(pid, signal.SIGUSR1)
    path = folder / f"{number}.json"
    deadline = time.monotonic() + 600  # a tracemalloc snapshot takes a while
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the server wrote no probe")
        time.sleep(0.2)
    return dict(json.loads(path.read_text()))


def _where(frames: Any, depth: int = 4) -> str:
    """The innermost frames of a traceback (tracemalloc lists them oldest first), the
    allocating line first."""
    inner = list(frames)[-depth:][::-1]
    return " <- ".join(f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in inner)


def _top_growth(first: Path, last: Path, limit: int = 12) -> list[str]:
    """The biggest growths of Python memory between two snapshots, by allocation site
    (the whole 25-frame traceback, shown by its innermost frames)."""
    before = tracemalloc.Snapshot.load(str(first))
    after = tracemalloc.Snapshot.load(str(last))
    return [
        f"{stat.size_diff / 1024:+.1f} KiB ({stat.count_diff:+d} blocks, "
        f"{stat.size / 1024:.0f} KiB now): {_where(stat.traceback)}"
        for stat in after.compare_to(before, "traceback")[:limit]
    ]


def _type_growth(first: dict[str, int], last: dict[str, int], limit: int = 15) -> list[str]:
    """The object types whose live count grew most (gc-tracked objects)."""
    grew = {t: last.get(t, 0) - first.get(t, 0) for t in set(first) | set(last)}
    top = sorted(grew.items(), key=lambda item: -item[1])[:limit]
    return [f"{name} {diff:+d} ({last.get(name, 0)} live)" for name, diff in top if diff > 0]


def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    script = str(Path(__file__).resolve())
    processes: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, script, *argv],
            env={**os.environ, **env},
            stdout=(work / log).open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(proc)
        return proc

    try:
        up_port, port = _free_port(), _free_port()
        start(["--mock-upstream", str(up_port)], {}, "mock.log")
        config = work / "plinth.toml"
        config.write_text(
            'log_level = "warning"\n'
            f'[[deployments]]\nmodel = "mock-gpt"\nbase_url = "http://127.0.0.1:{up_port}/v1"\n'
            'api_key_env = "MOCK_UPSTREAM_API_KEY"\n'
        )
        probes = work / "probes"
        probes.mkdir()
        env = {
            "PLINTH_CONFIG": str(config),
            "PLINTH_ADMIN_KEY": ADMIN,
            "MOCK_UPSTREAM_API_KEY": "x",
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive"),
        }
        traced = "1" if args.tracemalloc else ""
        argv = ["--serve-plinth", str(port), str(work / "data"), str(probes), traced]
        server = start(argv, env, "plinth.log")
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, server)
        key = _client_key(base)
        mix = [kind for kind in MIX if not args.only or kind in args.only.split(",")]
        points: list[dict[str, Any]] = []
        types: list[dict[str, int]] = []

        def measure(when: str, extra: dict[str, Any]) -> None:
            time.sleep(2)  # let the last responses' tasks and callbacks finish
            found = _probe(server.pid, probes, len(points) + 1)
            types.append(found.pop("gc_types"))
            points.append({"when": when, **extra, **found})
            print(json.dumps(points[-1]), flush=True)

        time.sleep(1)
        measure("idle after start-up", {})
        asyncio.run(_run(base, key, args.warmup, args.concurrency, 0, mix))
        measure(f"after a warm-up of {args.warmup:,}", {})
        for run in range(1, args.runs + 1):
            wall = asyncio.run(
                _run(base, key, args.requests, args.concurrency, run * args.requests, mix)
            )
            measure(
                f"after run {run} ({args.requests:,} requests)",
                {"wall_s": round(wall, 1), "requests_per_s": round(args.requests / wall, 1)},
            )
        first_run, last = len(points) - args.runs, len(points)
        growth: dict[str, list[str]] = {"types_first_to_last_run": [], "sites_last_runs": []}
        growth["types_first_to_last_run"] = _type_growth(types[first_run], types[-1])
        if args.tracemalloc and args.runs > 1:
            growth["sites_first_to_last_run"] = _top_growth(
                probes / f"{first_run + 1}.snap", probes / f"{last}.snap"
            )
            growth["sites_last_runs"] = _top_growth(
                probes / f"{last - 1}.snap", probes / f"{last}.snap"
            )
        return {"points": points, "growth": growth}
    except Exception:
        log = work / "plinth.log"
        if log.exists():
            print(log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


# The leak criterion, per 10,000 requests between the last two runs. The leak found here
# grew ~50 MiB per 10,000; after its fix the default soak's last steps were +1.3 and
# +0.1 MiB; Python's heap still grows ~1 MiB per 10,000 while the embedder's word cache
# fills to its bound (results/memory_soak_diagnosis.md).
PYTHON_STEP_MIB = 2.0
RSS_STEP_MIB = 4.0


def verdict(points: list[dict[str, Any]], requests: int, cache_mib: int) -> tuple[bool, str]:
    """Whether the soak shows a leak: memory in use that still grows between the last two
    runs, in Python's heap or outside it, beyond what the prompt cache's bound allows."""
    runs = [p for p in points if p["when"].startswith("after run")]
    if len(runs) < 3:
        return True, "not assessed: fewer than 3 runs"
    scale = requests / 10_000
    a, b = runs[-2], runs[-1]
    rss_step = b["rss_trimmed"]["RssAnon"] - a["rss_trimmed"]["RssAnon"]
    rss_limit = RSS_STEP_MIB * scale
    # The prompt cache may still be filling: its growth is allowed up to the bound.
    filled = b["rss_trimmed"]["RssAnon"] - points[1]["rss_trimmed"]["RssAnon"]
    cache_left = max(0.0, cache_mib - (filled - rss_step))
    allowed = rss_limit + cache_left
    checks = [
        (
            rss_step <= allowed,
            f"RssAnon after malloc_trim, last step {rss_step:+.1f} MiB <= {allowed:.1f} "
            f"({RSS_STEP_MIB:g} MiB per 10,000 requests"
            + (f" + up to {cache_left:.0f} MiB of prompt cache not yet full" if cache_left else "")
            + ")",
        )
    ]
    if "python_traced_mib" in b:
        py_step = b["python_traced_mib"] - a["python_traced_mib"]
        checks.append(
            (
                py_step <= PYTHON_STEP_MIB * scale,
                f"Python heap (tracemalloc), last step {py_step:+.2f} MiB "
                f"<= {PYTHON_STEP_MIB * scale:.2f}",
            )
        )
    ok = all(passed for passed, _ in checks)
    text = "; ".join(f"{'pass' if passed else 'FAIL'}: {what}" for passed, what in checks)
    return ok, text


def _report(result: dict[str, Any], meta: dict[str, Any]) -> str:
    points = result["points"]
    runs = [p for p in points if p["when"].startswith("after run")]
    lines = [
        "# Memory: idle RSS and RSS after repeated runs of mixed requests",
        "",
        f"{meta['when']}, Python {meta['python']}, {meta['cpus']} CPUs, {meta['machine']}; "
        f"load average {meta['load_before']} before, {meta['load_after']} after (1/5/15 min). "
        f"Command: `{meta['command']}`.",
        "",
        "One `plinth serve` at its defaults (the bundled chat model and embedder load at "
        "their first request, in the warm-up) plus a "
        "`mock-gpt` deployment at a mock upstream; a client key at concurrency "
        f"{meta['concurrency']}; per 100 requests 50 mock chat, 33 mock chat streamed, 10 "
        "local embeddings (2 inputs), 1 local chat + 1 streamed (4 tokens), 2 unknown models "
        "(404), 2 invalid bodies (400), 1 bad key (401); every answer checked. "
        + (
            "The server ran with tracemalloc on (25 frames), which adds to its RSS. "
            if meta["tracemalloc"]
            else ""
        )
        + "Each row is read inside the server, 2 s after the run: RSS from "
        "`/proc/self/status`, glibc's `mallinfo2` (bytes in use; free but held), then "
        "`malloc_trim(0)` and RSS again, live gc-tracked objects, asyncio tasks, threads. "
        "llama.cpp's prompt cache "
        f"(`llamacpp.prompt_cache_mib`, {meta['prompt_cache_mib']} MiB here) fills with the "
        "local chat requests' prompts up to its bound: RSS may rise until it is full.",
        "",
        "| when | VmRSS | RssAnon | RssAnon trimmed | malloc in use | malloc free held "
        "| SQLite | Python traced | pymalloc blocks | gc objects | tasks | threads | req/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p['when']} | {p['rss']['VmRSS']} | {p['rss']['RssAnon']} "
            f"| {p['rss_trimmed']['RssAnon']} | {p['malloc_in_use']} | {p['malloc_free_held']} "
            f"| {p.get('sqlite_mib', '')} | {p.get('python_traced_mib', '')} "
            f"| {p['python_allocated_blocks']:,} "
            f"| {p['gc_objects']:,} | {p['asyncio_tasks']} "
            f"| {p['threads']} | {p.get('requests_per_s', '')} |"
        )
    lines.append("")
    lines.append(
        "MiB except counts. RssAnon trimmed: after `gc.collect()` and `malloc_trim(0)`; "
        "malloc: glibc's arenas and mmapped blocks (native and Python's larger objects); "
        "SQLite: `sqlite3_memory_used`; pymalloc blocks: `sys.getallocatedblocks()` "
        "(Python's small objects); gc objects: tracked objects created after start-up "
        "(serve freezes the rest)."
    )
    if len(runs) > 1:
        steps = [
            b["rss_trimmed"]["RssAnon"] - a["rss_trimmed"]["RssAnon"]
            for a, b in itertools.pairwise(runs)
        ]
        lines += [
            "",
            f"RssAnon after malloc_trim, run to run: {', '.join(f'{s:+.1f}' for s in steps)} MiB.",
        ]
    ok, text = verdict(points, meta["requests"], meta["prompt_cache_mib"])
    lines += ["", f"**Leak check: {'pass' if ok else 'FAIL'}** ({text})."]
    growth = result["growth"]
    if growth.get("types_first_to_last_run"):
        lines += ["", "## Live objects: biggest growth from the first run to the last", ""]
        lines += [f"- {line}" for line in growth["types_first_to_last_run"]]
    for key, title in (
        ("sites_first_to_last_run", "from the first run to the last"),
        ("sites_last_runs", "between the last two runs"),
    ):
        if growth.get(key):
            lines += ["", f"## tracemalloc: biggest growth {title}, by allocation site", ""]
            lines += [f"- {line}" for line in growth[key]]
    return "\n".join(lines) + "\n"


def _prompt_cache_mib() -> int:
    from plinth.settings import LlamaCppSettings

    configured = os.environ.get("PLINTH_LLAMACPP__PROMPT_CACHE_MIB")
    return int(configured) if configured else LlamaCppSettings().prompt_cache_mib


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument(
        "--only",
        help="only these kinds of the mix (comma-separated: mock, mock_stream, embed, local, "
        "local_stream, unknown_model, bad_body, bad_key), to find which one grows; prints only",
    )
    parser.add_argument(
        "--prompt-cache-mib",
        type=int,
        help="the server's llamacpp.prompt_cache_mib (8192 is llama.cpp's own default); "
        "results then go to memory_soak_prompt_cache_<N>.*",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 requests x 3, prints only")
    parser.add_argument(
        "--report-from", type=Path, help="rewrite the .md of a results .json (no soak)"
    )
    parser.add_argument(
        "--ledger-statements",
        type=int,
        metavar="BATCHES",
        help="only SQLite's memory after BATCHES ledger batches, one statement per batch "
        "vs power-of-two chunks (store/usage.py)",
    )
    parser.add_argument("--mock-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-plinth", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mock_upstream:
        mock_upstream(args.mock_upstream)
        return
    if args.serve_plinth:
        port, data, probes, traced = args.serve_plinth
        serve_plinth(int(port), data, probes, bool(traced))
        return
    if args.ledger_statements:
        ledger_statements(args.ledger_statements)
        return
    if args.report_from:
        saved = json.loads(args.report_from.read_text())
        args.report_from.with_suffix(".md").write_text(_report(saved, saved["meta"]))
        return
    if args.quick:
        args.requests, args.runs, args.warmup = 1000, 3, 200
    if args.prompt_cache_mib is not None:  # the server inherits the environment
        os.environ["PLINTH_LLAMACPP__PROMPT_CACHE_MIB"] = str(args.prompt_cache_mib)
    # A terminated soak (timeout) still stops its server and mock: they run in their own
    # sessions, out of reach of a signal to this process's group.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as work:
        result = soak(args, Path(work))
    command = ".venv/bin/python benchmarks/memory_soak.py" + (
        " --tracemalloc" if args.tracemalloc else ""
    )
    if args.prompt_cache_mib is not None:
        command += f" --prompt-cache-mib {args.prompt_cache_mib}"
    if args.requests != 10_000:
        command += f" --requests {args.requests}"
    if args.runs != 5:
        command += f" --runs {args.runs}"
    if args.warmup != 500:
        command += f" --warmup {args.warmup}"
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "concurrency": args.concurrency,
        "requests": args.requests,
        "tracemalloc": args.tracemalloc,
        "prompt_cache_mib": _prompt_cache_mib(),
        "command": command
        + (" --quick" if args.quick else "")
        + (f" --only {args.only}" if args.only else ""),
    }
    report = _report(result, meta)
    print(report)
    if args.quick or args.only:
        return
    name = "memory_soak"
    if args.prompt_cache_mib is not None:
        name += f"_prompt_cache_{args.prompt_cache_mib}"
    if args.tracemalloc:
        name += "_tracemalloc"
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, **result}, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(report)
    if not verdict(result["points"], args.requests, meta["prompt_cache_mib"])[0]:
        sys.exit(1)  # a leak: the report says where


if __name__ == "__main__":
    main()
