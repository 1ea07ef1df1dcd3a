"""The chat route as ``plinth serve`` serves it: uvicorn with Plinth's own protocol.

In-process tests (``TestClient``) never reach the protocol's held response
heads nor the ``plinth.on_disconnect`` extension that streams use instead of
a watcher task (``plinth.server.protocol``, ``plinth.server.event_stream``);
nor its per-connection deadlines; these run a real server on a loopback
port, in front of a fake upstream.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from gatewaysupport import ADMIN, UPSTREAM_KEY, deployment
from plinth.app import create_app
from plinth.server.limits import ServerLimits
from plinth.server.run import uvicorn_options
from plinth.settings import Settings
from upstreamfake import FakeUpstream, Fault

PROMPT = "one two three four five six seven"


class Served:
    def __init__(self, data_dir: Path, upstream: FakeUpstream, limits: ServerLimits | None = None):
        settings = Settings(
            data_dir=data_dir,
            admin_key=ADMIN,  # type: ignore[arg-type]
            load_bundled_models=False,
            # An idle timeout far beyond the test: only the hang-up can end a stalled stream.
            deployments=[deployment(upstream, idle_timeout_s=120)],  # type: ignore[list-item]
            routing={"health_interval_s": 0},  # type: ignore[arg-type]
        )
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            **uvicorn_options(limits or ServerLimits()),
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="plinth-served", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def row(self, request_id: str) -> dict[str, object] | None:
        answer = httpx.get(
            f"{self.base_url}/admin/usage/requests/{request_id}",
            headers={"authorization": f"Bearer {ADMIN}"},
        )
        return answer.json() if answer.status_code == 200 else None


@contextmanager
def _serving(
    data_dir: Path, limits: ServerLimits | None = None
) -> Iterator[tuple[Served, FakeUpstream]]:
    with FakeUpstream() as upstream:
        live = Served(data_dir, upstream, limits)
        live.thread.start()
        for _ in range(500):
            if live.server.started:
                break
            live.thread.join(0.02)
        assert live.server.started
        try:
            yield live, upstream
        finally:
            live.server.should_exit = True
            live.thread.join(10)


@pytest.fixture
def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Served, FakeUpstream]]:
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
    with _serving(tmp_path) as both:
        yield both


def _connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _post(sock: socket.socket, body: dict[str, object]) -> None:
    payload = json.dumps(body).encode()
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: plinth\r\n"
        + f"authorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\n".encode()
        + f"content-length: {len(payload)}\r\n\r\n".encode()
        + payload
    )


def _raw_post(base_url: str, body: dict[str, object]) -> socket.socket:
    """The request written on a plain socket: the test sees the response's exact bytes."""
    sock = _connect(base_url)
    _post(sock, body)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    """One response with a content-length: its head and body."""
    data = _read_until(sock, b"\r\n\r\n", anywhere=True)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < length:
        piece = sock.recv(65536)
        assert piece, "closed mid-body"
        body += piece
    return head + b"\r\n\r\n" + body


def _read_until(sock: socket.socket, end: bytes, *, anywhere: bool = False) -> bytes:
    data = b""
    while not (end in data if anywhere else data.endswith(end)):
        piece = sock.recv(65536)
        assert piece, f"connection closed before {end!r}: {data!r}"
        data += piece
    return data


def test_a_json_answer_is_whole_and_keeps_the_connection(
    served: tuple[Served, FakeUpstream],
) -> None:
    live, _ = served
    body = {"model": "gpt-fake", "messages": [{"role": "user", "content": PROMPT}]}
    with httpx.Client(base_url=live.base_url, timeout=10) as client:
        for _ in range(3):  # one connection: each head went out with its body, in order
            answer = client.post(
                "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {ADMIN}"}
            )
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/json"
            assert answer.json()["choices"][0]["message"]["content"] == PROMPT
            assert answer.headers["x-request-id"].startswith("req_")


