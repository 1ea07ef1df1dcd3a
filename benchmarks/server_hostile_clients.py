"""Hostile clients against a real ``plinth serve`` protocol on loopback.

Runs uvicorn with Plinth's protocol in front of the tests' fake upstream (the
harness of ``tests/api/test_served_streams.py``) and measures what one client can
make the server hold:

- ``pipeline``: N tiny GETs written back to back on one connection while the
  client reads every answer: the longest queue of parsed, unanswered requests
  and the process's peak RSS (server and client share the process);
- ``drip``: a body sent one byte per 0.4 s with ``body_timeout_s`` 0.5 and
  ``body_rate_grace_s`` 2: how long the connection stays open (the pause bound
  never fires; the rate floor, 4,096 bytes/s by default, does after the grace);
- ``trailers``: a chunked body followed by up to 200 MB of trailer lines: how
  much is sent before the server closes, and the process's RSS after;
- ``tinychunks``: a chat body of 1 MB sent chunked, one byte per chunk (6 MB on
  the wire), against the same body in 64 KiB chunks: the process's CPU
  (``time.process_time``, server and client) until the answer's first bytes;
- ``noread``: a long stream the client does not read for 2 s: the server's
  write buffer (bounded by uvicorn's flow control) and whether the stream
  completes once read;
- ``starve``: one key sends two chat requests of 400,000 characters of
  surnames (long privacy scans, seconds each); another key meanwhile one of
  20,000: how long the second key waits (``privacy/scan_pool.py``);
- ``loop``: 4 concurrent chat requests of 32,000 characters (under the privacy
  scan's inline limit) to a cloud deployment, and the slowest ``/health`` answer
  meanwhile: Han surname runs against English words.

    .venv/bin/python benchmarks/server_hostile_clients.py            # all
    .venv/bin/python benchmarks/server_hostile_clients.py pipeline --requests 400000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

_TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(_TESTS), str(_TESTS / "api")]

import httpx  # noqa: E402
import test_served_streams as served  # noqa: E402

import gatewaysupport  # noqa: E402
from plinth.server.limits import ServerLimits  # noqa: E402

os.environ["FAKE_UPSTREAM_API_KEY"] = gatewaysupport.UPSTREAM_KEY
# Every deployment of the harness in the cloud, so prompts are screened for personal data.
served.deployment = lambda up, **fields: gatewaysupport.deployment(up, locality="cloud", **fields)


def rss_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def _protocols(live: Any) -> list[Any]:
    return list(live.server.server_state.connections)


def pipeline(live: Any, requests: int) -> None:
    sock = served._connect(live.base_url)
    sock.settimeout(30)
    before, peak, stop = rss_mb(), [0, 0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for protocol in _protocols(live):
                peak[0] = max(peak[0], len(protocol.pipeline))
            peak[1] = max(peak[1], rss_mb())
            time.sleep(0.005)

    answered = [0]

    def read() -> None:
        while True:
            try:
                data = sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            answered[0] += data.count(b"HTTP/1.1 ")

    threads = [threading.Thread(target=sample), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    one = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n"
    started = time.time()
    try:
        for _ in range(requests // 2000):
            sock.sendall(one * 2000)
    except OSError as exc:
        print("  sending stopped:", exc)
    threads[1].join(60)
    stop.set()
    threads[0].join()
    sock.close()
    print(
        f"pipeline: {requests} GETs ({requests * len(one) / 1e6:.1f} MB) on one connection:"
        f" {answered[0]} answered, longest queue {peak[0]}, RSS {before} -> {peak[1]} MB,"
        f" {time.time() - started:.1f} s"
    )


def drip(live: Any) -> None:
    sock = served._connect(live.base_url)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 100000\r\n\r\n"
    )
    started = time.time()
    while time.time() - started < 5:
        try:
            sock.sendall(b" ")
        except OSError:
            break
        time.sleep(0.4)
    print(
        f"drip: a byte every 0.4 s, body timeout 0.5 s, rate grace 2 s: closed after"
        f" {time.time() - started:.1f} s (5 s of dripping at most)"
    )
    sock.close()


def trailers(live: Any) -> None:
    sock = served._connect(live.base_url)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
    )
    lines = b"x-trailer: aaaaaaaaaaaaaaaaaaaa\r\n" * 30_000
    before, sent, started = rss_mb(), 0, time.time()
    try:
        while sent < 200 * 1024 * 1024:
            sock.sendall(lines)
            sent += len(lines)
    except OSError:
        pass
    sock.close()
    print(
        f"trailers: {sent / 1e6:.1f} MB sent before the server closed (200 MB at most) in"
        f" {time.time() - started:.1f} s; RSS {before} -> {rss_mb()} MB"
    )


def _chunked_cpu(live: Any, body: bytes, chunk: int) -> float:
    sock = served._connect(live.base_url)
    sock.settimeout(60)
    wire = b"".join(
        b"%x\r\n" % len(body[i : i + chunk]) + body[i : i + chunk] + b"\r\n"
        for i in range(0, len(body), chunk)
    )
    started = time.process_time()
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n" + wire + b"0\r\n\r\n"
    )
    sock.recv(100)
    cpu = time.process_time() - started
    sock.close()
    return cpu


def tinychunks(live: Any) -> None:
    text = "x" * 1_000_000
    body = json.dumps({"model": "none", "messages": [{"role": "user", "content": text}]}).encode()
    whole = _chunked_cpu(live, body, 65536)
    tiny = _chunked_cpu(live, body, 1)
    print(
        f"tinychunks: a {len(body) / 1e6:.1f} MB body, CPU {whole:.3f} s in 64 KiB chunks,"
        f" {tiny:.3f} s in 1-byte chunks"
    )


def noread(live: Any) -> None:
    sock = served._connect(live.base_url)
    prompt = "word " * 150_000
    served._post(
        sock,
        {"model": "gpt-fake", "stream": True, "messages": [{"role": "user", "content": prompt}]},
    )
    buffers = []
    for _ in range(4):
        time.sleep(0.5)
        buffers.append(
            max(
                (p.transport.get_write_buffer_size() for p in _protocols(live) if p.transport),
                default=0,
            )
        )
    sock.settimeout(20)
    got, started = 0, time.time()
    while time.time() - started < 60:
        data = sock.recv(1 << 20)
        if not data:
            break
        got += len(data)
        if data.endswith(b"0\r\n\r\n"):
            break
    sock.close()
    print(f"noread: server write buffer while unread {buffers} bytes; then {got / 1e6:.1f} MB read")


def _post_chat(url: str, body: dict[str, Any], statuses: list[int]) -> None:
    answer = httpx.post(
        url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {gatewaysupport.ADMIN}"},
        timeout=120,
    )
    statuses.append(answer.status_code)


def starve(live: Any) -> None:
    admin = {"authorization": f"Bearer {gatewaysupport.ADMIN}"}
    with httpx.Client(base_url=live.base_url, timeout=600) as client:
        other = client.post("/admin/keys", json={"name": "other"}, headers=admin).json()["key"]

        def chat(key: str, chars: int, out: list[tuple[int, float]]) -> None:
            text = ("王李" * chars)[:chars]
            body = {"model": "gpt-fake", "max_tokens": 1}
            body["messages"] = [{"role": "user", "content": text}]
            started = time.time()
            answer = client.post(
                "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
            )
            out.append((answer.status_code, time.time() - started))

        heavy: list[tuple[int, float]] = []
        posts = [
            threading.Thread(target=chat, args=(gatewaysupport.ADMIN, 400_000, heavy))
            for _ in range(2)
        ]
        for thread in posts:
            thread.start()
        time.sleep(2.0)  # both bodies sent and parsed: their scans hold the pool
        light: list[tuple[int, float]] = []
        chat(other, 20_000, light)
        for thread in posts:
            thread.join()
    print(
        f"starve: key A 2 x 400,000 surname characters {[(s, round(t, 1)) for s, t in heavy]};"
        f" key B's 20,000 meanwhile: {light[0][0]} in {light[0][1]:.2f} s"
    )


def loop(live: Any) -> None:
    for unit in ("王李", "hello world "):
        text = (unit * 32_000)[:32_000]
        message = {"role": "user", "content": text}
        body = {"model": "gpt-fake", "max_tokens": 1, "messages": [message]}
        statuses: list[int] = []
        slowest = 0.0
        with httpx.Client() as client:
            client.get(live.base_url + "/health")
            posts = [
                threading.Thread(target=_post_chat, args=(live.base_url, body, statuses))
                for _ in range(4)
            ]
            for thread in posts:
                thread.start()
            while any(thread.is_alive() for thread in posts):
                started = time.time()
                client.get(live.base_url + "/health")
                slowest = max(slowest, time.time() - started)
        print(
            f"loop: 4 x 32,000 characters of {unit!r}: {statuses}, slowest /health"
            f" {slowest * 1000:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "probes",
        nargs="*",
        default=["pipeline", "drip", "trailers", "tinychunks", "noread", "starve", "loop"],
    )
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    limits = ServerLimits(body_timeout_s=0.5, body_rate_grace_s=2.0)
    with (
        tempfile.TemporaryDirectory() as data_dir,
        served._serving(Path(data_dir), limits) as (
            live,
            _,
        ),
    ):
        for probe in args.probes:
            if probe == "pipeline":
                pipeline(live, args.requests)
            else:
                globals()[probe](live)


if __name__ == "__main__":
    main()
