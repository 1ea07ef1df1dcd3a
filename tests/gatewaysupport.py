"""Helpers for tests of apps whose deployments point at fake upstreams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from upstreamfake import FakeUpstream

ADMIN = "sk-plinth-routing-admin-0123456789"
UPSTREAM_KEY = "sk-upstream-secret-value-42"

AppFactory = Callable[..., TestClient]


def deployment(up: FakeUpstream, **fields: Any) -> dict[str, Any]:
    return {
        "model": "gpt-fake",
        "base_url": up.base_url,
        "api_key_env": "FAKE_UPSTREAM_API_KEY",
        "upstream_model": "fake-model",
        **fields,
    }
