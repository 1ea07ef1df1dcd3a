"""Prompt-cache accounting: cached prompt tokens in the usage object, the ledger and
the bill, from llama.cpp's own prefix reuse and from an upstream that reports them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from gatewaysupport import AppFactory, deployment
from upstreamfake import FakeUpstream

PROMPT = "one two three four five six"  # the fake counts words: 6 prompt tokens


@dataclass
class CachingUpstream(FakeUpstream):
    """Reports all but the last prompt token as read from its prompt cache."""

    @staticmethod
    def _usage(body: dict[str, Any], text: str) -> dict[str, Any]:
        usage = FakeUpstream._usage(body, text)
        usage["prompt_tokens_details"] = {"cached_tokens": usage["prompt_tokens"] - 1}
        return usage


@pytest.fixture
def app(gateway_app: AppFactory) -> Iterator[TestClient]:
    with CachingUpstream() as up:
        client = gateway_app([deployment(up)])
        # 0.1 per prompt token, 0.01 per cached one, 0.2 per output token.
        price = {
            "model": "gpt-fake",
            "input_per_mtok": "100000",
            "cached_input_per_mtok": "10000",
            "output_per_mtok": "200000",
        }
        assert client.post("/admin/prices", json=price).status_code == 201
        yield client


def _row(app: TestClient, request_id: str) -> Any:
    return app.get(f"/admin/usage/requests/{request_id}").json()


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_cached_tokens_reach_the_client_the_ledger_and_the_bill(
    app: TestClient, stream: bool
) -> None:
    body: dict[str, Any] = {"model": "gpt-fake", "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    response = app.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    if stream:
        frames = [line[6:] for line in response.text.splitlines() if line.startswith("data: {")]
        usage = json.loads(frames[-1])["usage"]
    else:
        usage = response.json()["usage"]
    assert usage["prompt_tokens"] == 6 and usage["completion_tokens"] == 6
    assert usage["prompt_tokens_details"] == {"cached_tokens": 5}
    row = _row(app, response.headers["x-request-id"])
    assert row["cached_tokens"] == 5
    assert row["cost_micros"] == 1 * 100_000 + 5 * 10_000 + 6 * 200_000


def test_llama_cpp_prefix_reuse_is_reported_and_booked(admin: TestClient) -> None:
    """The bundled model: the second identical prompt reuses the first one's prefix."""
    system = "You answer in one word. " * 30
    body = {
        "model": "smollm2-135m-instruct",
        "max_tokens": 2,
        "temperature": 0,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": "Hi"}],
    }
    admin.post("/v1/chat/completions", json=body)
    again = admin.post("/v1/chat/completions", json=body)
    assert again.status_code == 200, again.text
    usage = again.json()["usage"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert 0 < cached < usage["prompt_tokens"]
    assert _row(admin, again.headers["x-request-id"])["cached_tokens"] == cached