def test_a_stream_arrives_whole_and_ends_with_done(served: tuple[Served, FakeUpstream]) -> None:
    live, _ = served
    body = {
        "model": "gpt-fake",
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    sock = _raw_post(live.base_url, body)
    with sock:
        raw = _read_until(sock, b"0\r\n\r\n")
    head, _, chunked = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-type: text/event-stream; charset=utf-8" in head
    assert b"transfer-encoding: chunked" in head
    # Undo the chunked encoding: size line, data, CRLF, until the zero-size chunk.
    payload, rest = b"", chunked
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert rest == b"\r\n"
            break
        payload, rest = payload + rest[:size], rest[size + 2 :]
    events = [e for e in payload.decode().split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    text = "".join((c["choices"] or [{}])[0].get("delta", {}).get("content") or "" for c in chunks)
    assert text == PROMPT
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    request_id = chunks[0]["id"].removeprefix("chatcmpl-")
    deadline = time.monotonic() + 10
    while (row := live.row(request_id)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert row is not None and row["status"] == "ok"


def test_a_client_hanging_up_mid_stream_ends_it_at_once(
    served: tuple[Served, FakeUpstream],
) -> None:
    """The upstream stalls after two chunks; the client hangs up. The protocol's
    hang-up callback cancels the stream: booked as disconnected, upstream released,
    long before the deployment's 120 s idle timeout."""
    live, upstream = served
    upstream.always(Fault.stall(after_chunks=2))
    body = {"model": "gpt-fake", "messages": [{"role": "user", "content": PROMPT}], "stream": True}
    sock = _raw_post(live.base_url, body)
    head = _read_until(sock, b"\r\n\r\n", anywhere=True)  # the first output came with it
    assert head.startswith(b"HTTP/1.1 200 OK")
    request_id = head.split(b"x-request-id: ", 1)[1].split(b"\r\n", 1)[0].decode()
    sock.close()
    deadline = time.monotonic() + 10
    while (row := live.row(request_id)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert row is not None, "no ledger row within 10 s of the hang-up"
    assert row["status"] == "client_disconnected"
    # The server goes on serving on other connections.
    upstream.always(None)
    answer = httpx.post(
        f"{live.base_url}/v1/chat/completions",
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": PROMPT}]},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    assert answer.json()["choices"][0]["message"]["content"] == PROMPT


def test_deadlines_move_with_each_phase_and_still_fire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One deadline per connection (headers, body, keep-alive), moved rather than re-timed:
    a busy connection outlives every timeout, an idle one is closed at its keep-alive
    timeout, a stalled one gets its 408 at the header timeout."""
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
    limits = ServerLimits(header_timeout_s=0.6, body_timeout_s=0.6, keep_alive_timeout_s=0.6)
    with _serving(tmp_path, limits) as (live, _):
        body = {"model": "gpt-fake", "messages": [{"role": "user", "content": PROMPT}]}
        sock = _raw_post(live.base_url, body)
        with sock:
            assert b"200 OK" in _read_response(sock)
            started = time.monotonic()
            answered = 1
            while time.monotonic() - started < 2.0:  # over three times every timeout
                _post(sock, body)
                assert b"200 OK" in _read_response(sock)
                answered += 1
                time.sleep(0.05)
            assert answered > 10
            idle_from = time.monotonic()
            assert sock.recv(1) == b""  # closed by the server: the keep-alive ran out
            assert 0.4 < time.monotonic() - idle_from < 5
        with _connect(live.base_url) as stalled:
            stalled.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: plinth\r\n")
            since = time.monotonic()
            assert _read_response(stalled).startswith(b"HTTP/1.1 408")
            assert 0.4 < time.monotonic() - since < 5


def _read_to_close(sock: socket.socket) -> bytes:
    """Everything until the server closes (a reset too: it closed with our requests
    unread); a server that keeps the connection open fails on the socket timeout."""
    data = b""
    try:
        while piece := sock.recv(65536):
            data += piece
    except ConnectionResetError:
        pass
    return data


def _read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` responses with a content-length, as they arrive (one read may hold several)."""
    data, answers = b"", []
    while len(answers) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end]
            length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            end = head_end + 4 + length
            if len(data) >= end:
                answers.append(data[:end])
                data = data[end:]
                continue
        piece = sock.recv(65536)
        assert piece, f"closed after {len(answers)} of {count} answers"
        data += piece
    return answers


def test_pipelined_requests_are_answered_in_order(served: tuple[Served, FakeUpstream]) -> None:
    live, _ = served
    sock = _connect(live.base_url)
    paths = ["/health", "/v1/models", "/health"]
    sock.sendall(
        b"".join(
            f"GET {path} HTTP/1.1\r\nhost: plinth\r\nauthorization: Bearer {ADMIN}\r\n\r\n".encode()
            for path in paths
        )
    )
    answers = _read_responses(sock, len(paths))
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)
    assert b'"object":"list"' in answers[1].replace(b" ", b"")  # the models list, in its place
    sock.close()


def test_a_flood_of_pipelined_requests_is_cut_off(served: tuple[Served, FakeUpstream]) -> None:
    """A client that pipelines thousands of requests without reading gets a few
    answers and a closed connection, not every request parsed and queued."""
    from plinth.server.protocol import MAX_PIPELINED

    live, _ = served
    sock = _connect(live.base_url)
    # One answered request first: between requests no header cap counts the bytes,
    # so the flood after it reaches the pipeline (not the 431 of an oversized head).
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: plinth\r\n\r\n")
    assert _read_response(sock).startswith(b"HTTP/1.1 200")
    count = 5000
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: plinth\r\n\r\n" * count)
    answered = _read_to_close(sock).count(b"HTTP/1.1 200")
    sock.close()
    # Without the bound: ~1,000 answered (the per-connection request cap) and every
    # other request parsed and queued meanwhile.
    assert MAX_PIPELINED < 100 and answered <= 2 * MAX_PIPELINED
    # The server is fine for everyone else.
    other = _connect(live.base_url)
    other.sendall(b"GET /health HTTP/1.1\r\nhost: plinth\r\n\r\n")
    assert _read_response(other).startswith(b"HTTP/1.1 200")
    other.close()
