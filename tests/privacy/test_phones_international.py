"""Phones written for callers abroad: a Chinese landline after +86 without its trunk 0,
and numbers in ranges a library calls unassigned, written with a + and in groups."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity, f.text) for f in detect(text)]


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Shanghai office: +86 21 6279 8888.", "+86 21 6279 8888"),
        ("tel 0086-571-87654321 ext 3", "0086-571-87654321"),
        ("前台 (+86) 10 6552 9988", "(+86) 10 6552 9988"),
    ],
)
def test_chinese_landline_written_internationally(text: str, phone: str) -> None:
    assert found(text) == [("CN_LANDLINE", phone)]


def test_a_mobile_after_86_stays_a_mobile() -> None:
    assert found("call +86 139 1234 5678") == [("CN_MOBILE", "+86 139 1234 5678")]


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        # UK and US ranges kept for drama: possible lengths, not assigned numbers.
        ("Text me on +44 7700 900123 tonight", "+44 7700 900123"),
        ("Reception: +1 202-555-0147", "+1 202-555-0147"),
    ],
)
def test_possible_number_in_phone_groups(text: str, phone: str) -> None:
    assert found(text) == [("INTL_PHONE", phone)]


@pytest.mark.parametrize(
    "text",
    [
        "score moved +12 345 678 points",  # "+12" is no country code written as 1
        "offsets +1 2 3 4 5 6 7",  # one-digit groups
        "delta +999 123 456 789",  # no country has code 999
        "+44 7700 90",  # too short for the country
    ],
)
def test_not_a_phone(text: str) -> None:
    assert [entity for entity, _ in found(text) if entity == "INTL_PHONE"] == []
