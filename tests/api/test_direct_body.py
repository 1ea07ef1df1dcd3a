"""A streamed body written by another thread straight to the socket (server/direct_body)."""

from __future__ import annotations

import socket
from typing import Any

from plinth.server.direct_body import DirectBody, open_direct_body


class FakeTransport:
    """What DirectBody and open_direct_body use of a transport, over a real socket."""

    def __init__(self, sock: socket.socket, *, buffered: int = 0, ssl: bool = False):
        self.sock, self.buffered, self.ssl = sock, buffered, ssl
        self.written: list[bytes] = []
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_extra_info(self, name: str) -> Any:
        return {"socket": self.sock, "sslcontext": object() if self.ssl else None}.get(name)

    def write(self, data: bytes) -> None:
        self.written.append(data)


def _pair() -> tuple[socket.socket, socket.socket]:
    ours, peer = socket.socketpair()
    ours.setblocking(False)  # as uvloop leaves a connection's socket
    return ours, peer


def _unchunk(data: bytes) -> list[bytes]:
    chunks = []
    while data:
        size, data = data.split(b"\r\n", 1)
        n = int(size, 16)
        chunks.append(data[:n])
        assert data[n : n + 2] == b"\r\n"
        data = data[n + 2 :]
    return chunks


def test_frames_go_to_the_socket_as_chunks_of_the_chunked_body() -> None:
    ours, peer = _pair()
    body = open_direct_body(FakeTransport(ours), chunked=True, nothing_held=True)  # type: ignore[arg-type]
    assert body is not None
    assert body.write(b"data: {}\n\n") and body.write(b"data: [x]\n\n")
    body.close()
    assert _unchunk(peer.recv(1000)) == [b"data: {}\n\n", b"data: [x]\n\n"]
    ours.close()  # the body wrote through its own descriptor, now closed; this one is open
    peer.close()


def test_a_full_socket_ends_direct_writing_and_the_rest_goes_through_the_transport() -> None:
    ours, peer = _pair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    transport = FakeTransport(ours)
    body = DirectBody(ours.fileno(), transport)  # type: ignore[arg-type]
    frame = b"x" * 1000
    writes = 0
    while body.write(frame):
        writes += 1
        assert writes < 10_000, "the peer never read, yet every write went out"
    assert body.unsent  # part of the last frame, at most all of it
    assert not body.write(frame)  # no direct write after the first short one: kept too
    unsent = body.unsent
    body.close()  # on the loop: the rest goes through the transport, in order
    assert b"".join(transport.written) == unsent and not body.unsent
    sent = b""
    peer.setblocking(False)
    while True:
        try:
            piece = peer.recv(65536)
        except BlockingIOError:
            break
        sent += piece
    everything = sent + b"".join(transport.written)
    assert _unchunk(everything) == [frame] * (writes + 2)
    ours.close()
    peer.close()


def test_a_gone_client_ends_direct_writing_without_raising() -> None:
    ours, peer = _pair()
    peer.close()
    transport = FakeTransport(ours)
    transport.closing = True  # the loop saw the hang-up too
    body = DirectBody(ours.fileno(), transport)  # type: ignore[arg-type]
    assert not body.write(b"data: {}\n\n")
    body.close()
    assert transport.written == []  # nothing is written to a closing transport
    ours.close()


def test_no_direct_body_where_writing_beside_the_transport_is_unsafe() -> None:
    ours, peer = _pair()
    cases: list[tuple[FakeTransport, bool, bool]] = [
        (FakeTransport(ours), False, True),  # not chunked (HTTP/1.0, HEAD, a length)
        (FakeTransport(ours), True, False),  # the response's head is still held back
        (FakeTransport(ours, buffered=10), True, True),  # the transport has bytes queued
        (FakeTransport(ours, ssl=True), True, True),  # TLS: the transport encrypts
    ]
    for transport, chunked, nothing_held in cases:
        body = open_direct_body(transport, chunked=chunked, nothing_held=nothing_held)  # type: ignore[arg-type]
        assert body is None
    closing = FakeTransport(ours)
    closing.closing = True
    assert open_direct_body(closing, chunked=True, nothing_held=True) is None  # type: ignore[arg-type]
    ours.close()
    peer.close()
