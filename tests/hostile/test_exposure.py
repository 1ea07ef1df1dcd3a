"""/health and /metrics (readable without a key) name served model ids and nothing an
operator chose beyond them: no deployment ids, upstream hosts or client strings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from plinth.app import create_app
from plinth.metrics import deployment_label
from plinth.settings import Settings

ADMIN = "sk-plinth-exposure-admin-0123456789"
SECRET_ID = "finance-team-secret-deployment"
HOST = "127.0.0.1:9"  # the discard port: every attempt fails to connect


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path,
        admin_key=ADMIN,
        load_bundled_models=False,
        deployments=[
            {"id": SECRET_ID, "model": "public-chat", "base_url": f"http://{HOST}/v1"},
            {"model": "public-chat", "base_url": "http://127.0.0.1:7/v1"},
        ],
        routing={"health_interval_s": 0, "backoff_initial_s": 0, "max_attempts": 2},
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        test_client.headers["authorization"] = f"Bearer {ADMIN}"
        yield test_client


def test_health_and_metrics_name_models_not_deployments_or_hosts(client: TestClient) -> None:
    failed = client.post(
        "/v1/chat/completions",
        json={"model": "public-chat", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert failed.status_code in (502, 503), failed.text
    client.post("/v1/chat/completions", json={"model": "client-chosen-name", "messages": []})
    health = client.get("/health")
    metrics = client.get("/metrics")
    assert health.status_code == metrics.status_code == 200
    assert health.json()["models"] == [{"id": "public-chat", "kind": "chat"}]
    for text in (health.text, metrics.text):
        assert SECRET_ID not in text
        assert "127.0.0.1" not in text
        assert "client-chosen-name" not in text
    failures = [
        line
        for line in metrics.text.splitlines()
        if line.startswith("plinth_deployment_failures_total")
    ]
    assert any(f'deployment="{deployment_label(SECRET_ID)}"' in line for line in failures)
    assert all('model="public-chat"' in line for line in failures)
