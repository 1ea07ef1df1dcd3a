"""A real ``plinth serve`` (no models) for the connection tests, and raw loopback sockets."""

from __future__ import annotations

import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ADMIN_KEY = "sk-plinth-hostile-admin-0123456789"


@dataclass(frozen=True)
class Served:
    host: str
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def raise_own_file_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def plinth_serve(data_dir: Path, open_files: int, **server_limits: object) -> Iterator[Served]:
    """``plinth serve`` on a free loopback port, its open-file limit (soft and hard) set
    to ``open_files`` and its ``[server]`` limits set by env."""
    port = _free_port()
    log_path = data_dir / "serve.log"
    env = {
        **os.environ,
        "PLINTH_ADMIN_KEY": ADMIN_KEY,
        "PLINTH_LOAD_BUNDLED_MODELS": "false",
        **{f"PLINTH_SERVER__{k.upper()}": str(v) for k, v in server_limits.items()},
    }
    command = [sys.executable, "-m", "plinth", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files)),
        )
    served = Served("127.0.0.1", port, log_path)
    try:
        _wait_ready(process, served)
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], served: Served) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"plinth serve exited early:\n{served.log_path.read_text()}")
        try:
            if httpx.get(f"{served.base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling a start-up, not synchronising a test
    raise RuntimeError(f"plinth serve did not become ready:\n{served.log_path.read_text()}")


def open_stalled(served: Served, source: str, count: int, partial: bytes) -> list[socket.socket]:
    """``count`` connections from loopback address ``source`` that send ``partial`` and stop."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind((source, 0))
        sock.connect((served.host, served.port))
        if partial:
            sock.sendall(partial)
        sockets.append(sock)
    return sockets


def answer_until_closed(served: Served, source: str, request: bytes) -> bytes:
    """What one connection from ``source`` that sends ``request`` receives before the
    server closes it (fails if the server has not closed it within 20 s)."""
    (sock,) = open_stalled(served, source, 1, request)
    with sock:
        closed = read_until_closed([sock], deadline_s=20)
    (data,) = closed.values()
    return data


def read_until_closed(sockets: list[socket.socket], deadline_s: float) -> dict[int, bytes]:
    """What each socket received before the server closed it; open ones are left out."""
    received = {sock.fileno(): b"" for sock in sockets}
    closed: dict[int, bytes] = {}
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        end = time.monotonic() + deadline_s
        while len(closed) < len(sockets) and time.monotonic() < end:
            for key, _ in selector.select(timeout=max(0.0, end - time.monotonic())):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                try:
                    chunk = ready.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    received[ready.fileno()] += chunk
                else:
                    closed[ready.fileno()] = received[ready.fileno()]
                    selector.unregister(ready)
    return closed
