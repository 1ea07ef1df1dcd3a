"""CPU of two request-path steps that the c=1 latency work cut (helper L, 2026-12-08).

    .venv/bin/python benchmarks/c1_path_cuts.py
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/c1_path_cuts.py   # another tree

- ``_reserve``: ``Billing.reserve`` for a key with no limits and no tenant (most
  keys), called as ``Gateway._reserve`` calls it in the tree on the path (an
  eager token estimate before the change, a function after).
- ``json_response``: the answer of a small chat completion (encoding included),
  and, for comparison, Starlette's ``Response`` built from the same bytes as
  ``json_response`` built it before.

Best of 5 runs of 20,000 calls, process CPU time per call. Warm caches: on the
real path, after the mock's 10 ms idle, each step costs more.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
import tempfile
import time
from collections.abc import Callable

from starlette.responses import Response

from plinth.api.http import _dumps, json_response
from plinth.auth import Principal
from plinth.billing.guard import Billing
from plinth.billing.meter import LocalMeter
from plinth.billing.prices import PriceBook
from plinth.store.database import open_database
from plinth.store.door import Database
from plinth.tokens import Estimate

WHO = Principal(key_id="key_a", name="app", is_admin=False)
BODY = {
    "model": "mock-gpt",
    "messages": [
        {"role": "user", "content": "Summarise the quarterly report in two sentences, please."}
    ],
}
ANSWER = {
    "id": "chatcmpl-req_0123456789abcdef01234567",
    "object": "chat.completion",
    "created": 1765162800,
    "model": "mock-gpt",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Revenue grew 8 %. Costs fell."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 14, "completion_tokens": 9, "total_tokens": 23},
}
N, REPEATS = 20_000, 5


def best_us(step: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.process_time()
        for _ in range(N):
            step()
        best = min(best, (time.process_time() - started) / N * 1e6)
    return best


async def reserve_us() -> tuple[float, str]:
    engine = open_database(f"sqlite:///{tempfile.mkdtemp()}/plinth.db")
    bill = Billing(
        Database(engine), LocalMeter(ttl_s=30), PriceBook(engine), assumed_max_tokens=4096
    )
    await bill.reserve("warm", WHO, "mock-gpt", 3, None)  # prices and limits cached
    lazy = "Callable" in str(inspect.signature(bill.reserve).parameters["prompt_tokens_estimate"])
    best = float("inf")
    for _ in range(REPEATS):
        started = time.process_time()
        for _ in range(N):
            estimate = Estimate(BODY)
            tokens = (lambda e=estimate: e.prompt_tokens) if lazy else estimate.prompt_tokens
            await bill.reserve("r", WHO, "mock-gpt", tokens, None)
        best = min(best, (time.process_time() - started) / N * 1e6)
    return best, "lazy estimate" if lazy else "eager estimate"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    print("tree:", sys.modules["plinth"].__file__)
    us, kind = asyncio.run(reserve_us())
    print(f"_reserve, key without limits ({kind}): {us:.2f} us")
    answer = best_us(lambda: json_response(ANSWER, "req_x"))
    print(f"json_response (encode + response): {answer:.2f} us")
    raw = _dumps(ANSWER)
    starlette = best_us(
        lambda: Response(raw, 200, headers={"x-request-id": "req_x"}, media_type="application/json")
    )
    print(f"  of it the response object, Starlette's Response as before: {starlette:.2f} us")
    print(f"  of it the encoding alone: {best_us(lambda: _dumps(ANSWER)):.2f} us")


if __name__ == "__main__":
    main()
