"""Plinth's memory: idle RSS, and RSS after repeated runs of 10,000 mixed requests.

    .venv/bin/python benchmarks/memory_soak.py                # writes results/memory_soak.{json,md}
    .venv/bin/python benchmarks/memory_soak.py --tracemalloc  # + where Python's memory grew
    .venv/bin/python benchmarks/memory_soak.py --quick        # 1,000 requests x 2, prints only
    .venv/bin/python benchmarks/memory_soak.py --prompt-cache-mib 8192  # llama.cpp's default

One ``plinth serve`` at its defaults (bundled models loaded: the local chat
model and the embedder) with one extra deployment, ``mock-gpt``, at a mock
OpenAI-compatible upstream (10 ms, then the answer; streamed: 10 chunks). A
client key drives it at concurrency 8 with a fixed mix, per 100 requests:

- 50 chat completions at the mock, non-streamed; 33 streamed;
- 10 embeddings (2 inputs each) on the local embedder;
- 2 chat completions on the local model (``max_tokens`` 4; one streamed);
- 5 errors: 2 unknown models (404), 2 invalid bodies (400), 1 bad key (401).

Every answer is checked (content, status). RSS (``VmRSS`` and its anonymous
part ``RssAnon``, from ``/proc/<pid>/status``) is read when the server is
idle after start-up, after a warm-up of 500 requests, and after each run of
10,000 (the same run three times: a leak shows as RSS that keeps rising from
run to run). With ``--tracemalloc`` the server traces Python allocations (25
frames) and dumps a snapshot after each run; the report lists the 15 biggest
growths between the first and the last run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import signal
import socket
import statistics
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


def serve_plinth(port: int, data: str, snapshots: str) -> None:
    """``plinth serve`` in this process; with ``snapshots``, tracemalloc on and SIGUSR1
    dumping a snapshot to ``<snapshots>/<n>.snap``."""
    if snapshots:
        tracemalloc.start(25)
        taken = 0

        def dump(_signum: int, _frame: object) -> None:
            nonlocal taken
            taken += 1
            path = Path(snapshots) / f"{taken}.snap"
            tracemalloc.take_snapshot().dump(str(path) + ".tmp")
            os.rename(str(path) + ".tmp", path)

        signal.signal(signal.SIGUSR1, dump)
    from plinth.cli import main as plinth

    sys.argv = ["plinth", "serve", "--port", str(port), "--data-dir", data]
    plinth()


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


async def _run(base: str, key: str, requests: int, concurrency: int, offset: int) -> float:
    """Send ``requests`` of the mix at ``concurrency``; the wall time in seconds."""
    import aiohttp

    counter = iter(range(requests))
    timeout = aiohttp.ClientTimeout(total=120)
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def worker() -> None:
            for n in counter:
                await _one(session, base, key, MIX[n % len(MIX)], offset + n)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


# --- the soak ----------------------------------------------------------------------------


def _snapshot(pid: int, folder: Path, number: int) -> Path:
    os.kill(pid, signal.SIGUSR1)
    path = folder / f"{number}.snap"
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("no tracemalloc snapshot")
        time.sleep(0.2)
    return path


def _top_growth(first: Path, last: Path, limit: int = 15) -> list[str]:
    before = tracemalloc.Snapshot.load(str(first))
    after = tracemalloc.Snapshot.load(str(last))
    lines = []
    for stat in after.compare_to(before, "traceback")[:limit]:
        frames = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in stat.traceback]
        where = " ← ".join(frames[:4])
        lines.append(f"{stat.size_diff / 1024:+.1f} KiB ({stat.count_diff:+d} blocks): {where}")
    return lines


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
        snapshots = work / "snapshots" if args.tracemalloc else None
        if snapshots:
            snapshots.mkdir()
        env = {
            "PLINTH_CONFIG": str(config),
            "PLINTH_ADMIN_KEY": ADMIN,
            "MOCK_UPSTREAM_API_KEY": "x",
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive"),
        }
        argv = ["--serve-plinth", str(port), str(work / "data"), str(snapshots or "")]
        server = start(argv, env, "plinth.log")
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, server)
        key = _client_key(base)
        time.sleep(3)
        points = [{"when": "idle after start-up", **rss(server.pid)}]
        print(json.dumps(points[-1]), flush=True)
        wall = asyncio.run(_run(base, key, args.warmup, args.concurrency, 0))
        time.sleep(2)
        points.append({"when": f"after a warm-up of {args.warmup:,}", **rss(server.pid)})
        print(json.dumps(points[-1]), flush=True)
        snaps = []
        for run in range(1, args.runs + 1):
            wall = asyncio.run(
                _run(base, key, args.requests, args.concurrency, run * args.requests)
            )
            time.sleep(2)
            points.append(
                {
                    "when": f"after run {run} ({args.requests:,} requests)",
                    "wall_s": round(wall, 1),
                    "requests_per_s": round(args.requests / wall, 1),
                    **rss(server.pid),
                }
            )
            print(json.dumps(points[-1]), flush=True)
            if snapshots:
                snaps.append(_snapshot(server.pid, snapshots, run))
        growth = _top_growth(snaps[0], snaps[-1]) if len(snaps) > 1 else []
        return {"points": points, "tracemalloc_top_growth": growth}
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


TRACED = "The server ran with tracemalloc on (25 frames), which adds to its RSS. "


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
        "One `plinth serve` at its defaults (bundled chat model and embedder loaded) plus a "
        "`mock-gpt` deployment at a mock upstream; a client key at concurrency "
        f"{meta['concurrency']}; per 100 requests 50 mock chat, 33 mock chat streamed, 10 "
        "local embeddings (2 inputs), 1 local chat + 1 streamed (4 tokens), 2 unknown models "
        "(404), 2 invalid bodies (400), 1 bad key (401); every answer checked. "
        + (
            "The server ran with tracemalloc on (25 frames), which adds to its RSS. "
            if meta["tracemalloc"]
            else ""
        )
        + "RSS from `/proc/<pid>/status`, 2 s after each run. llama.cpp's prompt cache "
        f"(`llamacpp.prompt_cache_mib`, {meta['prompt_cache_mib']} MiB here) fills with the "
        "local chat requests' prompts up to its bound: RSS may rise until it is full.",
        "",
        "| when | VmRSS MiB | RssAnon MiB | VmHWM MiB | requests/s |",
        "|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p['when']} | {p['VmRSS']} | {p['RssAnon']} | {p['VmHWM']} "
            f"| {p.get('requests_per_s', '')} |"
        )
    if len(runs) > 1:
        steps = [b["VmRSS"] - a["VmRSS"] for a, b in itertools.pairwise(runs)]
        lines += [
            "",
            f"RSS from the first run to the last: {runs[-1]['VmRSS'] - runs[0]['VmRSS']:+.1f} MiB "
            f"(run to run: {', '.join(f'{s:+.1f}' for s in steps)} MiB; "
            f"median step {statistics.median(steps):+.1f} MiB).",
        ]
    if result["tracemalloc_top_growth"]:
        lines += ["", "## tracemalloc: biggest growth from the first run to the last", ""]
        lines += [f"- {line}" for line in result["tracemalloc_top_growth"]]
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
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument(
        "--prompt-cache-mib",
        type=int,
        help="the server's llamacpp.prompt_cache_mib (8192 is llama.cpp's own default); "
        "results then go to memory_soak_prompt_cache_<N>.*",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 requests x 2, prints only")
    parser.add_argument("--mock-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-plinth", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mock_upstream:
        mock_upstream(args.mock_upstream)
        return
    if args.serve_plinth:
        serve_plinth(int(args.serve_plinth[0]), args.serve_plinth[1], args.serve_plinth[2])
        return
    if args.quick:
        args.requests, args.runs, args.warmup = 1000, 2, 200
    if args.prompt_cache_mib is not None:  # the server inherits the environment
        os.environ["PLINTH_LLAMACPP__PROMPT_CACHE_MIB"] = str(args.prompt_cache_mib)
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
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "concurrency": args.concurrency,
        "tracemalloc": args.tracemalloc,
        "prompt_cache_mib": _prompt_cache_mib(),
        "command": command if not args.quick else command + " --quick",
    }
    report = _report(result, meta)
    print(report)
    if args.quick:
        return
    name = "memory_soak_tracemalloc" if args.tracemalloc else "memory_soak"
    if args.prompt_cache_mib is not None:
        name = f"memory_soak_prompt_cache_{args.prompt_cache_mib}"
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, **result}, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(report)


if __name__ == "__main__":
    main()
