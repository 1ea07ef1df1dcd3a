"""Detectors that are one regular expression plus a validation each.

Boundaries are lookarounds on ASCII letters and digits rather than ``\\b``: in
"手机13812345678" there is no word boundary between 机 and 1, and the number
must still be found. Every pattern is anchored so that a failed attempt costs
a bounded amount of work: the scan stays linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers

from plinth.privacy import checks
from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import PLATE_PROVINCES

Spans = list[tuple[int, int]]
_L = r"(?<![0-9A-Za-z])"  # not preceded by an ASCII letter or digit
_R = r"(?![0-9A-Za-z])"  # not followed by one


def _lead(first: str, rest: str) -> str:
    """``_L + first + rest`` written first-character-first: a pattern that starts with
    a character class lets the engine skip to the next such character at once, where
    one that starts with a look-behind is tried at every position (several times slower)."""
    return f"{first}(?<![0-9A-Za-z].){rest}"


@dataclass(frozen=True)
class PatternDetector:
    entity: str
    pattern: re.Pattern[str]
    validate: Callable[[str], bool] | None = None
    # What the text must hold for a match, tested by ``detectors`` before the scan:
    # one of these substrings (detection runs on every request, most prompts have
    # none), Han characters, or a run of digits.
    needs: tuple[str, ...] = ()
    han: bool = False
    # Matches lie around a run of digits (``windows``, found by ``detectors``): scan
    # only there, from ``reach[0]`` characters before a run to ``reach[1]`` after it.
    numeric: bool = False
    reach: tuple[int, int] = (4, 1)
    # Cheaper tests of a run first, for detectors whose matches say more about it: a
    # character the run holds (the dots of an IPv4 address), or one of the characters
    # right before it (a passport's letter).
    holds: str = ""
    after: str = ""

    def find(
        self, text: str, windows: list[tuple[int, int]], widened: dict[tuple[int, int], Spans]
    ) -> Iterator[Finding]:
        """Matches in ``text``; numeric ones only around ``windows`` (``widened`` caches
        the windows widened per reach, shared by the detectors of one text)."""
        spans = [(0, len(text))]
        if self.numeric and (self.holds or self.after):
            runs = [(start, end) for start, end in windows if self._may_match(text, start, end)]
            spans = _widen(runs, self.reach, len(text))
        elif self.numeric:
            if self.reach not in widened:
                widened[self.reach] = _widen(windows, self.reach, len(text))
            spans = widened[self.reach]
        for start, end in spans:
            for match in self.pattern.finditer(text, start, end):
                value = match.group(0)
                if self.validate is None or self.validate(value):
                    yield Finding(self.entity, match.start(), match.end(), value)

    def _may_match(self, text: str, start: int, end: int) -> bool:
        if self.holds and text.find(self.holds, start, end) == -1:
            return False
        return not self.after or (start > 0 and text[start - 1] in self.after)


def _widen(runs: list[tuple[int, int]], reach: tuple[int, int], size: int) -> list[tuple[int, int]]:
    """Each run widened by ``reach`` (the lookarounds must see a neighbour, and an
    IBAN's letters lie before the digits), overlaps merged."""
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


def _landline(value: str) -> bool:
    return checks.cn_landline(re.sub(r"\D", "", value))


_PLATE_TAIL = r"[A-HJ-NP-Z0-9]"
PATTERNS: tuple[PatternDetector, ...] = (
    PatternDetector(
        "CN_USCC",
        _p(_lead("[0-9A-HJ-NPQRTUWXY]", r"[0-9A-HJ-NPQRTUWXY]\d{6}[0-9A-HJ-NPQRTUWXY]{10}" + _R)),
        checks.cn_uscc,
        # Characters 2–8 are digits in every code (type, then the region code).
        numeric=True,
        reach=(2, 11),
    ),
    PatternDetector(
        # The digit-run scan finds the other forms; this one has the area code in brackets.
        "CN_LANDLINE",
        _p(r"[(（]0\d{2,3}[)）][ -]?\d{3,4}[ -]?\d{4}" + _R),
        _landline,
        needs=("(0", "（0"),
    ),
    PatternDetector(
        "CN_PASSPORT",
        _p(_lead("[EG]", r"(?:\d{8}|(?<=E)[A-HJ-NP-Z]\d{7})" + _R)),
        numeric=True,
        after="ABCDEFGHJKLMNPQRSTUVWXYZ",  # E or G, or E's second letter: E12345678, EA1234567
    ),
    PatternDetector(
        "CN_PLATE",
        _p(
            f"[{PLATE_PROVINCES}][A-HJ-NP-Z][·・• -]?"
            # A new-energy plate's D/F is sometimes split off like the city letter: 粤BF·06528.
            r"(?:[DF][·・• -]?" + _PLATE_TAIL + r"\d{4}|\d{5}[DF]|"
            r"(?=[A-HJ-NP-Z]{0,4}\d)" + _PLATE_TAIL + r"{4}[A-HJ-NP-Z0-9挂学警港澳])" + _R
        ),
        # No ``needs``: the pattern starts with a character class, which the regex engine
        # scans for as fast as 31 substring tests would.
        han=True,
    ),
    PatternDetector(
        "IBAN",
        _p(_lead("[A-Z]", r"[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?" + _R)),
        checks.iban_number,
        numeric=True,
        reach=(42, 42),  # at most 34 characters plus 8 group spaces
    ),
    PatternDetector(
        "US_SSN",
        _p(_lead(r"\d", r"\d{2}-\d{2}-\d{4}" + _R)),
        checks.us_ssn,
        ("-",),
        numeric=True,
        holds="-",
    ),
    PatternDetector(
        # A sentence may end right after the address: "…to 10.0.0.1."
        "IPV4",
        _p(_lead(r"\d", r"\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?!\.?[0-9A-Za-z])")),
        checks.ip_address,
        numeric=True,
        holds=".",
    ),
    PatternDetector(
        "CLOUD_ACCESS_KEY",
        _p(_lead("A", r"(?:KIA|SIA)[0-9A-Z]{16}" + _R)),
        needs=("AKIA", "ASIA"),
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

# Runs of hex digits and colons; one with two colons and at most 45 characters may be an address.
# Anchored at a run's start, the first group at most four digits: linear, and only
# runs with a colon come back to Python.
_HEX_RUN = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]*")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_HEX_OR_COLON = frozenset("0123456789abcdefABCDEF:")


def find_ipv6(text: str) -> Iterator[Finding]:
    """IPv6 addresses, looked for from each colon: a run of hex digits and colons
    starts at most four hex digits before its first colon."""
    if "::" not in text and text.count(":") < 2:
        return
    colon = text.find(":")
    while colon != -1:
        if text[colon + 1 : colon + 2] not in _HEX_OR_COLON:
            # An address's first colon has a hex digit or a colon after it: from a colon
            # followed by neither ("SSN: ", "note:"), no pattern is tried.
            colon = text.find(":", colon + 1)
            continue
        start = colon
        while start > 0 and colon - start < 4 and text[start - 1] in _HEX_DIGITS:
            start -= 1
        run = _HEX_RUN.match(text, start)
        colon = text.find(":", colon + 1)
        if run is None:
            continue
        colon = text.find(":", run.end())
        value = run.group(0)
        if len(value) > 45 or value.count(":") < 2:
            continue
        if run.start() > 0 and text[run.start() - 1].isalnum() and text[run.start() - 1].isascii():
            continue
        if run.end() < len(text) and text[run.end()].isascii() and text[run.end()].isalnum():
            continue
        if checks.ip_address(value):
            yield Finding("IPV6", run.start(), run.end(), value)


_BEGIN = "-----BEGIN "
_KEY_HEADER = re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")
_KEY_FOOTER = re.compile(r"-----END (?:[A-Z]+ )*PRIVATE KEY-----")


def find_private_keys(text: str) -> Iterator[Finding]:
    """PEM private-key blocks; each header is paired with the next footer (linear)."""
    if _BEGIN not in text:
        return
    position = 0
    while (header := _KEY_HEADER.search(text, position)) is not None:
        footer = _KEY_FOOTER.search(text, header.end())
        if footer is None:
            return
        # A header quoted in prose before the real block: the block starts at the last one.
        start = header.start()
        for later in _KEY_HEADER.finditer(text, header.end(), footer.start()):
            start = later.start()
        yield Finding("PRIVATE_KEY", start, footer.end(), text[start : footer.end()])
        position = footer.end()


_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_LOCAL_PART = re.compile(r"[A-Za-z0-9._%+-]{1,64}$")


def find_emails(text: str) -> Iterator[Finding]:
    """E-mail addresses, looked for from each ``@`` (the pattern alone would be tried
    at every letter of an English text)."""
    at = text.find("@")
    while at != -1:
        local = _LOCAL_PART.search(text, max(0, at - 64), at)
        match = _EMAIL.match(text, local.start()) if local is not None else None
        if match is not None:
            yield Finding("EMAIL", match.start(), match.end(), match.group(0))
            at = text.find("@", match.end())
        else:
            at = text.find("@", at + 1)


_PLUS_NUMBER = re.compile(r"\+[1-9][0-9 ().-]{6,20}[0-9]")
_CHINA = re.compile(r"\+[ ().-]*8[ ().-]*6")


def find_international_phones(text: str) -> Iterator[Finding]:
    """Numbers written with a + country code; Chinese ones are CN_MOBILE/CN_LANDLINE."""
    if "+" not in text:
        return
    for match in _PLUS_NUMBER.finditer(text):
        if _CHINA.match(match.group(0)):
            continue  # country codes are prefix-free: +86… is Chinese, and parsing costs ~10 µs
        try:
            number = phonenumbers.parse(match.group(0), None)
        except phonenumbers.NumberParseException:
            continue
        if number.country_code != 86 and (
            phonenumbers.is_valid_number(number) or _grouped_possible(match.group(0), number)
        ):
            yield Finding("INTL_PHONE", match.start(), match.end(), match.group(0))


# The country code as its own group, then groups of digits as phones are written (+44
# 7700 900418, +1 555-010-0199, +33 1 23 45 67 89): ranges a library calls unassigned
# (kept for fiction, newly opened) are still phones, where the length fits the country;
# a real number that leaks is worse than a false alarm. A one-digit group only first
# (+1 2 3 4 5 6 7 is no phone).
_PHONE_GROUPS = re.compile(r"\+([0-9]{1,3})[ -]\(?[0-9]{1,4}\)?(?:[ -][0-9]{2,8})+")


def _grouped_possible(value: str, number: phonenumbers.PhoneNumber) -> bool:
    groups = _PHONE_GROUPS.fullmatch(value)
    return (
        groups is not None
        and number.country_code is not None
        and groups.group(1) == str(number.country_code)
        and phonenumbers.region_code_for_country_code(number.country_code) != "ZZ"
        and phonenumbers.is_possible_number_with_reason(number)
        == phonenumbers.ValidationResult.IS_POSSIBLE
    )
