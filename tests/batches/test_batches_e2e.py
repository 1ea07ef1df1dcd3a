"""The Batch API with the official ``openai`` SDK against a real ``plinth serve``,
killed (SIGKILL) mid-batch and restarted: every line exactly once in the output
file and in the ledger."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from openai import OpenAI

from upstreamfake import FakeUpstream, Fault

pytestmark = pytest.mark.e2e
ADMIN = "sk-plinth-batch-e2e-admin-0123456789"
LINES = 12
T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(probe: Callable[[], T], done: Callable[[T], bool], within_s: float, what: str) -> T:
    deadline = time.monotonic() + within_s
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_s} s (last: {result!r})")
        time.sleep(0.05)


class Serve:
    """``plinth serve`` on one data dir, started and killed at will."""

    def __init__(self, tmp: Path, config: Path):
        self.tmp, self.config = tmp, config
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self) -> None:
        port = _free_port()
        env = {**os.environ, "PLINTH_ADMIN_KEY": ADMIN, "PLINTH_CONFIG": str(self.config)}
        env["FAKE_UPSTREAM_API_KEY"] = "sk-upstream-batch"
        log = (self.tmp / "serve.log").open("ab")
        command = [sys.executable, "-m", "plinth", "serve", "--port", str(port)]
        command += ["--data-dir", str(self.tmp / "data")]
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert self.process is not None and self.process.poll() is None, (
                self.tmp / "serve.log"
            ).read_text()
            try:
                return httpx.get(f"{self.base}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        _until(healthy, bool, 60, "plinth serve ready")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no shutdown, no drain
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Serve, FakeUpstream]]:
    with FakeUpstream() as up:
        config = tmp_path / "plinth.toml"
        config.write_text(
            'load_bundled_models = false\nlog_level = "warning"\n'
            "[routing]\nhealth_interval_s = 0\n"
            "[batches]\nconcurrency = 2\nlease_s = 2\n"
            f'[[deployments]]\nmodel = "gpt-fake"\nbase_url = "{up.base_url}"\n'
            'api_key_env = "FAKE_UPSTREAM_API_KEY"\nupstream_model = "fake-model"\n'
        )
        serve = Serve(tmp_path, config)
        try:
            serve.start()
            yield serve, up
        finally:
            serve.stop()


def _ledger(data: Path, batch_id: str) -> list[tuple[str, str, int]]:
    with sqlite3.connect(data / "plinth.db") as conn:
        rows = conn.execute(
            "SELECT request_id, status, cost_micros FROM usage WHERE batch_id = ?", (batch_id,)
        )
        return list(rows)


def test_a_batch_survives_a_kill_mid_run_with_every_line_once(
    served: tuple[Serve, FakeUpstream],
) -> None:
    serve, up = served
    up.always(Fault.latency(0.3))
    headers = {"authorization": f"Bearer {ADMIN}"}
    price = {"model": "gpt-fake", "per_request": "0.001", "batch_discount_percent": 50}
    assert httpx.post(f"{serve.base}/admin/prices", json=price, headers=headers).is_success
    lines = [
        {
            "custom_id": f"line-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-fake", "messages": [{"role": "user", "content": f"echo {i}"}]},
        }
        for i in range(LINES)
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()

    sdk = OpenAI(base_url=f"{serve.base}/v1", api_key=ADMIN, max_retries=0)
    upload = sdk.files.create(file=("batch.jsonl", data), purpose="batch")
    batch = sdk.batches.create(
        input_file_id=upload.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert batch.status == "validating" and batch.metadata == {"job": "nightly"}

    # Kill it once some lines are done and others are running.
    _until(
        lambda: sdk.batches.retrieve(batch.id).request_counts,
        lambda counts: counts is not None and counts.completed >= 3,
        30,
        "three lines done",
    )
    serve.kill()
    before = len(up.generation_requests())
    assert before < LINES  # the kill really was mid-batch

    serve.start()
    sdk = OpenAI(base_url=f"{serve.base}/v1", api_key=ADMIN, max_retries=0)
    done = _until(
        lambda: sdk.batches.retrieve(batch.id), lambda b: b.status == "completed", 60, "done"
    )
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (LINES, LINES)
    assert done.error_file_id is None and done.output_file_id is not None

    output = [
        json.loads(line) for line in sdk.files.content(done.output_file_id).text.split("\n") if line
    ]
    assert [item["custom_id"] for item in output] == [f"line-{i}" for i in range(LINES)]
    for i, item in enumerate(output):
        assert item["response"]["status_code"] == 200
        assert item["response"]["body"]["choices"][0]["message"]["content"] == f"echo {i}"
    # Ledger rows are journaled, then committed in groups a moment after each line.
    ledger = _until(
        lambda: _ledger(serve.tmp / "data", batch.id),
        lambda rows: len(rows) >= LINES,
        10,
        "every line's ledger row",
    )
    assert sorted(r[0] for r in ledger) == sorted(o["response"]["request_id"] for o in output)
    assert {(status, cost) for _, status, cost in ledger} == {("ok", 500)}  # half of 0.001

    listed = sdk.batches.list(limit=5)
    assert [b.id for b in listed.data] == [batch.id]
