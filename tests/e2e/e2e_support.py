"""Starting a real ``plinth serve`` process for the end-to-end tests."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")

ADMIN_KEY = "sk-plinth-e2e-admin-0123456789"


@dataclass(frozen=True)
class Server:
    base_url: str
    admin_key: str
    log_path: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(
    probe: Callable[[], T], done: Callable[[T], bool], *, within_s: float, what: str
) -> T:
    """Call ``probe`` until ``done`` holds for its result; fail after ``within_s``.

    For state that another *process* changes (a server starting, a ledger row
    arriving): the wait ends as soon as the condition holds, and the deadline
    only bounds how long a broken build takes to fail.
    """
    deadline = time.monotonic() + within_s
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_s} s (last: {result!r})")
        time.sleep(0.05)


def wait_until_healthy(
    process: subprocess.Popen[bytes], base_url: str, log_path: Path, *, within_s: float
) -> None:
    """Until ``GET /health`` answers 200; fail with the server's log if it exits first."""

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"plinth serve exited early:\n{log_path.read_text()}")
        try:
            return httpx.get(f"{base_url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    eventually(healthy, bool, within_s=within_s, what=f"plinth serve ready ({log_path})")
