"""A detected value, and every type the detectors report."""

from __future__ import annotations

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
