"""Check digits and number rules of the identifiers the privacy filter validates.

Written from the public definitions, so the default install does without
python-stdnum (7 MB, a module per country): Chinese resident IDs (GB 11643,
ISO 7064 MOD 11-2), unified social credit codes (GB 32100), IBANs (ISO 13616:
the SWIFT registry's length and structure per country, MOD 97-10, and the
national check digits that Belgium, Spain, Montenegro and Norway put inside
the BBAN) and US Social Security numbers (the SSA's never-issued ranges).
``tests/privacy/test_id_checksums.py`` compares every function with
python-stdnum (a test dependency) on generated valid and invalid values.
"""

from __future__ import annotations

import functools
import re

_DIGITS = frozenset("0123456789")


def _all_digits(text: str) -> bool:
    # str.isdigit() is also true for superscripts and other scripts' digits.
    return bool(text) and _DIGITS.issuperset(text)


# --- GB 11643: the resident ID's 18th character --------------------------------------


def cn_ric_check_char(number: str) -> str:
    """The check character of an 18-character ID from its first 17 digits: ISO 7064
    MOD 11-2, weights 2^(17-i) mod 11, a remainder of 10 written ``X``."""
    body = number[:17]
    if len(body) != 17 or not _all_digits(body):
        raise ValueError("a resident ID's check character needs 17 digits")
    total = sum(int(digit) * pow(2, 17 - i, 11) for i, digit in enumerate(body))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


# --- GB 32100: the unified social credit code --------------------------------------

# Digits and the capitals without I, O, S, V and Z (look-alikes of 1, 0, 5, U, 2).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {char: value for value, char in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def cn_uscc_valid(value: str) -> bool:
    """18 characters: registration authority, organisation type and the six-digit
    region (all digits in the codes issued), then the organisation code and a check
    character C18 = 31 - (sum of Ci * 3^(i-1) mod 31) mod 31, 31 written ``0``."""
    code = value.replace(" ", "").replace("-", "").strip().upper()
    if len(code) != 18 or not _all_digits(code[:8]):
        return False
    if any(char not in _USCC_VALUE for char in code[8:]):
        return False
    values = (_USCC_VALUE[char] for char in code[:17])
    total = sum(v * w for v, w in zip(values, _USCC_WEIGHTS, strict=True))
    return code[17] == USCC_ALPHABET[-total % 31]


# --- ISO 13616: IBAN --------------------------------------------------------------------

# The BBAN (everything after the country code and check digits) of each country
# in SWIFT's IBAN registry (release 101), in the registry's notation: a run of
# k digits (n), capitals (a) or either (c) is written k!n, k!a, k!c.
_IBAN_REGISTRY = """
    AD:4!n4!n12!c AE:3!n16!n AL:8!n16!c AT:5!n11!n AZ:4!a20!c BA:3!n3!n8!n2!n BE:3!n7!n2!n
    BG:4!a4!n2!n8!c BH:4!a14!c BI:5!n5!n11!n2!n BR:8!n5!n10!n1!a1!c BY:4!c4!n16!c CH:5!n12!c
    CR:4!n14!n CY:3!n5!n16!c CZ:4!n16!n DE:8!n10!n DJ:5!n5!n11!n2!n DK:4!n9!n1!n DO:4!c20!n
    EE:2!n14!n EG:4!n4!n17!n ES:4!n4!n1!n1!n10!n FI:3!n11!n FK:2!a12!n FO:4!n9!n1!n
    FR:5!n5!n11!c2!n GB:4!a6!n8!n GE:2!a16!n GI:4!a15!c GL:4!n9!n1!n GR:3!n4!n16!c GT:4!c20!c
    HN:4!a20!n HR:7!n10!n HU:3!n4!n1!n15!n1!n IE:4!a6!n8!n IL:3!n3!n13!n IQ:4!a3!n12!n
    IS:4!n2!n6!n10!n IT:1!a5!n5!n12!c JO:4!a4!n18!c KW:4!a22!c KZ:3!n13!c LB:4!n20!c
    LC:4!a24!c LI:5!n12!c LT:5!n11!n LU:3!n13!c LV:4!a13!c LY:3!n3!n15!n MC:5!n5!n11!c2!n
    MD:2!c18!c ME:3!n13!n2!n MK:3!n10!c2!n MN:4!n12!n MR:5!n5!n11!n2!n MT:4!a5!n18!c
    MU:4!a2!n2!n12!n3!n3!a NI:4!a20!n NL:4!a10!n NO:4!n6!n1!n OM:3!n16!c PK:4!a16!c
    PL:8!n16!n PS:4!a21!c PT:4!n4!n11!n2!n QA:4!a21!c RO:4!a16!c RS:3!n13!n2!n RU:9!n5!n15!c
    SA:2!n18!c SC:4!a2!n2!n16!n3!a SD:2!n12!n SE:3!n16!n1!n SI:5!n8!n2!n SK:4!n6!n10!n
    SM:1!a5!n5!n12!c SO:4!n3!n12!n ST:4!n4!n11!n2!n SV:4!a20!n TL:3!n14!n2!n TN:2!n3!n13!n2!n
    TR:5!n1!n16!c UA:6!n19!c VA:3!n15!n VG:4!a16!n XK:4!n10!n2!n YE:4!a4!n18!c
"""
IBAN_BBAN_FORMATS = dict(entry.split(":") for entry in _IBAN_REGISTRY.split())
_CLASSES = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]"}
_RUN = re.compile(r"(\d+)!([nac])")


