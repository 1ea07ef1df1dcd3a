"""privacy/id_checksums.py against python-stdnum (a test dependency only), on generated
valid and invalid identifiers: the privacy filter must keep accepting and refusing
what it did while it used stdnum."""

from __future__ import annotations

import random
import re
import string

import pytest
from stdnum import iban
from stdnum.cn import ric, uscc
from stdnum.us import ssn

from plinth.privacy import checks
from plinth.privacy.id_checksums import (
    IBAN_BBAN_FORMATS,
    USCC_ALPHABET,
    cn_ric_check_char,
    cn_uscc_valid,
    iban_length,
    iban_valid,
    us_ssn_valid,
)

ROUNDS = 3000


def _mutations(rng: random.Random, value: str, alphabet: str) -> list[str]:
    """One changed character, two swapped neighbours, one dropped, one added."""
    i = rng.randrange(len(value))
    j = rng.randrange(len(value) - 1)
    return [
        value[:i] + rng.choice(alphabet) + value[i + 1 :],
        value[:j] + value[j + 1] + value[j] + value[j + 2 :],
        value[:i] + value[i + 1 :],
        value[:i] + rng.choice(alphabet) + value[i:],
    ]


def test_resident_id_check_characters_match_stdnum() -> None:
    rng = random.Random(11)
    seen = set()
    for _ in range(ROUNDS):
        body = "".join(rng.choice(string.digits) for _ in range(17))
        mine = cn_ric_check_char(body + "0")
        assert mine == ric.calc_check_digit(body + "0"), body
        seen.add(mine)
    assert seen == set("0123456789X")  # every check character was produced
    # A published specimen: 11010519491231002X.
    assert cn_ric_check_char("11010519491231002") == "X"
    with pytest.raises(ValueError, match="17 digits"):
        cn_ric_check_char("1101051949123100")
    with pytest.raises(ValueError, match="17 digits"):
        cn_ric_check_char("1101051949123100a")


def _uscc_candidates(rng: random.Random) -> list[str]:
    head = "".join(rng.choice(string.digits) for _ in range(8))
    body = head + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    valid = body + uscc.calc_check_digit(body)
    noisy_alphabet = USCC_ALPHABET + "IOSVZ-a "
    return [
        valid,
        valid.lower(),
        valid[:6] + " " + valid[6:],
        *_mutations(rng, valid, noisy_alphabet),
        body + rng.choice(USCC_ALPHABET),
    ]


def test_credit_codes_match_stdnum() -> None:
    rng = random.Random(12)
    accepted = 0
    for _ in range(ROUNDS):
        for value in _uscc_candidates(rng):
            theirs = uscc.is_valid(value)
            assert cn_uscc_valid(value) == theirs, value
            accepted += theirs
    assert ROUNDS * 3 <= accepted < ROUNDS * 5  # both outcomes were exercised
    assert cn_uscc_valid("91350100M000100Y43")  # a published specimen


def _bban(rng: random.Random, structure: str) -> str:
    classes = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + "ABCXYZ"}
    return "".join(
        rng.choice(classes[kind])
        for count, kind in re.findall(r"(\d+)!([nac])", structure)
        for _ in range(int(count))
    )


def _iban_candidates(rng: random.Random, country: str) -> list[str]:
    bban = _bban(rng, IBAN_BBAN_FORMATS[country])
    valid = country + iban.calc_check_digits(country + "00" + bban) + bban
    spaced = " ".join(valid[i : i + 4] for i in range(0, len(valid), 4))
    return [
        valid,
        spaced,
        spaced.lower(),
        valid.replace(valid[4:8], valid[4:8] + "-", 1),
        *_mutations(rng, valid, string.digits + string.ascii_uppercase + "-!"),
        valid[:2] + f"{(int(valid[2:4]) + 1) % 100:02d}" + bban,
    ]


# Belgium's stdnum module also looks the bank code up in its own bank list; the
# filter accepts a valid-checksum Belgian IBAN of any bank (a missed leak is worse).
_STDNUM_BANK_LIST = {"BE"}


@pytest.mark.parametrize("country", sorted(IBAN_BBAN_FORMATS))
def test_ibans_match_stdnum(country: str) -> None:
    rng = random.Random(country)
    # The countries with a national check inside the BBAN pass it 1 time in ~10-100.
    rounds = 1500 if country in ("BE", "ES", "ME", "NO") else 60
    accepted = refused = only_ours = 0
    for _ in range(rounds):
        for value in _iban_candidates(rng, country):
            mine, theirs = iban_valid(value), iban.is_valid(value)
            if country in _STDNUM_BANK_LIST and mine and not theirs:
                only_ours += 1
                continue
            if theirs and not mine and not re.fullmatch(r"[A-Za-z]{2}\d{2}.*", value):
                # ISO 13616's check digits are digits; stdnum takes any two characters
                # whose values make MOD 97 work. The filter's pattern asks for digits too.
                continue
            assert mine == theirs, value
            accepted += theirs
            refused += not theirs
    assert accepted >= 10 and refused >= rounds, (accepted, refused)
    assert only_ours < accepted
    assert iban_length(country) == len(_bban(rng, IBAN_BBAN_FORMATS[country])) + 4


def test_iban_examples_and_other_countries() -> None:
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_valid("de89370400440532013000")
    assert not iban_valid("GB82 WEST 1234 5698 7654 33")
    # Not in the registry (the US has no IBAN), too short, garbage.
    for value in ("US64SVBKUS6S3300958879", "DE89", "", "DE", "!!89370400440532013000"):
        assert not iban_valid(value)
        assert not iban.is_valid(value)
    assert iban_length("US") is None and iban_length("DE") == 22
    assert checks.iban_number("DE89 3704 0044 0532 0130 00")


def _ssn_candidates(rng: random.Random) -> list[str]:
    area = rng.choice(["000", "666", "078", "457", "219", f"{rng.randrange(1000):03d}"])
    group = rng.choice(["00", "05", "55", "09", f"{rng.randrange(100):02d}"])
    serial = rng.choice(["0000", "1120", "5462", "9999", f"{rng.randrange(10000):04d}"])
    return [
        area + group + serial,
        f"{area}-{group}-{serial}",
        f" {area}-{group}-{serial}\n",
        f"{area}-{group}{serial}x",
        f"{area} {group} {serial}",
        f"{area}-{group}-{serial[:3]}",
    ]


def test_social_security_numbers_match_stdnum() -> None:
    rng = random.Random(14)
    accepted = refused = 0
    for _ in range(ROUNDS):
        for value in _ssn_candidates(rng):
            # stdnum strips surrounding space for the format check but not for its list
            # of voided numbers (" 078-05-1120" passes); here both see the stripped text.
            theirs = ssn.is_valid(value.strip())
            assert us_ssn_valid(value) == theirs, repr(value)
            accepted += theirs
            refused += not theirs
    assert accepted > ROUNDS and refused > ROUNDS
    for voided in ("078-05-1120", "457555462", "219-09-9999"):
        assert not us_ssn_valid(voided)
    assert checks.us_ssn("123-45-6789")
