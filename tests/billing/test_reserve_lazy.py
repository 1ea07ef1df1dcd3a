"""Billing.reserve counts the prompt's tokens only when a limit applies, and a JSON
answer's headers are the ones Starlette's Response would have built."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.responses import Response

from plinth.api.http import _dumps, json_response
from plinth.auth import Principal
from plinth.billing.accounts import Limits
from plinth.billing.guard import Billing
from plinth.billing.meter import LocalMeter
from plinth.billing.prices import PriceBook
from plinth.store.database import open_database
from plinth.store.door import Database

pytestmark = pytest.mark.anyio

WHO = Principal(key_id="key_a", name="app", is_admin=False)


def _billing(tmp_path: Path) -> Billing:
    engine = open_database(f"sqlite:///{tmp_path}/plinth.db")
    return Billing(Database(engine), LocalMeter(ttl_s=30), PriceBook(engine), assumed_max_tokens=10)


async def test_the_estimate_is_counted_only_for_a_limited_key(tmp_path: Path) -> None:
    bill = _billing(tmp_path)
    counted: list[int] = []

    def estimate() -> int:
        counted.append(1)
        return 3

    assert await bill.reserve("free", WHO, "m", estimate, 1) == (None, None)
    assert counted == []  # no limits, no tenant: nothing held, nothing counted
    bill.limits.set(Limits(subject="key:key_a", tokens_per_minute=1000))
    bill.forget()
    reservation, _ = await bill.reserve("held", WHO, "m", estimate, 1)
    assert reservation is not None and counted == [1]


@pytest.mark.parametrize("request_id", ["req_abc", None])
def test_json_response_headers_match_starlettes(request_id: str | None) -> None:
    data = {"answer": "grüß dich", "n": [1, 2.5, None]}
    ours = json_response(data, request_id, status=201)
    headers = {"x-request-id": request_id} if request_id else None
    theirs = Response(_dumps(data), 201, headers=headers, media_type="application/json")
    assert (ours.status_code, ours.body, ours.raw_headers) == (
        theirs.status_code,
        theirs.body,
        theirs.raw_headers,
    )
    ours.headers["x-plinth-cache"] = "hit"  # handlers add headers after building it
    assert ours.raw_headers[-1] == (b"x-plinth-cache", b"hit")