@functools.cache
def _bban_pattern(country: str) -> re.Pattern[str]:
    runs = _RUN.sub(lambda m: f"{_CLASSES[m[2]]}{{{m[1]}}}", IBAN_BBAN_FORMATS[country])
    return re.compile(runs)


def iban_length(country: str) -> int | None:
    """The IBAN's length in ``country``, or None where it has none."""
    if country not in IBAN_BBAN_FORMATS:
        return None
    return 4 + sum(int(m[1]) for m in _RUN.finditer(IBAN_BBAN_FORMATS[country]))


def _mod97(alphanumeric: str) -> int:
    """The number that A=10 … Z=35 make of the string, mod 97 (ISO 7064 MOD 97-10)."""
    return int("".join(str(int(char, 36)) for char in alphanumeric)) % 97


def iban_valid(value: str) -> bool:
    """Spaces, dashes and dots allowed, any case."""
    number = re.sub(r"[ .\-]", "", value).strip().upper()
    country, bban = number[:2], number[4:]
    if country not in IBAN_BBAN_FORMATS or not _all_digits(number[2:4]):
        return False
    if not _bban_pattern(country).fullmatch(bban):
        return False
    if _mod97(bban + number[:4]) != 1:
        return False
    national = _NATIONAL_CHECKS.get(country)
    return national is None or national(bban)


def _belgium(bban: str) -> bool:
    # Bank code, account and a two-digit check: the first ten digits mod 97 (0 is 97).
    return int(bban[-2:]) == (int(bban[:-2]) % 97 or 97)


def _montenegro(bban: str) -> bool:
    return int(bban) % 97 == 1


def _spain_digit(digits: str) -> str:
    # Spain's CCC: weights 2^i mod 11 over ten digits; 11 - remainder, 10 -> 1, 11 -> 0.
    remainder = sum(int(d) * pow(2, i, 11) for i, d in enumerate(digits)) % 11
    return str(remainder if remainder < 2 else 11 - remainder)


def _spain(bban: str) -> bool:
    # Bank (4), branch (4), two check digits: one for "00" + bank + branch, one for the account.
    return bban[8:10] == _spain_digit("00" + bban[:8]) + _spain_digit(bban[10:])


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _norway(bban: str) -> bool:
    # A Postgiro account (bank code 0000) has seven digits with a Luhn check;
    # others eleven with MOD 11 (weights 5,4,3,2,7,6,5,4,3,2; 11 - remainder).
    if bban.startswith("0000"):
        return _luhn(bban[4:])
    total = sum(w * int(d) for w, d in zip((5, 4, 3, 2, 7, 6, 5, 4, 3, 2), bban[:10], strict=True))
    check = -total % 11
    return check != 10 and int(bban[10]) == check


_NATIONAL_CHECKS = {"BE": _belgium, "ES": _spain, "ME": _montenegro, "NO": _norway}


# --- US Social Security numbers -------------------------------------------------------

_SSN = re.compile(r"([0-9]{3})-?([0-9]{2})-?([0-9]{4})")
# Numbers that circulated publicly (a wallet insert, an advertisement) and were voided.
_SSN_VOIDED = frozenset({"078051120", "457555462", "219099999"})


def us_ssn_valid(value: str) -> bool:
    """Nine digits, dashes optional: area 000, 666 and 900-999, group 00 and serial
    0000 are never issued."""
    match = _SSN.fullmatch(value.strip())
    if match is None:
        return False
    area, group, serial = match.groups()
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_VOIDED
