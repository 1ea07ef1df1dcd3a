"""A setting that needs an absent optional extra fails with one line naming it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import click
import pytest

from plinth.cli.serve import preflight
from plinth.errors import MissingExtra
from plinth.knowledge.milvus import MilvusIndex
from plinth.settings import Settings


@pytest.fixture
def without_milvus(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name in ("pymilvus", "milvus_lite") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.usefixtures("without_milvus")
def test_milvus_without_the_extra_names_it(tmp_path: Path) -> None:
    with pytest.raises(MissingExtra, match=r"pip install 'plinth\[milvus\]'"):
        MilvusIndex(str(tmp_path / "kb.db"))
    settings = Settings(
        data_dir=tmp_path,
        knowledge={"backend": "milvus", "milvus_uri": str(tmp_path / "kb.db")},  # type: ignore[arg-type]
    )
    with pytest.raises(click.ClickException) as refused:
        preflight(settings)
    assert "cannot start" in refused.value.message
    assert 'knowledge.backend = "milvus"' in refused.value.message
    assert "plinth[milvus]" in refused.value.message


def test_the_default_backend_needs_no_extra(tmp_path: Path, without_milvus: None) -> None:
    preflight(Settings(data_dir=tmp_path))  # no error: the embedded backend is the default


def test_redis_url_without_the_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real(name, *a)
    )
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    with pytest.raises(click.ClickException) as refused:
        preflight(settings)
    assert "redis_url" in refused.value.message
    assert "pip install 'plinth[redis]'" in refused.value.message
