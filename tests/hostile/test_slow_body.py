"""A body dripped a byte at a time is cut off; a slow but steady upload is not.

The pause bound alone (``body_timeout_s``) never fires on a client that sends
one byte more often than it; the floor on the body's average rate does. The
server runs with a short grace and a low floor so the test takes seconds.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from serversupport import ADMIN_KEY, Served, plinth_serve, read_until_closed

MIN_RATE = 1000  # bytes/s
GRACE_S = 1.0
PAUSE_S = 5.0  # over the drip's interval: only the rate can end the drip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with plinth_serve(
        tmp_path_factory.mktemp("slow-body"),
        open_files=1024,
        body_timeout_s=PAUSE_S,
        body_min_rate_bytes_s=MIN_RATE,
        body_rate_grace_s=GRACE_S,
    ) as server:
        yield server


def _connect(served: Served) -> socket.socket:
    sock = socket.create_connection((served.host, served.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _upload_head(length: int, boundary: str) -> bytes:
    return (
        "POST /v1/files HTTP/1.1\r\nhost: plinth\r\n"
        f"authorization: Bearer {ADMIN_KEY}\r\n"
        f"content-type: multipart/form-data; boundary={boundary}\r\n"
        f"content-length: {length}\r\n\r\n"
    ).encode()


def _multipart(boundary: str, content: bytes) -> bytes:
    return (
        (
            f'--{boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\n'
            f"assistants\r\n--{boundary}\r\n"
            'content-disposition: form-data; name="file"; filename="notes.txt"\r\n'
            "content-type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def test_a_dripped_body_is_cut_off_with_408(served: Served) -> None:
    body = _multipart("drip", b"x" * 100_000)  # well-formed: only its pace is hostile
    with _connect(served) as sock:
        sock.sendall(_upload_head(len(body), "drip"))
        sent = 0
        # A byte every 0.2 s never pauses for PAUSE_S; at 5 bytes/s it falls under the
        # floor as soon as the grace is over. 60 s of dripping is far past any deadline.
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                sock.sendall(body[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            time.sleep(0.2)
        closed = read_until_closed([sock], deadline_s=10)
    assert closed, f"still open after dripping {sent} bytes"
    (data,) = closed.values()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout"
    assert f"slower than {MIN_RATE} bytes/s" in error["message"]


def test_a_slow_steady_upload_past_the_grace_is_stored(served: Served) -> None:
    content = b"a line of a slowly uploaded file\n" * 600  # ~20 KB
    body = _multipart("steady", content)
    with _connect(served) as sock:
        sock.sendall(_upload_head(len(body), "steady"))
        # 2,000 bytes every 0.4 s: five times the floor, and seconds past the grace.
        for start in range(0, len(body), 2000):
            sock.sendall(body[start : start + 2000])
            time.sleep(0.4)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            piece = sock.recv(65536)
            assert piece, f"closed early: {answer!r}"
            answer += piece
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), answer
    stored = json.loads(payload)
    assert (stored["object"], stored["bytes"]) == ("file", len(content))
