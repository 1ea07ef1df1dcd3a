"""Constants and assertions shared by the in-process tests (importable: tests/ is on sys.path)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

ADMIN_KEY = "sk-plinth-test-admin-0123456789"
CHAT_MODEL = "smollm2-135m-instruct"
EMBED_MODEL = "all-minilm-l6-v2"
#: The PostgreSQL that development and CI machines run (trust auth, database ``test``).
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL on a fresh, throw-away schema of the test PostgreSQL (skips if unreachable)."""
    admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    schema = "plinth_test_" + secrets.token_hex(4)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: {exc.orig}")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def assert_error(
    response: Any,
    status: int,
    error_type: str,
    *,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """The exact OpenAI error shape; returns the inner ``error`` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert sorted(error) == ["code", "message", "param", "type"]
    assert isinstance(error["message"], str) and error["message"].strip()
    assert (error["type"], error["param"], error["code"]) == (error_type, param, code)
    return dict(error)


def sse(response: Any) -> list[dict[str, Any]]:
    """The JSON chunks of an SSE response that ended normally with one ``[DONE]``."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.text.endswith("\n\n")
    frames = response.text.split("\n\n")[:-1]
    assert all(f.startswith("data: ") for f in frames), frames
    assert frames[-1] == "data: [DONE]" and frames.count("data: [DONE]") == 1
    return [json.loads(f.removeprefix("data: ")) for f in frames[:-1]]
