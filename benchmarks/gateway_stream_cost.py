"""What a streamed chunk and the upstream client cost Plinth, in CPU time.

    .venv/bin/python benchmarks/gateway_stream_cost.py           # ~2 min quiet; writes results/
    .venv/bin/python benchmarks/gateway_stream_cost.py --quick   # fewer rounds, to a temp dir

Two measurements, CPU time (``time.process_time``) so that a loaded machine
slows them less than it slows wall-clock figures; each is repeated with the
sides interleaved, and the spread is reported:

1. **Per chunk, in process.** One upstream chunk (the mock upstream's bytes)
   through Plinth's real code: SSE event cutting, ``StreamShaper`` and the SSE
   frame the client gets. *decoding path*: the event decoded to text, parsed
   with ``json.loads``, shaped as a dict and serialised again (what every chunk
   cost before the byte path, and what a chunk with usage or a finish reason
   still costs). *byte path*: the chunk kept as bytes, id and model swapped in
   place (``plinth.streaming``).
2. **Per streamed request, the client library.** One process reads streamed
   chat completions (20 content chunks, 1 ms apart) from
   ``gateway_mock_upstream.py`` with 16 in flight, through Plinth's own
   ``UpstreamClient.post_sse_bytes`` (the lean client, ``engines/lean_http.py``,
   with its per-event timeouts: what Plinth uses), aiohttp (what it used
   before), httpx, and a minimal HTTP/1.1 client on asyncio streams; CPU per
   request of the reading process, the events cut the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gateway_mock_upstream import ANSWER, FINISH, FIRST, NEXT, USAGE_CHUNK  # noqa: E402
from gateway_overhead import cpu_model, free_port, wait_ready  # noqa: E402

from plinth.engines.upstream_http import EventReader, RawChunk  # noqa: E402
from plinth.metering.accounting import Accounting  # noqa: E402
from plinth.streaming import StreamShaper  # noqa: E402

STREAM = FIRST + b"".join(NEXT) + FINISH + USAGE_CHUNK + b"data: [DONE]\n\n"
PER_STREAM = STREAM.count(b"\n\n") - 1  # chunks, [DONE] not counted


class _State:
    def observe_ttft(self, seconds: float) -> None:
        pass


def _shaper() -> StreamShaper:
    return StreamShaper(
        Accounting("bench", "chat.completions", "public-model", None),
        model="public-model",
        include_usage=True,
        state=_State(),  # type: ignore[arg-type]
        is_chat=True,
        usage_source="upstream",
    )


def _dumps(data: Any) -> bytes:  # as api/http.py frames a dict
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _lines_events(raw: bytes) -> list[str]:
    """The decoding path's event cutting: each line decoded, data lines joined."""
    out, data = [], list[str]()
    for line in raw.splitlines(keepends=True):
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if data:
                out.append("\n".join(data))
            data = []
        elif text.startswith("data:"):
            data.append(text[5:].lstrip(" "))
    return out


def stream_decoding() -> int:
    shaper, sent = _shaper(), 0
    for data in _lines_events(STREAM):
        if data == "[DONE]":
            break
        for piece in shaper.shape(json.loads(data)):
            sent += len(b"data: " + _dumps(piece) + b"\n\n")
    return sent


def stream_bytes() -> int:
    shaper, sent = _shaper(), 0
    reader = EventReader("bench")
    reader.feed(STREAM)
    while (event := reader.take()) is not None:
        data = event[1]
        if data == b"[DONE]":
            break
        for piece in shaper.shape(RawChunk(data, "bench")):
            frame = piece if isinstance(piece, bytes) else _dumps(piece)
            sent += len(b"data: " + frame + b"\n\n")
    return sent


def per_chunk(rounds: int, streams: int) -> dict[str, Any]:
    sides: dict[str, Callable[[], int]] = {"decoding": stream_decoding, "bytes": stream_bytes}
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            started = time.process_time()
            for _ in range(streams):
                run()
            runs[name].append((time.process_time() - started) / (streams * PER_STREAM) * 1e6)
    return {
        "chunks per stream": PER_STREAM,
        "streams per round": streams,
        "us_per_chunk": {name: _spread(values) for name, values in runs.items()},
    }


# --- client libraries -----------------------------------------------------------------

