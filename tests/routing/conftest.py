"""Apps whose deployments point at fake upstreams (real HTTP on loopback)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from plinth.app import create_app
from plinth.settings import Settings
from upstreamfake import FakeUpstream

ADMIN = "sk-plinth-routing-admin-0123456789"
UPSTREAM_KEY = "sk-upstream-secret-value-42"

AppFactory = Callable[..., TestClient]


@pytest.fixture
def upstreams() -> Iterator[Callable[[], FakeUpstream]]:
    with ExitStack() as stack:
        yield lambda: stack.enter_context(FakeUpstream())


@pytest.fixture
def gateway_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    """``gateway_app(deployments=[...], routing={...})``: a started app, admin-authenticated."""
    monkeypatch.setenv("FAKE_UPSTREAM_KEY", UPSTREAM_KEY)
    with ExitStack() as stack:

        def make(deployments: list[dict[str, Any]], **routing: Any) -> TestClient:
            settings = Settings(
                data_dir=tmp_path,
                admin_key=ADMIN,  # type: ignore[arg-type]
                load_bundled_models=False,
                deployments=deployments,  # type: ignore[arg-type]
                routing={"health_interval_s": 0, "backoff_initial_s": 0.01, **routing},  # type: ignore[arg-type]
            )
            client = TestClient(create_app(settings), raise_server_exceptions=False)
            stack.enter_context(client)
            client.headers["authorization"] = f"Bearer {ADMIN}"
            return client

        yield make


def deployment(up: FakeUpstream, **fields: Any) -> dict[str, Any]:
    return {
        "model": "gpt-fake",
        "base_url": up.base_url,
        "api_key_env": "FAKE_UPSTREAM_KEY",
        "upstream_model": "fake-model",
        **fields,
    }
