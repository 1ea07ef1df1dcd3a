"""``plinth kb``: create, add (folders, failures), search, list, rm — in-process, fake embedder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from plinth.cli import kb as kb_cli
from plinth.cli import main
from plinth.knowledge.chunking import WordPieceSpans
from plinth.knowledge.embedding import WindowedEmbedder
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


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    async def fake_embedder(settings: object) -> tuple[None, WindowedEmbedder]:
        return None, WindowedEmbedder(fake_embed, WordPieceSpans.bundled())

    monkeypatch.setattr(kb_cli, "open_embedder", fake_embedder)
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