BODY = json.dumps(
    {
        "model": "mock-gpt",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
).encode()


def _check(events: list[bytes]) -> None:
    text = "".join(
        (json.loads(e)["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for e in events
        if e != b"[DONE]"
    )
    if text != ANSWER:
        raise RuntimeError(f"wrong answer: {text!r}")


async def _aiohttp_client(url: str, n: int, c: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c)) as session:

        async def one() -> None:
            headers = {"content-type": "application/json"}
            async with session.post(
                url + "/v1/chat/completions", data=BODY, headers=headers
            ) as response:
                reader, events = EventReader("aiohttp"), []
                while not reader.ended:
                    reader.feed(await response.content.readany())
                    while (event := reader.take()) is not None:
                        events.append(event[1])
                _check(events)

        await _closed_loop(one, n, c)


async def _httpx_client(url: str, n: int, c: int) -> None:
    import httpx

    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one() -> None:
            headers = {"content-type": "application/json"}
            async with client.stream(
                "POST", url + "/v1/chat/completions", content=BODY, headers=headers
            ) as response:
                reader, events = EventReader("httpx"), []
                async for data in response.aiter_raw():
                    reader.feed(data)
                    while (event := reader.take()) is not None:
                        events.append(event[1])
                reader.feed(b"")
                while (event := reader.take()) is not None:
                    events.append(event[1])
                _check(events)

        await _closed_loop(one, n, c)


async def _raw_client(url: str, n: int, c: int) -> None:
    """HTTP/1.1 keep-alive on asyncio streams, chunked transfer decoded by hand."""
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    pool: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def one() -> None:
        conn = pool.pop() if pool else await asyncio.open_connection(host, int(port))
        stream_in, stream_out = conn
        stream_out.write(request)
        head = await stream_in.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0] or b"chunked" not in head.lower():
            raise RuntimeError(head[:200])
        reader, events = EventReader("raw"), []
        while True:
            size = int((await stream_in.readuntil(b"\r\n"))[:-2], 16)
            data = await stream_in.readexactly(size + 2)
            if not size:
                break
            reader.feed(data[:-2])
            while (event := reader.take()) is not None:
                events.append(event[1])
        reader.feed(b"")
        while (event := reader.take()) is not None:
            events.append(event[1])
        _check(events)
        pool.append(conn)

    await _closed_loop(one, n, c)
    for _, writer in pool:
        writer.close()


async def _closed_loop(one: Callable[[], Awaitable[None]], n: int, c: int) -> None:
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    await asyncio.gather(*(worker() for _ in range(c)))


async def _plinth_client(url: str, n: int, c: int) -> None:
    from plinth.deployment import Deployment
    from plinth.engines.upstream_http import UpstreamClient

    upstream = UpstreamClient(Deployment(model="m", engine="openai", base_url=url + "/v1"), {})
    body = json.loads(BODY)

    async def one() -> None:
        events = [data async for _, data, _ in upstream.post_sse_bytes("/chat/completions", body)]
        _check(events)

    await _closed_loop(one, n, c)
    await upstream.close()


CLIENTS = {
    "plinth lean_http": _plinth_client,
    "aiohttp": _aiohttp_client,
    "httpx": _httpx_client,
    "raw asyncio": _raw_client,
}


def client_main(args: argparse.Namespace) -> None:
    import uvloop

    uvloop.install()
    run = CLIENTS[args.client]
    asyncio.run(run(args.url, 32, args.concurrency))  # warm-up: connections, imports
    started = time.process_time()
    asyncio.run(run(args.url, args.requests, args.concurrency))
    cpu = time.process_time() - started
    print(json.dumps({"cpu_ms_per_request": cpu * 1000 / args.requests}))


def per_request(rounds: int, requests: int, concurrency: int) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mock = subprocess.Popen(
        [sys.executable, str(HERE / "gateway_mock_upstream.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs: dict[str, list[float]] = {name: [] for name in CLIENTS}
    try:
        wait_ready(url + "/v1/models", mock)
        for _ in range(rounds):
            for name in CLIENTS:
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "client",
                        name,
                        url,
                        str(requests),
                        "--concurrency",
                        str(concurrency),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[name].append(json.loads(done.stdout)["cpu_ms_per_request"])
    finally:
        mock.kill()
        mock.wait()
    return {
        "requests per round": requests,
        "concurrency": concurrency,
        "cpu_ms_per_request": {name: _spread(values) for name, values in runs.items()},
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    client = sub.add_parser("client", help="internal: one client library's run")
    client.add_argument("client", choices=list(CLIENTS))
    client.add_argument("url")
    client.add_argument("requests", type=int)
    client.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out-dir", type=Path)
    args = parser.parse_args()
    if args.mode == "client":
        client_main(args)
        return
    rounds = 3 if args.quick else 5
    chunk = per_chunk(rounds, 200 if args.quick else 1000)
    print(json.dumps(chunk), flush=True)
    clients = per_request(rounds, 100 if args.quick else 300, 16)
    print(json.dumps(clients), flush=True)
    out_dir = args.out_dir or (Path(tempfile.mkdtemp()) if args.quick else HERE / "results")
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()}",
        "load average at the end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "rounds (sides interleaved)": rounds,
        "command": "python benchmarks/gateway_stream_cost.py" + (" --quick" if args.quick else ""),
    }
    result = {"meta": meta, "per_chunk": chunk, "client_libraries": clients}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gateway_stream_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Streaming proxy: CPU per chunk and per upstream client library", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += [
        "",
        f"## Per chunk, in process ({PER_STREAM} chunks a stream: role, 20 content, finish, usage)",
        "",
        "| path | µs CPU per chunk, median | min | max |",
        "| --- | --- | --- | --- |",
    ]
    for name, s in chunk["us_per_chunk"].items():
        lines.append(f"| {name} | {s['median']} | {s['min']} | {s['max']} |")
    lines += [
        "",
        "## Per streamed request, reading the upstream (16 in flight, 20 chunks 1 ms apart)",
        "",
        "| client | ms CPU per request, median | min | max |",
        "| --- | --- | --- | --- |",
    ]
    for name, s in clients["cpu_ms_per_request"].items():
        lines.append(f"| {name} | {s['median']} | {s['min']} | {s['max']} |")
    (out_dir / "gateway_stream_cost.md").write_text("\n".join(lines) + "\n")
    print("wrote", out_dir / "gateway_stream_cost.md")


if __name__ == "__main__":
    main()
