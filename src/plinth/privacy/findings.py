"""A detected value, and the choice among overlapping ones."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

# Every type the detectors report; ties (same span) go to the earlier type here.
ENTITIES: tuple[str, ...] = (
    "PRIVATE_KEY",
    "CN_RESIDENT_ID",
    "CN_USCC",
    "CN_BANK_CARD",
    "PAYMENT_CARD",
    "IPV4",
    "CN_MOBILE",
    "CN_LANDLINE",
    "CN_PASSPORT",
    "CN_PLATE",
    "EMAIL",
    "IBAN",
    "US_SSN",
    "IPV6",
    "INTL_PHONE",
    "CLOUD_ACCESS_KEY",
    "API_KEY",
    "BEARER_TOKEN",
    "ADDRESS",
    "PERSON",
)


@dataclass(frozen=True)
class Finding:
    entity: str
    start: int
    end: int
    text: str


def non_overlapping(found: list[Finding], priority: dict[str, int]) -> list[Finding]:
    """The longest findings first (ties: lower ``priority``), none overlapping, in text order.

    Kept spans are a sorted list searched by bisection, so thousands of findings
    in a large body cost n log n, not n².
    """
    ranked = sorted(found, key=lambda f: (f.start - f.end, priority.get(f.entity, 99), f.start))
    starts: list[int] = []
    kept: list[Finding] = []
    for finding in ranked:
        at = bisect_right(starts, finding.start)
        if at > 0 and kept[at - 1].end > finding.start:
            continue
        if at < len(kept) and kept[at].start < finding.end:
            continue
        starts.insert(at, finding.start)
        kept.insert(at, finding)
    return kept
