"""The first admin key: from PLINTH_ADMIN_KEY, or created and printed exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from plinth.bootstrap import bootstrap_admin_key
from plinth.errors import RevokedKeyReused
from plinth.settings import Settings
from plinth.store.database import open_database
from plinth.store.keys import KeyStore


def keys(tmp_path: Path) -> KeyStore:
    return KeyStore(open_database(f"sqlite:///{tmp_path / 'k.db'}"))


def test_first_start_prints_one_admin_key_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, settings = keys(tmp_path), Settings(data_dir=tmp_path)
    bootstrap_admin_key(store, settings)
    printed = capsys.readouterr().out
    secret = next(word for word in printed.split() if word.startswith("sk-plinth-"))
    found = store.find_active(secret)
    assert found is not None and found.is_admin
    bootstrap_admin_key(store, settings)
    assert capsys.readouterr().out == ""
    assert len(store.list()) == 1


def test_admin_key_from_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = keys(tmp_path)
    settings = Settings(data_dir=tmp_path, admin_key=SecretStr("sk-plinth-chosen-by-me-12345"))
    bootstrap_admin_key(store, settings)
    bootstrap_admin_key(store, settings)
    assert capsys.readouterr().out == ""
    found = store.find_active("sk-plinth-chosen-by-me-12345")
    assert found is not None and found.is_admin and len(store.list()) == 1
    store.revoke(found.id)
    with pytest.raises(RevokedKeyReused, match="revoked"):
        bootstrap_admin_key(store, settings)


def test_compute_nice_reaches_chat_engines_only(tmp_path: Path) -> None:
    """``llamacpp.compute_nice`` is a chat-model option: embedders keep their own."""
    from plinth.bootstrap import build_engines
    from plinth.engines.llamacpp import LlamaCppEngine
    from plinth.store.database import open_database
    from plinth.store.models import ModelStore

    settings = Settings(data_dir=tmp_path, llamacpp={"compute_nice": 3})
    store = ModelStore(open_database(f"sqlite:///{tmp_path / 'plinth.db'}"))
    engines = build_engines(settings, store)
    chats = [e for e in engines if isinstance(e, LlamaCppEngine) and e.kind == "chat"]
    assert chats and all(e.options.compute_nice == 3 for e in chats)
    others = [e for e in engines if isinstance(e, LlamaCppEngine) and e.kind != "chat"]
    assert all(e.options.compute_nice == 0 for e in others)
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, llamacpp={"compute_nice": 20})
