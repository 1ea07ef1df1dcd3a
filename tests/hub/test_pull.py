"""``plinth models pull`` against a fake Hugging Face Hub and ModelScope on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import gguf
import pytest
from click.testing import Result
from fakehub import FakeHub, running

#: the ``run`` fixture of tests/conftest.py (not imported: several conftest modules exist)
RunCli = Callable[..., Result]

TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}"
REPO = "acme/Tiny-GGUF"


def tiny_gguf(tmp_path: Path, name: str, template: str | None = TEMPLATE) -> bytes:
    """A real (tensor-less) GGUF file carrying a chat template, as bytes."""
    path = tmp_path / name
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    if template is not None:
        writer.add_chat_template(template)
    for index in range(200):  # some bulk, so a cut lands mid-file
        writer.add_string(f"test.filler.{index}", "x" * 40)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    files = {
        "tiny-q4_k_m.gguf": tiny_gguf(tmp_path, "q4"),
        "tiny-Q8_0.gguf": tiny_gguf(tmp_path, "q8"),
        "README.md": b"# tiny\n",
    }
    fake = FakeHub(repos={REPO: files, "acme/Gated-GGUF": dict(files)}, gated={"acme/Gated-GGUF"})
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "MODELSCOPE_API_TOKEN", "PLINTH_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with running(fake):
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", fake.url)
        yield fake


def models(run: RunCli) -> dict[str, dict[str, str]]:
    result = run("models", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return {row["id"]: row for row in json.loads(result.output)}


def pulled(tmp_path: Path, source: str, file: str, repo: str = REPO) -> Path:
    return tmp_path / "models" / source / repo / file


def test_pull_by_quant_from_hugging_face(run: RunCli, hub: FakeHub, tmp_path: Path) -> None:
    result = run("models", "pull", REPO, "--quant", "Q4_K_M", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Chat template: the GGUF's own." in result.output
    path = pulled(tmp_path, "huggingface", "tiny-q4_k_m.gguf")
    assert path.read_bytes() == hub.repos[REPO]["tiny-q4_k_m.gguf"]
    row = models(run)["tiny:q4_k_m"]
    assert (row["kind"], row["source"], row["status"]) == ("chat", "added", "ok")
    assert row["description"] == str(path)  # no template stored: llama.cpp reads the GGUF's
    assert not list(path.parent.glob("*.part"))


def test_pull_from_modelscope(run: RunCli, hub: FakeHub, tmp_path: Path) -> None:
    result = run(
        "models", "pull", REPO, "--source", "modelscope", "--file", "tiny-Q8_0.gguf",
        "--id", "tiny-q8", "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = pulled(tmp_path, "modelscope", "tiny-Q8_0.gguf")
    assert path.read_bytes() == hub.repos[REPO]["tiny-Q8_0.gguf"]
    assert models(run)["tiny-q8"]["description"] == str(path)
    assert any(r["path"] == f"/api/v1/models/{REPO}/repo/files" for r in hub.requests)


@pytest.mark.parametrize("source", ["huggingface", "modelscope"])
def test_an_interrupted_download_resumes(
    run: RunCli, hub: FakeHub, tmp_path: Path, source: str
) -> None:
    name = "tiny-q4_k_m.gguf"
    hub.cut_after[name] = 3000
    first = run("models", "pull", REPO, "--quant", "q4_k_m", "--source", source, "--no-progress")
    assert first.exit_code != 0
    assert "interrupted" in first.output and "resume" in first.output
    part = pulled(tmp_path, source, name + ".part")
    assert part.stat().st_size == 3000
    assert "tiny:q4_k_m" not in models(run)

    second = run("models", "pull", REPO, "--quant", "q4_k_m", "--source", source, "--no-progress")
    assert second.exit_code == 0, second.output
    assert hub.ranges(name) == [None, "bytes=3000-"]
    assert pulled(tmp_path, source, name).read_bytes() == hub.repos[REPO][name]
    assert not part.exists()
    assert "tiny:q4_k_m" in models(run)


def test_a_server_that_ignores_the_range_restarts_the_file(
    run: RunCli, hub: FakeHub, tmp_path: Path
) -> None:
    name = "tiny-q4_k_m.gguf"
    hub.cut_after[name] = 3000
    run("models", "pull", REPO, "--quant", "Q4_K_M", "--no-progress")
    hub.ignore_range = True
    result = run("models", "pull", REPO, "--quant", "Q4_K_M", "--no-progress")
    assert result.exit_code == 0, result.output
    assert pulled(tmp_path, "huggingface", name).read_bytes() == hub.repos[REPO][name]


@pytest.mark.parametrize("source", ["huggingface", "modelscope"])
def test_a_corrupted_download_is_refused_and_deleted(
    run: RunCli, hub: FakeHub, tmp_path: Path, source: str
) -> None:
    hub.corrupt.add("tiny-q4_k_m.gguf")
    result = run("models", "pull", REPO, "--quant", "Q4_K_M", "--source", source, "--no-progress")
    assert result.exit_code != 0
    assert (
        "does not match" in result.output and hub.sha256(REPO, "tiny-q4_k_m.gguf") in result.output
    )
    assert not list((tmp_path / "models" / source).rglob("tiny-q4_k_m.gguf*"))
    assert "tiny:q4_k_m" not in models(run)


def test_gated_repos_need_a_token(
    run: RunCli, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = run("models", "pull", "acme/Gated-GGUF", "--quant", "Q8_0", "--no-progress")
    assert refused.exit_code != 0
    assert "token" in refused.output
    monkeypatch.setenv("HF_TOKEN", "good-token")
    result = run("models", "pull", "acme/Gated-GGUF", "--quant", "Q8_0", "--no-progress")
    assert result.exit_code == 0, result.output
    content = [r for r in hub.requests if r["content"]]
    assert content and all(r["auth"] == "Bearer good-token" for r in content)


def test_the_token_does_not_follow_a_redirect_to_another_host(
    run: RunCli, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.cdn_host = "localhost"
    monkeypatch.setenv("HF_TOKEN", "good-token")
    result = run("models", "pull", "acme/Gated-GGUF", "--quant", "Q8_0", "--no-progress")
    assert result.exit_code == 0, result.output
    resolve = [r for r in hub.requests if "/resolve/" in r["path"]]
    content = [r for r in hub.requests if r["content"]]
    assert [r["auth"] for r in resolve] == ["Bearer good-token"]
    assert [(r["host"].split(":")[0], r["auth"]) for r in content] == [("localhost", None)]


def test_requests_go_through_the_proxy(
    run: RunCli, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The endpoint's name resolves nowhere: only the proxy can reach it.
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")
    hub.cdn_host = "cdn.invalid"
    monkeypatch.setenv("HTTP_PROXY", hub.url)
    monkeypatch.setenv("NO_PROXY", "")
    result = run("models", "pull", REPO, "--quant", "Q4_K_M", "--no-progress")
    assert result.exit_code == 0, result.output
    hosts = {r["host"].split(":")[0] for r in hub.requests}
    assert hosts == {"hub.invalid", "cdn.invalid"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quant", "Q2_K"], "No GGUF file for quantisation 'Q2_K'"),
        ([], "several GGUF files"),
        (["--file", "nope.gguf"], "no file 'nope.gguf'"),
    ],
)
def test_choosing_a_file(run: RunCli, hub: FakeHub, args: list[str], message: str) -> None:
    result = run("models", "pull", REPO, *args, "--no-progress")
    assert result.exit_code != 0
    assert message in result.output
    assert "tiny-q4_k_m.gguf" in result.output  # the error lists what there is


def test_unknown_repo_and_bad_ids(run: RunCli, hub: FakeHub) -> None:
    missing = run("models", "pull", "acme/Nothing", "--quant", "Q4_K_M", "--no-progress")
    assert missing.exit_code != 0 and "has no" in missing.output
    bad = run("models", "pull", "../etc", "--no-progress")
    assert bad.exit_code != 0 and "not a repo id" in bad.output
