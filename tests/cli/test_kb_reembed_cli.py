"""``plinth kb reembed``: a store re-embedded from the shell with another loaded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_kb_cli import FakeEmbedder, fake_embed

from plinth.cli import kb as kb_cli
from plinth.cli import main
from plinth.engines.base import EmbeddingResult


class OtherEmbedder(FakeEmbedder):
    """The bundled multilingual-e5-small's id, the fake's vectors twice as wide."""

    def __init__(self) -> None:
        super().__init__()
        self.model_id = "multilingual-e5-small"

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in inputs]
        rows = [row * 2 for row in await fake_embed(texts)]
        return EmbeddingResult(rows, sum(len(t) for t in texts))


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    engines = lambda settings, db: [FakeEmbedder(), OtherEmbedder()]  # noqa: E731
    monkeypatch.setattr(kb_cli, "embedding_engines", engines)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, [*args, "--data-dir", str(tmp_path / "data")])

    return invoke


def test_reembed_then_search(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.txt").write_text("Refunds: items may be returned within 30 days.")
    (docs / "shipping.txt").write_text("Parcels leave the warehouse every Monday.")
    assert run("kb", "create", "handbook").exit_code == 0
    assert run("kb", "add", "handbook", str(docs)).exit_code == 0
    never = run("kb", "reembed", "handbook")
    assert never.exit_code == 1 and "has not been re-embedded" in never.output

    done = run("kb", "reembed", "handbook", "--model", "multilingual-e5-small")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["status"] == "completed" and report["chunks"] == {"total": 2, "done": 2}
    assert report["previous_model"] == "all-minilm-l6-v2"

    status = json.loads(run("kb", "reembed", "handbook").stdout)
    assert status["current_model"] == "multilingual-e5-small"
    found = run("kb", "search", "handbook", "refunds within 30 days", "--json")
    assert json.loads(found.stdout)[0]["filename"] == "returns.txt"

    again = run("kb", "reembed", "handbook", "--model", "multilingual-e5-small")
    assert again.exit_code == 1 and "already embedded" in again.output
    unknown = run("kb", "reembed", "handbook", "--model", "nope")
    assert unknown.exit_code == 1 and "not loaded" in unknown.output
