"""Where Plinth's time to first token goes, stamp by stamp, against a lone bare server.

Plinth runs as ``plinth serve`` does, in its own process, with
``time.perf_counter_ns`` stamps wrapped around each step of a streamed chat
request's path (nothing in Plinth's code changes: the wrappers are put on
from here, before the app is built): the ASGI call, authentication, the body
read, parsing and validation, the privacy screen, the budget hold, routing,
the engine stream's set-up, the llama.cpp worker thread's start, llama.cpp's
first and second token callbacks (on its thread), the first chunk's arrival
on the event loop, shaping, the response's headers and the first body write
to the socket. The client, in this process, measures TTFT (request sent to
first content byte) on Plinth and on a lone bare xllamacpp server (llama.cpp's
own HTTP server, its own process), one request at a time, the sides
alternating over the repeats.

    .venv/bin/python benchmarks/local_inference_ttft.py --data-dir DIR
    .venv/bin/python benchmarks/local_inference_ttft.py --data-dir DIR --threads 1  # busy machine
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_inference as li

RESULTS = Path(__file__).parent / "results"
# The stamps in path order (a stamp that did not happen is left out of its request).
STAMPS = [
    "asgi_call",
    "auth_done",
    "body_read",
    "parsed",
    "screened",
    "reserved",
    "routed",
    "engine_stream_made",
    "submitted",
    "worker_started",
    "first_callback",
    "first_on_loop",
    "first_shaped",
    "first_chunk_returned",
    "response_start_sent",
    "content_sent",
]


class Stamper:
    """The stamps of the request in flight (one at a time: the client sends them so)."""

    def __init__(self, path: Path):
        self.path = path
        self.current: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.current.setdefault(name, float(time.perf_counter_ns()))

    def flush(self) -> None:
        if self.current:
            with self.path.open("a") as out:
                out.write(json.dumps(self.current) + "\n")
        self.current = {}


def after(stamper: Stamper, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (async) with a stamp when it returns."""

    @functools.wraps(fn)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = await fn(*args, **kwargs)
        stamper.mark(name)
        return result

    return wrapped


