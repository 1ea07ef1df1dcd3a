"""Stalled, greedy and slow connections against a real ``plinth serve`` on loopback.

The stalled sockets come from other loopback addresses (127.0.0.2 …) than the
normal client (127.0.0.1), so per-address and global caps can be told apart.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from serversupport import (
    ADMIN_KEY,
    Served,
    answer_until_closed,
    open_stalled,
    plinth_serve,
    raise_own_file_limit,
    read_until_closed,
)

HEADER_TIMEOUT_S = 3
PER_CLIENT = 150
PARTIAL_REQUEST = b"GET /health HTTP/1.1\r\nHost: plinth\r\n"  # headers never finish


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    raise_own_file_limit(4096)
    with plinth_serve(
        tmp_path_factory.mktemp("hostile-serve"),
        open_files=1024,  # a common default: max_connections is lowered to fit
        max_connections=1000,
        max_connections_per_client=PER_CLIENT,
        header_timeout_s=HEADER_TIMEOUT_S,
        body_timeout_s=2,
        max_requests_per_connection=3,
    ) as server:
        yield server


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def test_2000_stalled_connections_do_not_lock_out_a_normal_client(served: Served) -> None:
    stalled: list[socket.socket] = []
    try:
        # 2,000 half-sent requests from 20 addresses: twice the global cap of 1,000.
        for source in range(2, 22):
            stalled += open_stalled(served, f"127.0.0.{source}", 100, PARTIAL_REQUEST)
        for _ in range(5):
            answer = httpx.get(f"{served.base_url}/health", timeout=1.0)
            assert answer.status_code == 200
            assert answer.json()["status"] == "ok"
        # Every stalled socket is closed by the server: evicted for newcomers, or
        # answered 408 when its header timeout ran out.
        closed = read_until_closed(stalled, deadline_s=HEADER_TIMEOUT_S + 30)
        assert len(closed) == len(stalled)
        timed_out = [data for data in closed.values() if data]
        assert timed_out, "some stalled connections must outlive eviction and time out"
        for data in timed_out:
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 ")
            assert json.loads(body)["error"]["code"] == "request_timeout"
    finally:
        close_all(stalled)


def test_one_address_beyond_its_cap_gets_503_in_openai_shape(served: Served) -> None:
    held = open_stalled(served, "127.0.0.50", PER_CLIENT, b"")
    try:
        extra = open_stalled(served, "127.0.0.50", 5, b"")
        refused = read_until_closed(extra, deadline_s=10)
        assert len(refused) == 5
        for data in refused.values():
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 ")
            assert b"retry-after: 1" in head.lower()
            error = json.loads(body)["error"]
            assert (error["type"], error["code"]) == ("server_error", "server_busy")
        close_all(extra)
        # The held ones are not refused, and another address is served meanwhile.
        assert httpx.get(f"{served.base_url}/health", timeout=1.0).status_code == 200
    finally:
        close_all(held)


def test_a_stalled_body_gets_408(served: Served) -> None:
    partial = (
        b"POST /v1/embeddings HTTP/1.1\r\nHost: plinth\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n"
        b"content-length: 100\r\n\r\n" + b'{"model": "x"'
    )
    data = answer_until_closed(served, "127.0.0.60", partial)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body)["error"]["code"] == "request_timeout"


def test_oversized_headers_get_431(served: Served) -> None:
    huge = b"GET /health HTTP/1.1\r\nHost: plinth\r\n" + b"x-junk: " + b"a" * 100_000 + b"\r\n"
    data = answer_until_closed(served, "127.0.0.61", huge)
    assert data.startswith(b"HTTP/1.1 431 ")
    assert b'"headers_too_large"' in data


def test_keep_alive_ends_after_the_request_limit(served: Served) -> None:
    with httpx.Client(base_url=served.base_url, timeout=5) as client:
        answers = [client.get("/health") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers.get("connection") for a in answers] == [None, None, "close"]


def test_endless_trailers_are_cut_off(served: Served) -> None:
    """A chunked body's trailers were appended to the request's headers with no bound
    (uvicorn's parser callback): they now count against max_header_bytes."""
    head = (
        b"POST /v1/embeddings HTTP/1.1\r\nHost: plinth\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n"
        b"transfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
    )
    (sock,) = open_stalled(served, "127.0.0.62", 1, head)
    trailers = b"x-trailer: aaaaaaaaaaaaaaaaaaaa\r\n" * 30_000  # ~1 MB a send
    sent = 0
    with sock:
        try:
            while sent < 32 * 1024 * 1024:
                sock.sendall(trailers)
                sent += len(trailers)
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed = read_until_closed([sock], deadline_s=20)
    assert sent < 32 * 1024 * 1024, "the server read 32 MB of trailers"
    (data,) = closed.values()
    assert not data or data.startswith(b"HTTP/1.1 431 ")  # a reset may drop the answer


def test_websocket_upgrade_attempts_do_not_use_up_connection_slots(served: Served) -> None:
    """uvicorn handed an upgraded socket to its WebSocket protocol, out of the guard's
    sight: each attempt kept a slot, and past the per-address cap came 503s."""
    upgrade = (
        b"GET /v1/models HTTP/1.1\r\nHost: plinth\r\nconnection: Upgrade\r\n"
        b"upgrade: websocket\r\nsec-websocket-version: 13\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    for _ in range(PER_CLIENT + 10):
        (sock,) = open_stalled(served, "127.0.0.63", 1, upgrade)
        with sock:
            sock.settimeout(10)
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:80]  # plain HTTP: no key


def test_a_request_that_is_not_http_gets_400_in_openai_shape(served: Served) -> None:
    data = answer_until_closed(served, "127.0.0.64", b"NOT HTTP AT ALL\x00\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["error"]["type"] == "invalid_request_error"


def test_a_body_in_one_byte_chunks_arrives_whole_and_the_next_request_too(served: Served) -> None:
    """The protocol joins a read's pieces of a body before uvicorn buffers them (one
    append per read instead of one per chunk): the body, and a request pipelined
    right behind it, must come through unchanged."""
    payload = b'{"model": "no-such-model-7f3a", "input": "hello"}'
    chunked = b"".join(b"1\r\n" + payload[i : i + 1] + b"\r\n" for i in range(len(payload)))
    requests = (
        b"POST /v1/embeddings HTTP/1.1\r\nHost: plinth\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n"
        b"transfer-encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n"
        b"GET /health HTTP/1.1\r\nHost: plinth\r\nconnection: close\r\n\r\n"
    )
    data = answer_until_closed(served, "127.0.0.65", requests)
    first, _, rest = data.partition(b"\r\n\r\n")
    length = int(first.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    error = json.loads(rest[:length])["error"]
    assert first.startswith(b"HTTP/1.1 404 ")
    assert "no-such-model-7f3a" in error["message"]  # the body was read intact
    assert rest[length:].startswith(b"HTTP/1.1 200 ")
