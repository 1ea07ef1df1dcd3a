"""Every "already exists" is one error, AlreadyExists (409 already_exists), whatever the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from plinth.billing.plans import Plan, PlanStore
from plinth.deployment import Deployment
from plinth.errors import AlreadyExists, error_body
from plinth.store.database import open_database
from plinth.store.deployments import DeploymentStore
from plinth.store.models import ModelStore
from plinth.store.tenants import TenantStore


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(f"sqlite:///{tmp_path / 'plinth.db'}")


def _twice(create: Callable[..., object], *args: object) -> AlreadyExists:
    create(*args)
    with pytest.raises(AlreadyExists) as taken:
        create(*args)
    return taken.value


def test_each_store_says_already_exists(engine: Engine) -> None:
    plan = Plan("pro", "month", "UTC", fee_micros=0, included_micros=0, overage="bill")
    deployment = Deployment(model="m", base_url="http://127.0.0.1:9/v1")
    refusals = [
        _twice(TenantStore(engine).create, "acme"),
        _twice(PlanStore(engine).create, plan),
        _twice(DeploymentStore(engine).add, deployment),
        _twice(ModelStore(engine).add, "my-model", "chat", "/models/m.gguf"),
    ]
    for refusal in refusals:
        status, body = error_body(refusal)
        assert status == 409 and body["error"]["code"] == "already_exists", body
        assert "already" in body["error"]["message"] or "exists" in body["error"]["message"]
