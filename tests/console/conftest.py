"""A started app with a fake upstream model, and helpers to sign in to its console."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from plinth.app import create_app
from plinth.settings import Settings
from upstreamfake import FakeUpstream

ADMIN_KEY = "sk-plinth-console-admin-0123456789"
UPSTREAM_KEY = "sk-upstream-console-secret"
PASSWORD = "correct horse battery"


@dataclass
class Console:
    client: TestClient
    upstream: FakeUpstream
    settings: Settings

    def csrf(self, path: str = "/console/signin") -> str:
        page = self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        return found.group(1)

    def setup_admin(self, name: str = "root") -> None:
        token = self.csrf("/console/setup")
        form = {
            "csrf": token,
            "admin_key": ADMIN_KEY,
            "name": name,
            "password": PASSWORD,
            "password2": PASSWORD,
        }
        response = self.client.post("/console/setup", data=form, follow_redirects=False)
        assert response.status_code == 303, response.text

    def sign_in(self, name: str, password: str = PASSWORD) -> TestClient:
        token = self.csrf("/console/signin")
        response = self.client.post(
            "/console/signin",
            data={"csrf": token, "name": name, "password": password},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return self.client

    def post(self, path: str, data: dict[str, str], *, page: str | None = None) -> object:
        token = self.csrf(page or path)
        return self.client.post(path, data={"csrf": token, **data}, follow_redirects=False)


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
    with FakeUpstream() as upstream:
        settings = Settings(
            data_dir=tmp_path,
            admin_key=ADMIN_KEY,  # type: ignore[arg-type]
            load_bundled_models=False,
            deployments=[  # type: ignore[list-item]
                {
                    "model": "gpt-fake",
                    "base_url": upstream.base_url,
                    "api_key_env": "FAKE_UPSTREAM_API_KEY",
                    "upstream_model": "fake-model",
                }
            ],
            routing={"health_interval_s": 0},  # type: ignore[arg-type]
        )
        with TestClient(create_app(settings), raise_server_exceptions=True) as client:
            yield Console(client, upstream, settings)
