"""The README, pasted: every shell and Python block runs, in README order, in one
fresh shell against a real ``plinth serve`` started as the README's serve command
does, after the two set-up commands.

Blocks are taken from README.md as written; the only substitutions are the ones
a reader makes: the port this test could bind instead of 8000, and the admin
key ``plinth serve`` printed on its first start instead of ``sk-plinth-...``.
The shell is fresh (the venv not active, no ``PLINTH_*`` or ``OPENAI_*``
variables) and has a home and working directory of its own, so the server and
the CLI share the default data dir as they do on a reader's machine.

A block that cannot run here says so in its first line, visible in the
README: ``# not run by the README test: <reason>``, and the reason must be one
of ``SKIP_REASONS`` (a hub, a cloud key, …); any other block runs. TOML blocks
must parse.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_support import Server, free_port, wait_until_healthy

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.S | re.M)
SETUP_MARKS = ("<!-- serve-command -->", "<!-- test-command -->")
SKIP_LINE = re.compile(r"# not run by the README test: (.+)")
SKIP_REASONS = (
    "needs the Hugging Face Hub or ModelScope",
    "needs a cloud provider's API key",
    "starts a second server",
    "needs the 'zh' extra",
)
SHELL = ("bash", "sh")
KNOWN_LANGUAGES = (*SHELL, "python", "toml", "text", "json")


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int
    setup: bool  # one of the two set-up commands

    @property
    def skip_reason(self) -> str | None:
        found = SKIP_LINE.fullmatch(self.code.split("\n", 1)[0].strip())
        return found.group(1) if found else None

    @property
    def runnable(self) -> bool:
        return self.language in (*SHELL, "python") and not self.setup


def readme_blocks() -> list[Block]:
    text = (ROOT / "README.md").read_text("utf-8")
    blocks = []
    for found in FENCE.finditer(text):
        before = text[: found.start()].rstrip()
        line = text.count("\n", 0, found.start()) + 1
        setup = before.endswith(SETUP_MARKS)
        blocks.append(Block(found.group(1), found.group(2), line, setup))
    return blocks


def as_script(blocks: list[Block]) -> str:
    """One bash script: shell blocks as written, Python blocks fed to ``python``."""
    lines = ["set -eo pipefail"]
    for block in blocks:
        lines.append(f"echo '>>> README line {block.line}' >&2")
        if block.language in SHELL:
            lines.append(block.code)
        else:
            lines.append(f"python - <<'README_PYTHON'\n{block.code}README_PYTHON")
    return "\n".join(lines) + "\n"


def test_every_block_runs_or_says_why_not() -> None:
    blocks = readme_blocks()
    assert [b.setup for b in blocks[:2]] == [True, True], "the two set-up commands come first"
    for block in blocks:
        assert block.language in KNOWN_LANGUAGES, f"README line {block.line}: fence language?"
        reason = block.skip_reason
        if reason is not None:
            assert block.runnable, f"README line {block.line}: only shell/Python blocks skip"
            assert reason.startswith(SKIP_REASONS), f"README line {block.line}: {reason!r}"
    run = [b for b in blocks if b.runnable and b.skip_reason is None]
    assert "source .venv/bin/activate" in run[0].code
    assert "export OPENAI_BASE_URL=http://127.0.0.1:8000/v1" in run[0].code
    assert len(run) >= 10 and any(b.language == "python" for b in run)


def test_toml_blocks_parse() -> None:
    for block in readme_blocks():
        if block.language == "toml":
            try:
                tomllib.loads(block.code)
            except tomllib.TOMLDecodeError as exc:
                raise AssertionError(f"README line {block.line}: {exc}") from exc


def fresh_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLINTH_", "OPENAI_"))}
    env.pop("VIRTUAL_ENV", None)
    return env | {"HOME": str(home)}


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home and a working folder; ``.venv`` there is this checkout's (the set-up made it)."""
    if not (ROOT / ".venv" / "bin" / "activate").exists():
        pytest.skip("the README's set-up makes .venv in the checkout; this one has none")
    folder = tmp_path_factory.mktemp("readme")
    (folder / "home").mkdir()
    (folder / "work").mkdir()
    (folder / "work" / ".venv").symlink_to(ROOT / ".venv")
    return folder


@pytest.fixture(scope="module")
def fresh_server(machine: Path) -> Iterator[Server]:
    """``plinth serve`` on a fresh home, no PLINTH_ADMIN_KEY: it prints the key."""
    serve_block = next(b for b in readme_blocks() if b.setup)
    assert serve_block.code.rstrip().endswith(".venv/bin/plinth serve")
    port = free_port()
    log_path = machine / "serve.log"
    command = [sys.executable, "-m", "plinth", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=machine / "work",
            env=fresh_env(machine / "home"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, base_url, log_path, within_s=180)
        printed = re.search(r"^\s+(sk-plinth-\S+)\s*$", log_path.read_text(), re.M)
        assert printed, f"no admin key printed:\n{log_path.read_text()}"
        yield Server(base_url, printed.group(1), log_path)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_readme_runs_as_pasted(fresh_server: Server, machine: Path) -> None:
    port = fresh_server.base_url.rsplit(":", 1)[1]
    run = [b for b in readme_blocks() if b.runnable and b.skip_reason is None]
    script = as_script(run).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    script = script.replace("sk-plinth-...", fresh_server.admin_key)
    env = fresh_env(machine / "home")
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # a fresh shell: the venv is not active
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=machine / "work",
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    for block in run:  # each block was reached
        assert f">>> README line {block.line}" in done.stderr
    assert '"object":"chat.completion"' in output.replace(" ", "")
    assert re.search(r"^384$", done.stdout, re.M), output  # the embedding's length
