"""A client that asks for a large answer and never reads it: the server aborts the
connection after ``write_timeout_s`` instead of holding the answer (a file being
sent, an upstream stream) for as long as the socket stays open."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from serversupport import ADMIN_KEY, Served, plinth_serve

WRITE_TIMEOUT_S = 2
FILE_BYTES = 24 * 1024 * 1024  # well over what the kernel's socket buffers can hold


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with plinth_serve(
        tmp_path_factory.mktemp("slow-reader"), open_files=1024, write_timeout_s=WRITE_TIMEOUT_S
    ) as server:
        yield server


def _upload(served: Served) -> str:
    answer = httpx.post(
        f"{served.base_url}/v1/files",
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        files={"file": ("big.txt", b"x" * FILE_BYTES, "text/plain")},
        data={"purpose": "assistants"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def _read_all(sock: socket.socket, deadline_s: float) -> int:
    """Bytes received until the server closes or resets, or ``deadline_s`` passes."""
    received = 0
    sock.settimeout(1.0)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            piece = sock.recv(1 << 20)
        except ConnectionResetError:
            break
        except TimeoutError:
            continue
        if not piece:
            break
        received += len(piece)
    return received


def test_an_unread_download_is_aborted(served: Served) -> None:
    file_id = _upload(served)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # no autotuning
    with sock:
        sock.connect((served.host, served.port))
        sock.sendall(
            f"GET /v1/files/{file_id}/content HTTP/1.1\r\nhost: plinth\r\n"
            f"authorization: Bearer {ADMIN_KEY}\r\n\r\n".encode()
        )
        time.sleep(WRITE_TIMEOUT_S * 4)  # not reading: the server's send buffer fills
        received = _read_all(sock, deadline_s=60)
    # Kept open, the whole file would arrive once read; aborted, at most what the
    # kernel's buffers held.
    assert received < FILE_BYTES


def test_a_download_read_steadily_completes(served: Served) -> None:
    file_id = _upload(served)
    with httpx.stream(
        "GET",
        f"{served.base_url}/v1/files/{file_id}/content",
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        timeout=60,
    ) as answer:
        assert answer.status_code == 200
        assert sum(len(piece) for piece in answer.iter_raw()) == FILE_BYTES
