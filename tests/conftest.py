"""Shared fixtures: one real app on the bundled models, driven in-process.

The app (SmolLM2 + MiniLM on llama.cpp) starts once per test session; each
test gets its own keys so ledger assertions stay independent.
"""

from __future__ import annotations

import os

# llama.cpp's OpenMP threads spin-wait by default (Plinth's serving default,
# see llamacpp.embedding_threads). A test run hosts several llama.cpp servers
# (the in-process app, e2e servers) on few cores, where spinning threads starve
# each other by orders of magnitude; tests check behaviour, not speed, so they
# block instead. libgomp reads this when it loads, hence before any import of
# plinth. Subprocesses (plinth serve in e2e tests) inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from starlette.testclient import TestClient

from gatewaysupport import ADMIN, UPSTREAM_KEY, AppFactory
from plinth.app import create_app
from plinth.cli import main
from plinth.settings import Settings
from plinth.store.database import open_database
from testsupport import ADMIN_KEY, postgres_schema
from upstreamfake import FakeUpstream


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database: a SQLite file, then a throw-away PostgreSQL schema."""
    if request.param == "sqlite":
        engine = open_database(f"sqlite:///{tmp_path / 'plinth.db'}")
        yield engine
        engine.dispose()
        return
    with postgres_schema() as url:
        engine = open_database(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plinth-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        admin_key=ADMIN_KEY,  # type: ignore[arg-type]
        max_body_bytes=64 * 1024,
        llamacpp={"parallel_slots": 4, "context_per_slot": 1024},  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def app_client(settings: Settings) -> Iterator[TestClient]:
    """A client with no credentials, on the real app (models loaded once)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def as_caller(app_client: TestClient, key: str) -> TestClient:
    """Another client of the session's running app, sending ``key``.

    It shares the session client's event loop (its portal), where the app's
    services live; the shared client itself stays keyless, so no test changes
    the headers another one sends.
    """
    caller = TestClient(
        app_client.app, headers={"authorization": f"Bearer {key}"}, raise_server_exceptions=False
    )
    caller.portal = app_client.portal
    return caller


@pytest.fixture
def admin(app_client: TestClient) -> TestClient:
    return as_caller(app_client, ADMIN_KEY)


@pytest.fixture
def user_key(app_client: TestClient, request: pytest.FixtureRequest) -> str:
    """A fresh non-admin key, named after the test."""
    response = app_client.post(
        "/admin/keys",
        json={"name": request.node.name[:200]},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@pytest.fixture
def client(app_client: TestClient, user_key: str) -> TestClient:
    """A client of the session's app, authenticated with a fresh non-admin key."""
    return as_caller(app_client, user_key)


#: ``run("keys", "list")``: one ``plinth`` command on the test's own data dir.
RunCli = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path) -> RunCli:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, [*args, "--data-dir", str(tmp_path)])

    return invoke


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def upstreams() -> Iterator[Callable[[], FakeUpstream]]:
    with ExitStack() as stack:
        yield lambda: stack.enter_context(FakeUpstream())


@pytest.fixture
def gateway_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    """``gateway_app(deployments=[...], routing={...})``: a started app, admin-authenticated."""
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
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
