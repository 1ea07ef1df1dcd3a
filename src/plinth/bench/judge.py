"""Optional LLM-as-judge: another model grades each reply 0–10, stored as 0–1.

The judge runs after a profile point's timed window, one request at a time,
so its calls never add load to the measurement.
"""

from __future__ import annotations

import re

import aiohttp

from plinth.bench.client import Endpoint, RequestRecord, stream_chat
from plinth.bench.workloads import Item

PROMPT = """You are grading an AI assistant's answer.

Task given to the assistant:
{prompt}

Reference answer (may be empty): {reference}

Assistant's answer:
{reply}

Rate the answer's correctness and usefulness from 0 (useless or wrong) to 10 \
(fully correct). Reply with the number only."""

_NUMBER = re.compile(r"\b(10|[0-9])(?:\.\d+)?\b")


def parse_grade(text: str) -> float | None:
    """The first number 0–10 in the judge's reply, as a 0–1 score."""
    match = _NUMBER.search(text)
    return None if match is None else float(match.group(0)) / 10


async def grade(
    session: aiohttp.ClientSession, judge: Endpoint, item: Item, reply: str
) -> float | None:
    prompt = PROMPT.format(
        prompt=item.prompt, reference="" if item.reference is None else item.reference, reply=reply
    )
    record = RequestRecord("judge", "", "", item.id, 0.0)
    await stream_chat(session, judge, prompt, record, max_tokens=8)
    return parse_grade(record.text) if record.ok else None
