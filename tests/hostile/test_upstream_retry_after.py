"""An upstream's Retry-After is a number it chose: ``inf`` or a billion seconds must
neither crash the error answer (``round(inf)`` was a 500) nor take the deployment
out of service for decades (the breaker held open for that long)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gatewaysupport import AppFactory, deployment
from upstreamfake import FakeUpstream, Fault

BODY = {"model": "gpt-fake", "messages": [{"role": "user", "content": "one two three"}]}


@pytest.mark.parametrize("retry_after", [float("inf"), 1e9])
def test_an_absurd_retry_after_is_a_429_and_the_deployment_comes_back(
    gateway_app: AppFactory, upstreams: Callable[[], FakeUpstream], retry_after: float
) -> None:
    up = upstreams()
    up.push(Fault.status(429, retry_after=retry_after))
    client = gateway_app([deployment(up)], backoff_max_s=1.0)
    refused = client.post("/v1/chat/completions", json=BODY)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "upstream_rate_limited"
    seconds = int(refused.headers["retry-after"])  # a whole number of seconds
    assert 1 <= seconds <= 3600
    # The breaker honours the hold, up to a bound: finite, and at most an hour away.
    listed = client.get("/admin/deployments")
    assert listed.status_code == 200, listed.text
    (state,) = listed.json()["data"]
    breaker = state["state"]["breaker"]
    assert breaker["state"] == "open"
    assert 0 < breaker["cooldown_remaining_s"] <= 3600
