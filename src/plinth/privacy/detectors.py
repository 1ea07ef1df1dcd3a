"""Detectors for personal data and secrets, Chinese and English.

Each detector finds candidates with a regular expression and keeps only those
that pass validation (check digits, birth dates, number plans), so look-alikes
such as order numbers are not flagged. Boundaries are lookarounds on ASCII
letters and digits rather than ``\\b``: in "手机13812345678" there is no word
boundary between 机 and 1, and the number must still be found.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import phonenumbers
from stdnum import iban, luhn
from stdnum.cn import ric, uscc
from stdnum.us import ssn

from plinth.privacy.normalize import normalize


@dataclass(frozen=True)
class Finding:
    entity: str
    start: int
    end: int
    text: str


_L = r"(?<![0-9A-Za-z])"  # not preceded by an ASCII letter or digit
_R = r"(?![0-9A-Za-z])"  # not followed by one
_SEP = r"[ -]?"


def _digits(value: str) -> str:
    return re.sub(r"[^0-9Xx]", "", value).upper()


# Province-level prefixes of GB/T 2260. python-stdnum checks the full six-digit
# region against a table that misses many real districts (e.g. Shenzhen's
# 440305), which would cost recall; the check digit and birth date already
# reject random look-alikes.
_CN_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


def _valid_cn_id(value: str) -> bool:
    number = _digits(value)
    if len(number) != 18 or number[:2] not in _CN_PROVINCES:
        return False
    if ric.calc_check_digit(number) != number[-1]:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _valid_uscc(value: str) -> bool:
    # Characters 3-8 are a region code: its province part rules out most
    # 18-digit resident-ID look-alikes, which share the check-digit alphabet.
    return value[2:4] in _CN_PROVINCES and uscc.is_valid(value.upper())


def _valid_cn_phone(kind: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            number = phonenumbers.parse(value, "CN")
        except phonenumbers.NumberParseException:
            return False
        if not phonenumbers.is_valid_number(number) or number.country_code != 86:
            return False
        number_type = phonenumbers.number_type(number)
        return number_type in (kind, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)

    return check


def _valid_card(cn_bank: bool) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        digits = _digits(value)
        # 17 and 18 digits are left out: no common card has them, and Chinese
        # resident IDs and credit codes do.
        if len(digits) not in (13, 14, 15, 16, 19) or not luhn.is_valid(digits):
            return False
        # China UnionPay cards start with 62; other networks are "payment cards".
        return digits.startswith("62") == cn_bank and (cn_bank or digits[0] in "3456")

    return check


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _valid_iban(value: str) -> bool:
    return iban.is_valid(value)


def _valid_ssn(value: str) -> bool:
    return ssn.is_valid(value)


@dataclass(frozen=True)
class PatternDetector:
    entity: str
    pattern: re.Pattern[str]
    validate: Callable[[str], bool] | None = None
    # Substrings one of which every match contains: a cheap test that skips the
    # regex scan for most prompts (detection runs on every request).
    needs: tuple[str, ...] = ()
    # Matches lie around a run of digits (see ``_digit_windows``): scan only there,
    # from ``reach[0]`` characters before a run to ``reach[1]`` after it.
    numeric: bool = False
    reach: tuple[int, int] = (4, 1)
    # Or inside a run of these characters: one fast character-class scan finds
    # the runs, and the (slower) pattern runs only there.
    within: re.Pattern[str] | None = None

    def find(self, text: str, windows: list[tuple[int, int]] | None = None) -> Iterator[Finding]:
        if self.needs and not any(n in text for n in self.needs):
            return
        if self.numeric and windows is not None:
            spans = _widen(windows, self.reach, len(text))
        elif self.within is not None:
            # Widened by one character so the pattern's lookarounds see the neighbours.
            spans = [
                (max(0, m.start() - 1), min(len(text), m.end() + 1))
                for m in self.within.finditer(text)
            ]
        else:
            spans = [(0, len(text))]
        for start, end in spans:
            for match in self.pattern.finditer(text, start, end):
                value = match.group(0)
                if self.validate is None or self.validate(value):
                    yield Finding(self.entity, match.start(), match.end(), value)


_DIGIT_RUN = re.compile(r"\d[\d .()-]{5,}\d")


def _digit_windows(text: str) -> list[tuple[int, int]]:
    """Runs of 7+ digit-ish characters: one cheap scan shared by the numeric detectors."""
    return [m.span() for m in _DIGIT_RUN.finditer(text)]


def _widen(runs: list[tuple[int, int]], reach: tuple[int, int], size: int) -> list[tuple[int, int]]:
    """Each run widened by ``reach`` (the lookarounds must see a neighbour, and a
    "+86 " or an IBAN's letters lie before the digits), overlaps merged."""
    spans: list[tuple[int, int]] = []
    for start, end in runs:
        start, end = max(0, start - reach[0]), min(size, end + reach[1])
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _p(regex: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(regex, flags)


# Order matters only for ties: overlapping findings keep the longest, then the earliest here.
DETECTORS: tuple[PatternDetector, ...] = (
    PatternDetector(
        "PRIVATE_KEY",
        _p(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----[\s\S]+?-----END (?:[A-Z]+ )*PRIVATE KEY-----"),
        needs=("-----BEGIN",),
    ),
    PatternDetector(
        "CN_RESIDENT_ID",
        _p(_L + r"\d{6}" + _SEP + r"\d{8}" + _SEP + r"\d{3}[\dXx]" + _R),
        _valid_cn_id,
        numeric=True,
    ),
    PatternDetector(
        "CN_USCC",
        _p(_L + r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}" + _R),
        _valid_uscc,
        # Characters 2–8 are digits in every code (type, then the region code).
        numeric=True,
        reach=(2, 11),
    ),
    PatternDetector(
        "CN_BANK_CARD",
        _p(_L + r"62\d{2}(?:" + _SEP + r"\d{4}){2,3}" + _SEP + r"\d{1,4}" + _R),
        _valid_card(cn_bank=True),
        numeric=True,
    ),
    PatternDetector(
        "PAYMENT_CARD",
        _p(
            _L
            + r"[3-6]\d{3}(?:"
            + _SEP
            + r"\d{4}){2}"
            + _SEP
            + r"\d{1,4}(?:"
            + _SEP
            + r"\d{1,3})?"
            + _R
        ),
        _valid_card(cn_bank=False),
        numeric=True,
    ),
    PatternDetector(
        "CN_MOBILE",
        _p(_L + r"(?:\+?86" + _SEP + r")?1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4}" + _R),
        _valid_cn_phone(phonenumbers.PhoneNumberType.MOBILE),
        numeric=True,
    ),
    PatternDetector(
        "CN_LANDLINE",
        _p(_L + r"(?:\(0\d{2,3}\)|0\d{2,3})" + _SEP + r"\d{7,8}" + _R),
        _valid_cn_phone(phonenumbers.PhoneNumberType.FIXED_LINE),
        numeric=True,
    ),
    PatternDetector("CN_PASSPORT", _p(_L + r"(?:[EG]\d{8}|E[A-HJ-NP-Z]\d{7})" + _R), numeric=True),
    PatternDetector(
        "EMAIL",
        _p(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
            r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
        ),
        needs=("@",),
    ),
    PatternDetector(
        "IBAN",
        _p(_L + r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?" + _R),
        _valid_iban,
        numeric=True,
        reach=(42, 42),  # at most 34 characters plus 8 group spaces
    ),
    PatternDetector("US_SSN", _p(_L + r"\d{3}-\d{2}-\d{4}" + _R), _valid_ssn, ("-",), numeric=True),
    PatternDetector(
        # A sentence may end right after the address: "…to 10.0.0.1."
        "IPV4",
        _p(_L + r"(?:\d{1,3}\.){3}\d{1,3}(?!\.?[0-9A-Za-z])"),
        _valid_ip,
        numeric=True,
    ),
    PatternDetector(
        "IPV6",
        _p(
            r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}"
            r"(?![0-9A-Fa-f:])"
        ),
        _valid_ip,
        needs=(":",),
        within=_p(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:]*"),
    ),
    PatternDetector(
        "CLOUD_ACCESS_KEY", _p(_L + r"(?:AKIA|ASIA)[0-9A-Z]{16}" + _R), needs=("AKIA", "ASIA")
    ),
    PatternDetector(
        "API_KEY",
        _p(
            _L + r"(?:sk-[A-Za-z0-9_-]{20,}|ghp_[A-Za-z0-9]{36}|"
            r"AIza[0-9A-Za-z_-]{35}|xox[abposr]-[A-Za-z0-9-]{10,})" + _R
        ),
        needs=("sk-", "ghp_", "AIza", "xox"),
    ),
    PatternDetector(
        "BEARER_TOKEN", _p(r"(?<=Bearer )[A-Za-z0-9._~+/-]{20,}=*"), needs=("Bearer ",)
    ),
)


_PLUS_NUMBER = re.compile(r"\+[1-9][0-9 ().-]{6,20}[0-9]")


def _international_phones(text: str) -> Iterator[Finding]:
    """Numbers written with a + country code; Chinese ones are CN_MOBILE/CN_LANDLINE."""
    if "+" not in text:
        return
    for match in _PLUS_NUMBER.finditer(text):
        try:
            number = phonenumbers.parse(match.group(0), None)
        except phonenumbers.NumberParseException:
            continue
        if number.country_code != 86 and phonenumbers.is_valid_number(number):
            yield Finding("INTL_PHONE", match.start(), match.end(), match.group(0))


def detect(text: str) -> list[Finding]:
    """Every finding in ``text``, non-overlapping, in order; offsets index the original text."""
    plain = normalize(text)
    windows = _digit_windows(plain)
    found = [f for detector in DETECTORS for f in detector.find(plain, windows)]
    found.extend(_international_phones(plain))
    priority = {d.entity: i for i, d in enumerate(DETECTORS)}
    found.sort(key=lambda f: (-(f.end - f.start), priority.get(f.entity, len(priority))))
    kept: list[Finding] = []
    for finding in found:
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(
        (Finding(f.entity, f.start, f.end, text[f.start : f.end]) for f in kept),
        key=lambda f: f.start,
    )
