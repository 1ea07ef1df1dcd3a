"""A local model's stream, written by the thread its tokens arrive on
(``server/direct_body.py``): whole and in order for a client that reads at once,
and for one that stops reading (the socket fills and the rest goes through the
event loop), on a raw socket so nothing in a client library hides a broken frame."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

from e2e_support import Server

CHAT = "smollm2-135m-instruct"


def _raw_stream(server: Server, body: dict[str, object], *, rcvbuf: int, pause_s: float) -> bytes:
    url = urlsplit(server.base_url)
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.hostname}\r\n"
        f"Authorization: Bearer {server.admin_key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(60)
        sock.connect((url.hostname, url.port))
        sock.sendall(head.encode() + payload)
        time.sleep(pause_s)  # not reading: the server's writes back up
        data = b""
        while not data.endswith(b"\r\n0\r\n\r\n"):
            piece = sock.recv(65536)
            assert piece, f"the server closed the connection mid-answer: {data[-200:]!r}"
            data += piece
    return data


def _events(response: bytes) -> list[str]:
    head, body = response.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding: chunked" in head.lower()
    text = b""
    while body:
        size, body = body.split(b"\r\n", 1)
        n = int(size, 16)
        assert body[n : n + 2] == b"\r\n", "a chunk's size does not match its data"
        text, body = text + body[:n], body[n + 2 :]
    assert text.endswith(b"\n\n")
    events = text.decode().split("\n\n")[:-1]
    assert all(event.startswith("data: ") for event in events), events
    return [event[6:] for event in events]


def _content_and_usage(events: list[str]) -> tuple[str, int, int]:
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert len({chunk["id"] for chunk in chunks}) == 1
    pieces = [c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]]
    usage = chunks[-1]["usage"]
    return "".join(pieces), sum(1 for p in pieces if p), usage["completion_tokens"]


def test_a_fast_and_a_stalled_reader_get_the_same_whole_stream(server: Server) -> None:
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "Write a long story about a lighthouse."}],
        "max_tokens": 200,
        "temperature": 0,
        "seed": 7,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    fast = _content_and_usage(_events(_raw_stream(server, body, rcvbuf=1 << 20, pause_s=0)))
    slow = _content_and_usage(_events(_raw_stream(server, body, rcvbuf=2048, pause_s=3.0)))
    assert fast[0] and fast == slow
    _text, pieces, completion_tokens = fast
    assert pieces <= completion_tokens <= 200
