"""A real ``plinth serve`` process on a free loopback port, shared by the e2e tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import ADMIN_KEY, Server, free_port, wait_until_healthy


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Server]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("e2e") / "serve.log"
    env = {
        **os.environ,
        "PLINTH_ADMIN_KEY": ADMIN_KEY,
        "PLINTH_LLAMACPP__PARALLEL_SLOTS": "4",
        "PLINTH_LLAMACPP__CONTEXT_PER_SLOT": "1024",
    }
    # The in-process tests' data dir already holds the converted embedding model.
    command = [sys.executable, "-m", "plinth", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir / "e2e")]
    (data_dir / "e2e" / "models").mkdir(parents=True, exist_ok=True)
    for gguf in (data_dir / "models").glob("*.gguf"):
        target = data_dir / "e2e" / "models" / gguf.name
        if not target.exists():
            target.symlink_to(gguf)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, base_url, log_path, within_s=120)
        yield Server(base_url, ADMIN_KEY, log_path)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
