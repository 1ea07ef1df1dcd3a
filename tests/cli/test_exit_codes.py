"""`plinth bench run` exits non-zero, with the reason, when it could not measure anything.

The server is a real HTTP fake on 127.0.0.1; an unreachable server is a port
that was bound once and then closed.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from plinth.cli import main
from upstreamfake import FakeUpstream, Fault

_FAST = ["--model", "fake-model", "--profile", "sequential", "--requests", "2"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _runs(runner: CliRunner, data_dir: Path) -> list[dict[str, object]]:
    result = runner.invoke(main, ["bench", "list", "--json", "--data-dir", str(data_dir)])
    runs: list[dict[str, object]] = json.loads(result.output)
    return runs


def test_a_refused_key_fails_the_run_and_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLINTH_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    runner = CliRunner()
    with FakeUpstream() as server:
        server.always(Fault.status(401))
        result = runner.invoke(
            main,
            ["bench", "run", "--url", server.base_url, *_FAST, "--data-dir", str(tmp_path)],
        )
    assert result.exit_code == 1, result.output
    assert "HTTP 401" in result.output and "check the key" in result.output
    assert "RANK" not in result.output  # no recommendation from unmeasured requests
    assert [r["status"] for r in _runs(runner, tmp_path)] == ["failed"]


def test_an_unreachable_server_fails_the_run_and_names_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.delenv("PLINTH_BASE_URL", raising=False)
    result = CliRunner().invoke(
        main, ["bench", "run", *_FAST, "--key", "sk-x", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1, result.output
    assert url in result.output and "ClientConnectorError" in result.output


def test_openai_variables_are_read_when_plinths_are_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PLINTH_API_KEY", "PLINTH_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-env")
    with FakeUpstream() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        result = CliRunner().invoke(main, ["bench", "run", *_FAST, "--data-dir", str(tmp_path)])
        received = server.generation_requests()
    assert result.exit_code == 0, result.output
    assert len(received) == 2
    assert all(r.headers.get("authorization") == "Bearer sk-from-openai-env" for r in received)


def test_plinth_variables_win_over_openai_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("PLINTH_API_KEY", "sk-plinth")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{_closed_port()}/v1")
    with FakeUpstream() as server:
        monkeypatch.setenv("PLINTH_BASE_URL", server.base_url)
        result = CliRunner().invoke(main, ["bench", "run", *_FAST, "--data-dir", str(tmp_path)])
        received = server.generation_requests()
    assert result.exit_code == 0, result.output
    assert received and received[0].headers.get("authorization") == "Bearer sk-plinth"