def after_sync(stamper: Stamper, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        stamper.mark(name)
        return result

    return wrapped


class _StampedServer:
    """xllamacpp's server with its chat call stamped on llama.cpp's side."""

    def __init__(self, server: Any, stamper: Stamper):
        self._server, self._stamper = server, stamper

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def handle_chat_completions(self, body: Any, callback: Callable[[Any], bool]) -> Any:
        stamper = self._stamper
        stamper.mark("worker_started")
        calls = [0]

        def on_chunk(chunk: Any) -> bool:
            calls[0] += 1
            timings = chunk.get("timings") if isinstance(chunk, dict) else None
            if timings and "prompt_ms" in timings:  # llama.cpp's own prompt time
                stamper.current["llama_prompt_ms"] = timings["prompt_ms"]
            # The role-only chunk comes with the first token: stamp content chunks.
            if calls[0] == 2:
                stamper.mark("first_callback")
            elif calls[0] == 3:
                stamper.mark("second_callback")
            return callback(chunk)

        return self._server.handle_chat_completions(body, on_chunk)


def install(stamper: Stamper) -> None:
    """Put the stamps on Plinth's request path (before the app is built)."""
    from plinth.api import dialect, fastpath, generation
    from plinth.api.http import BodyParser
    from plinth.engines import llamacpp
    from plinth.gateway import Gateway
    from plinth.streaming import StreamShaper

    call = fastpath.FastPathApp.__call__

    async def asgi(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/chat/completions":
            await call(self, scope, receive, send)
            return
        stamper.current = {}
        stamper.mark("asgi_call")

        async def stamped_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.start":
                stamper.mark("response_start_sent")
            elif message["type"] == "http.response.body" and b'"content"' in message.get(
                "body", b""
            ):
                stamper.mark("content_sent")  # the first output's bytes are in the socket

        try:
            await call(self, scope, receive, stamped_send)
        finally:
            stamper.flush()

    fastpath.FastPathApp.__call__ = asgi  # type: ignore[method-assign]
    dialect.authenticated = after(stamper, "auth_done", dialect.authenticated)
    dialect.read_body = after(stamper, "body_read", dialect.read_body)
    BodyParser.parse = after(stamper, "parsed", BodyParser.parse)  # type: ignore[method-assign]
    Gateway._screen = after(stamper, "screened", Gateway._screen)  # type: ignore[method-assign]
    Gateway._reserve = after(stamper, "reserved", Gateway._reserve)  # type: ignore[method-assign]
    Gateway._plan = after_sync(stamper, "routed", Gateway._plan)  # type: ignore[method-assign]
    generation.first_chunk = after(stamper, "first_chunk_returned", generation.first_chunk)

    stream = llamacpp.LlamaCppEngine._stream

    def engine_stream(self: Any, method: str, body: Any) -> Any:
        if self._server is not None and not isinstance(self._server, _StampedServer):
            self._server = _StampedServer(self._server, stamper)
            submit = self._pool.submit

            def stamped_submit(fn: Any, *args: Any) -> Any:
                stamper.mark("submitted")
                return submit(fn, *args)

            self._pool.submit = stamped_submit
        chunks = stream(self, method, body)
        stamper.mark("engine_stream_made")
        return chunks

    llamacpp.LlamaCppEngine._stream = engine_stream  # type: ignore[method-assign]
    try:
        from plinth.engines.llamacpp_stream import Handoff as handoff
    except ImportError:  # the code before the hand-off had its own module
        handoff = llamacpp._Handoff  # type: ignore[attr-defined]
    handoff_get = handoff.get

    async def get(self: Any) -> Any:
        item = await handoff_get(self)
        if isinstance(item, dict) and any(
            (c.get("delta") or {}).get("content") for c in item.get("choices") or ()
        ):
            stamper.mark("first_on_loop")
        return item

    handoff.get = get  # type: ignore[method-assign]
    shape = StreamShaper.shape

    def shaped(self: Any, chunk: Any) -> Any:
        out = shape(self, chunk)
        if self.acct.ttft_s is not None:
            stamper.mark("first_shaped")
        return out

    StreamShaper.shape = shaped  # type: ignore[method-assign]


def serve_stamped(args: Any) -> None:
    """Child mode: ``plinth serve`` with the stamps on."""
    install(Stamper(Path(args.stamps_file)))
    from plinth.cli.serve import serve

    serve.main(
        ["--port", str(args.serve_port), "--data-dir", str(args.data_dir)],
        standalone_mode=False,
    )


def start_stamped_plinth(args: Any, data_dir: Path, port: int, stamps: Path) -> Any:
    env = {
        **os.environ,
        "PLINTH_ADMIN_KEY": li.ADMIN_KEY,
        "PLINTH_LLAMACPP__PARALLEL_SLOTS": str(args.slots),
        "PLINTH_LLAMACPP__CONTEXT_PER_SLOT": str(args.context),
        "PLINTH_LLAMACPP__THREADS": str(args.threads),
        "PLINTH_LOG_LEVEL": "warning",
    }
    command = [sys.executable, __file__, "--serve-port", str(port), "--data-dir", str(data_dir)]
    command += ["--stamps-file", str(stamps)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


async def ttfts(
    client: httpx.AsyncClient, args: Any, name: str
) -> tuple[list[float], list[float], list[int]]:
    """One request at a time: TTFT in ms from the request's send to its first content,
    llama.cpp's own prompt time (``timings.prompt_ms``) where the server sends it, and
    how many prompt tokens llama.cpp took from its cache (``cached_tokens``: a 38-token
    hit answers several times sooner than a 24-token one, so the sides' TTFTs compare
    only where these match request by request)."""
    out, prompt_ms, cached = [], [], []
    for i in range(args.requests):
        body = li.request_body(i, args.max_tokens, name)
        started = time.perf_counter()
        first = 0.0
        timing: float | None = None
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[6:])
                if not first and li.has_content(chunk):
                    first = time.perf_counter()
                if "prompt_ms" in (chunk.get("timings") or {}):
                    timing = float(chunk["timings"]["prompt_ms"])
                if chunk.get("usage"):
                    details = chunk["usage"].get("prompt_tokens_details") or {}
                    cached.append(int(details.get("cached_tokens") or 0))
        if timing is not None:
            prompt_ms.append(timing)
        out.append((first - started) * 1000)
    return out, prompt_ms, cached


async def side(
    name: str, args: Any, data_dir: Path, stamps: Path
) -> tuple[list[float], list[float], list[int]]:
    port = li.free_port()
    if name == "lone":
        process = li.start_lone_bare(args, data_dir, port)
    else:
        process = start_stamped_plinth(args, data_dir, port, stamps)
    try:
        await li.wait_ready(f"http://127.0.0.1:{port}", process)
        async with li.http_client(f"http://127.0.0.1:{port}", name) as client:
            await li.ready_request(name, client, process)
            for i in range(2):  # warm-up, as the throughput sweeps do
                body = li.request_body(i, args.max_tokens, name)
                async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                    await r.aread()
            if name == "plinth":
                stamps.write_text("")  # only the measured requests' stamps
            values, prompt_ms, cached = await ttfts(client, args, name)
            if name == "plinth":  # llama.cpp's prompt time, as the stamped engine saw it
                lines = stamps.read_text().splitlines()
                prompt_ms = [json.loads(x)["llama_prompt_ms"] for x in lines if "llama_prompt" in x]
            return values, prompt_ms, cached
    finally:
        li.stop(process)


def median(values: list[float]) -> float:
    return li.percentile(values, 50)


def breakdown(stamps: Path) -> list[dict[str, Any]]:
    """Per stamp: the median time since the previous stamp and since the ASGI call."""
    requests = [json.loads(line) for line in stamps.read_text().splitlines() if line]
    rows = []
    previous = "asgi_call"
    for name in STAMPS[1:]:
        have = [r for r in requests if name in r and previous in r and "asgi_call" in r]
        if not have:
            continue
        rows.append(
            {
                "stamp": name,
                "since_previous_ms": round(
                    median([(r[name] - r[previous]) / 1e6 for r in have]), 3
                ),
                "since_asgi_call_ms": round(
                    median([(r[name] - r["asgi_call"]) / 1e6 for r in have]), 3
                ),
                "requests": len(have),
            }
        )
        previous = name
    return rows


async def main(args: Any) -> None:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="plinth-bench-"))
    work = Path(tempfile.mkdtemp(prefix="plinth-ttft-"))
    measured: dict[str, list[list[float]]] = {"lone": [], "plinth": []}
    prompt: dict[str, list[list[float]]] = {"lone": [], "plinth": []}
    cached: dict[str, list[list[int]]] = {"lone": [], "plinth": []}
    for repeat in range(args.repeats):
        order = ("lone", "plinth") if repeat % 2 == 0 else ("plinth", "lone")
        for name in order:
            stamps = work / f"stamps_{repeat}.jsonl"
            values, prompt_ms, cache_hits = await side(name, args, data_dir, stamps)
            measured[name].append(values)
            cached[name].append(cache_hits)
            prompt[name].append(prompt_ms)
            print(
                f"repeat {repeat + 1}: {name:6} TTFT p50 {median(values):.2f} ms, "
                f"llama.cpp prompt_ms p50 {median(prompt_ms) if prompt_ms else '?'}",
                file=sys.stderr,
            )
    all_stamps = work / "all.jsonl"
    all_stamps.write_text("".join(p.read_text() for p in sorted(work.glob("stamps_*.jsonl"))))
    rows = breakdown(all_stamps)
    lone = [median(v) for v in measured["lone"]]
    plinth = [median(v) for v in measured["plinth"]]
    prompt_p50 = {k: [round(median(v), 2) for v in runs if v] for k, runs in prompt.items()}
    out = {
        "facts": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python benchmarks/local_inference_ttft.py " + " ".join(sys.argv[1:]),
            "load_average_at_start": args.load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "cores": os.cpu_count(),
            "settings": {
                "requests_per_side_per_repeat": args.requests,
                "max_tokens": args.max_tokens,
                "repeats": args.repeats,
                "threads": args.threads or "Plinth's default (all cores)",
            },
        },
        "ttft_p50_ms_per_repeat": {"lone": lone, "plinth": plinth},
        "ttft_p50_overhead_ms_per_repeat": [
            round(p - lo, 2) for lo, p in zip(lone, plinth, strict=True)
        ],
        "llama_prompt_ms_p50_per_repeat": prompt_p50,
        "cached_prompt_tokens_per_request": cached,
        "requests_whose_cache_hit_differs_per_repeat": [
            sum(a != b for a, b in zip(lo, p, strict=False))
            for lo, p in zip(cached["lone"], cached["plinth"], strict=True)
        ],
        "stamps": rows,
        "raw_ttft_ms": measured,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        "# Time to first token: Plinth's path, stamp by stamp",
        "",
        f"- date: {out['facts']['date']}; command: `{out['facts']['command']}`",
        f"- load average at the start {args.load_at_start}, at the end "
        f"{out['facts']['load_average_at_end']} on {os.cpu_count()} cores",
        f"- {args.requests} streamed requests one at a time per side per repeat, "
        f"max_tokens {args.max_tokens}; {args.repeats} repeats, sides alternating",
        f"- client TTFT p50 per repeat: lone {lone} ms, Plinth {plinth} ms; overhead "
        f"{out['ttft_p50_overhead_ms_per_repeat']} ms",
        f"- llama.cpp's own prompt time (timings.prompt_ms) p50 per repeat: lone "
        f"{prompt_p50['lone']} ms, Plinth {prompt_p50['plinth']} ms",
        "- requests whose prompt-cache hit (cached_tokens) differs between the sides, per "
        f"repeat: {out['requests_whose_cache_hit_differs_per_repeat']} of {args.requests}",
        "",
        "| stamp | since the previous, p50 ms | since the ASGI call, p50 ms |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {r['stamp']} | {r['since_previous_ms']} | {r['since_asgi_call_ms']} |" for r in rows
    ]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def parse_args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--name", default="local_inference_ttft", help="results file name")
    parser.add_argument("--out-dir", type=Path, help="where to write (default results/)")
    parser.add_argument("--serve-port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stamps-file", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # What the lone server's start (local_inference.start_lone_bare) reads.
    args.lone_verbosity = 0
    args.load_at_start = [round(x, 2) for x in os.getloadavg()]
    return args


if __name__ == "__main__":
    parsed = parse_args()
    if parsed.out_dir is not None:
        RESULTS = parsed.out_dir
    if parsed.serve_port:
        serve_stamped(parsed)
    else:
        asyncio.run(main(parsed))
