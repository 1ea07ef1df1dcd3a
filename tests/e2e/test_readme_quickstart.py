"""The README's Quickstart, pasted: its marked blocks run in order in one shell
against a real ``plinth serve`` started as the README's serve command does.

Blocks marked ``<!-- quickstart: run -->`` are taken from README.md as written;
the only substitutions are the ones a reader makes: the port this test could
bind instead of 8000, and the admin key ``plinth serve`` printed on its first
start instead of ``sk-plinth-...``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import Server, free_port, wait_until_healthy

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- quickstart: run -->"
BLOCK = re.compile(r"```(bash|python)\n(.*?)```", re.S)


def readme_blocks() -> list[tuple[str, str]]:
    """(language, code) of each marked block, in README order."""
    text = (ROOT / "README.md").read_text("utf-8")
    blocks = []
    for part in text.split(MARK)[1:]:
        found = BLOCK.match(part.lstrip())
        assert found, f"{MARK} must be followed by a bash or python block"
        blocks.append((found.group(1), found.group(2)))
    return blocks


def as_script(blocks: list[tuple[str, str]]) -> str:
    """One bash script: bash blocks as written, python blocks fed to ``python``."""
    lines = ["set -eo pipefail"]
    for language, code in blocks:
        if language == "bash":
            lines.append(code)
        else:
            lines.append(f"python - <<'README_PYTHON'\n{code}README_PYTHON")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``plinth serve`` on a new data dir, no PLINTH_ADMIN_KEY: it prints the key."""
    serve_block = (ROOT / "README.md").read_text("utf-8").split("<!-- serve-command -->")[1]
    assert ".venv/bin/plinth serve" in serve_block.split("```")[1]
    port = free_port()
    folder = tmp_path_factory.mktemp("readme")
    log_path = folder / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLINTH_", "OPENAI_"))}
    env["PLINTH_DATA_DIR"] = str(folder / "data")
    command = [sys.executable, "-m", "plinth", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
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


def test_marked_blocks_include_the_quickstart() -> None:
    blocks = readme_blocks()
    assert blocks[0][0] == "bash" and "source .venv/bin/activate" in blocks[0][1]
    assert "export OPENAI_BASE_URL=http://127.0.0.1:8000/v1" in blocks[0][1]
    assert any(language == "python" for language, _ in blocks)


def test_quickstart_runs_as_pasted(fresh_server: Server, tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "activate").exists():
        pytest.skip("the README's set-up makes .venv in the checkout; this one has none")
    port = fresh_server.base_url.rsplit(":", 1)[1]
    script = as_script(readme_blocks())
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    script = script.replace("sk-plinth-...", fresh_server.admin_key)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLINTH_", "OPENAI_"))}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # a fresh shell: the venv is not active
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert '"object":"chat.completion"' in output.replace(" ", "")
    assert re.search(r"^384$", done.stdout, re.M), output  # the embedding's length
