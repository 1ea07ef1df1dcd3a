"""Starting a real ``plinth serve`` process for the end-to-end tests."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

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
