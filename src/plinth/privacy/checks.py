"""Validation of identifier candidates: check digits, birth dates, number plans.

Validation is what keeps look-alikes (order numbers, timestamps) out, so
recall comes from finding candidates generously and precision from here.
"""

from __future__ import annotations

import ipaddress
from datetime import date

import phonenumbers

from plinth.privacy.gazetteer import words
from plinth.privacy.id_checksums import cn_ric_check_char, cn_uscc_valid, iban_valid, us_ssn_valid

# Province-level prefixes of GB/T 2260. python-stdnum checked the full six-digit
# region against a table that misses many real districts (e.g. Shenzhen's
# 440305), which would cost recall; the check digit and birth date already
# reject random look-alikes.
CN_PROVINCE_CODES = frozenset(
    words(
        "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 "
        "62 63 64 65 71 81 82"
    )
)
_TODAY = date.today()


def cn_resident_id(number: str) -> bool:
    """18 characters (digits, then a digit or X), upper case, no separators."""
    if len(number) != 18 or number[:2] not in CN_PROVINCE_CODES:
        return False
    if cn_ric_check_char(number) != number[-1]:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= _TODAY


def cn_uscc(value: str) -> bool:
    # Characters 3-8 are a region code: its province part rules out most
    # 18-digit resident-ID look-alikes, which share the check-digit alphabet.
    return value[2:4] in CN_PROVINCE_CODES and cn_uscc_valid(value.upper())


def card_network(digits: str) -> str | None:
    """``CN_BANK_CARD`` (China UnionPay and the domestic 955… cards), ``PAYMENT_CARD``
    (other networks) or ``None``; ``digits`` has passed no other check yet."""
    size = len(digits)
    if size < 13 or size > 19 or digits[0] not in "234569" or not _luhn(digits):
        return None
    if digits.startswith("62") or digits.startswith("955"):
        # UnionPay issues 16 to 19 digits, all of them seen on real cards.
        return "CN_BANK_CARD" if size >= 16 else None
    # 17 and 18 digits are left out for the other networks: none issues them,
    # and Chinese resident IDs and credit codes have 18.
    if size in (17, 18):
        return None
    # 13 digits are only ever Visa's (old 4… cards): an EAN-13 barcode (690… for China,
    # 45/49 for Japan are the exception that Luhn may still pass) is no card.
    if size == 13 and digits[0] != "4":
        return None
    if digits[0] in "3456" or (size == 16 and "222100" <= digits[:6] <= "272099"):
        return "PAYMENT_CARD"  # …including Mastercard's 2-series
    return None


_DOUBLED = tuple((2 * d) // 10 + (2 * d) % 10 for d in range(10))


def _luhn(digits: str) -> bool:
    """The Luhn check, inlined: it runs on every card-length run of a large body."""
    total = 0
    for position, ch in enumerate(reversed(digits)):
        total += _DOUBLED[ord(ch) - 48] if position % 2 else ord(ch) - 48
    return total % 10 == 0


def cn_mobile(digits: str, *, strict: bool = False) -> bool:
    """Eleven digits in any 1[3-9] range.

    Data-only and IoT ranges (e.g. 140-149, 16x, 19x) are real subscriber
    numbers that phone-number libraries may call unallocated; a leak is worse
    than a false alarm, so only ``strict`` asks libphonenumber.
    """
    if len(digits) != 11 or digits[0] != "1" or digits[1] not in "3456789":
        return False
    if not strict:
        return True
    number = phonenumbers.parse(digits, "CN")
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def cn_landline(digits: str) -> bool:
    """A trunk 0, an area code (010, 02x, or four digits), a 7-8 digit subscriber number."""
    if len(digits) < 10 or len(digits) > 12 or digits[0] != "0" or digits[1] == "0":
        return False
    area = 3 if digits[1] in "12" else 4
    subscriber = digits[area:]
    if digits[1] == "1" and digits[2] != "0":
        return False
    return len(subscriber) in (7, 8) and subscriber[0] in "2345678"


def ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def iban_number(value: str) -> bool:
    return iban_valid(value)


def us_ssn(value: str) -> bool:
    return us_ssn_valid(value)
