"""English and continental street addresses: a house number and a street (221B Baker
Street, London; Suite 400, 1200 Smith Street, Houston, TX 77002), the continental forms
(17 Rue des Lilas, 69003 Lyon; Hauptstraße 5; Via Roma 12; Karlova 25, 110 00 Praha 1),
or any street before a British or Canadian postcode (22 Deansgate, Manchester M3 1RH),
and Hong Kong's flat, block, estate and region (Flat 1203, Block 7, Whampoa Garden, …, Kowloon).
Pieces of one address that only a comma stands between are one finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding

_STREET = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|"
    r"Terrace|Parkway|Pkwy|Highway|Hwy|Square|Sq|Circle|Cir|Trail|Crescent|Close|Loop|Row|Plaza)"
)
_WORD = r"[A-Z][a-z]+|[0-9]+(?:st|nd|rd|th)"
# Continental (and Malay) addresses name the kind of street first (17 Rue des Lilas, 69003 Lyon;
# Via Roma 12 is the other order, below): the kind, small words, then the name.
_KIND_FIRST = (
    r"(?:[Rr]ue|[Aa]venue|[Bb]oulevard|[Bb]d|[Pp]lace|[Aa]llée|[Cc]hemin|[Ii]mpasse|[Qq]uai|"
    r"[Cc]ours|[Rr]oute|Via|Viale|Piazza|Piazzale|Corso|Calle|Avenida|Avda\.?|Paseo|Plaza|"
    r"Carrer|Rua|Travessa|Largo|Jalan|Jln\.?|Jl\.)"
)
_CAPITALIZED = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+(?:-[A-ZÀ-ÖØ-Þa-zß-öø-ÿ][a-zß-öø-ÿ'’]+)*"
_PARTICLE = r"(?:de la|de l'|des|de|du|d'|del|della|delle|dei|di|da|do|dos|das|la|le|les|l')"
# ", 69003 Lyon", ", D-10115 Berlin", ", 1015 CJ Amsterdam"
# ", 110 00 Praha 1": Czech, Slovak, Swedish and Greek codes are grouped 3 + 2, and a
# city's district may follow its name.
_POST_TOWN = (
    rf"(?:, ?(?:[A-Z]{{1,2}}-)?(?:\d{{4,5}}|\d{{3}} \d{{2}})(?: [A-Z]{{2}})? {_CAPITALIZED}"
    rf"(?: {_CAPITALIZED})?(?: [0-9]{{1,2}}(?![0-9]))?)?"
)
_COUNTRY = rf"(?:, ?{_CAPITALIZED})?"
_ENGLISH = re.compile(
    # A digit first, the look-behinds after it: the engine skips to digits at once. The
    # digits are possessive (what follows them is no digit): no backtracking into a run.
    rf"[0-9](?:(?<![0-9A-Za-z].)[0-9]{{0,5}}+(?:"
    rf"[A-Z]?,? (?:[NSEW]\.? )?"
    rf"(?:(?:{_WORD}) ){{1,4}}{_STREET}\.?"
    r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|#)\.? ?#?[0-9A-Z-]+)?"
    r"(?:, ?[A-Z][a-z]+(?: [A-Z][a-z]+){0,2})?"
    r"(?:, ?[A-Z]{2}(?: \d{5}(?:-\d{4})?)?| \d{5}(?:-\d{4})?"
    # An Australian state and postcode (Sydney NSW 2000).
    r"|,? (?:NSW|VIC|QLD|SA|WA|TAS|NT|ACT) \d{4})?"
    rf"|(?: ?(?:bis|ter|[A-Za-z]))?,? {_KIND_FIRST} (?:{_PARTICLE} ?)*{_CAPITALIZED}"
    rf"(?: {_CAPITALIZED}){{0,2}}{_POST_TOWN}{_COUNTRY}"
    r")(?![0-9A-Za-z])"
    # …or a number after a word (Hauptstraße 5, Via Roma 12): the words before it are
    # read in Python (``_street_start``), only for these few numbers.
    r"|(?<=[a-zß-öø-ÿ\u0101-\u017f.] [0-9])(?P<after_name>[0-9]{0,3}+(?: ?[a-z])?(?![0-9A-Za-z])"
    rf"{_POST_TOWN}{_COUNTRY}))"
)
# The name ends in its kind (Hauptstraße, Karl-Marx-Allee, Keizersgracht, Drottninggatan),
_GLUED_KINDS = (
    "straße", "strasse", "str.", "weg", "platz", "allee", "gasse", "damm", "straat", "laan",
    "gracht", "plein", "steeg", "gatan", "vägen", "veien",
)  # fmt: skip
# or the kind is a word after the name (Berliner Straße),
_KINDS_AFTER = frozenset({"Straße", "Strasse", "Weg", "Platz", "Allee", "Gasse", "Damm"})
# or a word before it (Via Roma 12, Calle de la Paz 5, Rua Augusta 100).
_KINDS_BEFORE = frozenset(
    {"Via", "Viale", "Piazza", "Corso", "Calle", "Avenida", "Paseo", "Carrer", "Rua", "Travessa"}
    | {"Jalan", "Jln.", "Jl."}  # Malay and Indonesian: Jalan Ampang 12, Jl. Thamrin 5
)
_PARTICLES = frozenset({"de", "la", "del", "della", "di", "da", "do", "dos", "das", "des", "du"})


# A British or Canadian postcode (M3 1RH, SE24 9NU; V5H 2A9) says that the house number
# and words before it are an address even where the street has no kind word (22
# Deansgate, 4508 Kingsway): a flat or unit, a number, the street, the town, a province.
# The scan looks for the inward part after its space (" 1RH", " 2A9": one literal
# character first, which the engine skips to at once); the whole code is checked only
# there. A pattern led by a word boundary cost ~25 µs on a 2 KB prompt.
_INWARD = re.compile(r" [0-9][A-Z][A-Z0-9](?![A-Za-z0-9])")
_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}|[A-Z][0-9][A-Z] [0-9][A-Z][0-9])\Z"
)
_CAP = r"[A-Z][a-z]+"
_BEFORE_POSTCODE = re.compile(
    r"(?:(?:Flat|Apartment|Apt|Unit|Suite|Level|Floor|Block|Blk)\.? ?[0-9A-Z]{1,5}, ?)?"
    rf"\b[0-9]{{1,5}}[A-Z]?,? (?:{_CAP} ){{0,3}}{_CAP}, ?(?:{_CAP} ){{0,2}}{_CAP},? "
    r"(?:[A-Z]{2},? )?\Z"
)
_POSTCODE_REACH = 90


def _postcode_addresses(text: str) -> Iterator[Finding]:
    for inward in _INWARD.finditer(text):
        code = _POSTCODE.search(text, max(0, inward.start() - 4), inward.end())
        if code is None:
            continue
        low = max(0, code.start() - _POSTCODE_REACH)
        low = text.rfind("\n", low, code.start()) + 1 or low
        before = _BEFORE_POSTCODE.search(text, low, code.start())
        if before is not None:
            yield Finding("ADDRESS", before.start(), code.end(), text[before.start() : code.end()])


# A suite, unit or floor written before the house number, as US addresses put it (Suite
# 400, 1200 Smith Street, Houston, TX 77002).
_UNIT_BEFORE = re.compile(
    r"(?:Suite|Ste|Unit|Apt|Apartment|Room|Rm|Floor|Fl|Level|#)\.? ?#?[0-9A-Z-]{1,6},? \Z"
)
# Pieces of one address that only a comma stands between (Tower 2, Times Square, 1
# Matheson Street, Causeway Bay: the building and the street) are one finding.
_PIECE_GAP = re.compile(r",? ?")


def find_english_addresses(text: str) -> Iterator[Finding]:
    last: Finding | None = None
    for found in sorted(_english_addresses(text), key=lambda f: f.start):
        if last is not None and (
            found.start < last.end or _PIECE_GAP.fullmatch(text, last.end, found.start)
        ):
            end = max(last.end, found.end)
            last = Finding("ADDRESS", last.start, end, text[last.start : end])
            continue
        if last is not None:
            yield last
        last = found
    if last is not None:
        yield last


# A Hong Kong address has no house number or postcode: a flat, then a floor, a block and
# an estate, ending in its region (Flat 1203, Block 7, Whampoa Garden, Hung Hom, Kowloon);
# a flat and a block together say it without the region. The scan runs only behind a
# gate (a pattern led by a list of words costs a test at every character).
_HK_UNIT = r"(?:Flat|Unit|Room|Rm|Apt|Apartment|Suite)\.? ?[0-9A-Z]{1,5}"
_HK_PIECE = (
    r"(?:[0-9]{1,2}/F|(?:Block|Blk|Tower|Phase)\.? ?[0-9A-Z]{1,3}"
    r"|(?:[0-9]{1,4}[A-Z]? )?[A-Z][a-z]+(?: [A-Z][a-z]*){0,3})"  # Tseung Kwan O
)
_HK_REGION = r"(?:Kowloon|Hong Kong|New Territories|N\.T\.|Macau|Macao)"
_HONG_KONG = re.compile(
    rf"\b{_HK_UNIT}(?:(?:, ?{_HK_PIECE}){{1,5}}?, ?{_HK_REGION}(?![A-Za-z])"
    rf"|(?:, ?[0-9]{{1,2}}/F)?, ?(?:Block|Blk|Tower)\.? ?[0-9A-Z]{{1,3}}"
    r"(?:, ?[A-Z][a-z]+(?: [A-Z][a-z]+){0,3})?)"
)


# Every such address holds a comma before a floor, a block or its region: a scan led by
# the comma (a literal, which the engine skips to at once) is the gate, ~0.6 µs a 2 KB
# prompt where seven substring tests cost ~5 µs.
_HK_GATE = re.compile(rf", ?(?:[0-9]{{1,2}}/F|Block|Blk|Tower|{_HK_REGION})")


def _hong_kong_addresses(text: str) -> Iterator[Finding]:
    if _HK_GATE.search(text) is None:
        return
    for match in _HONG_KONG.finditer(text):
        yield Finding("ADDRESS", match.start(), match.end(), match.group())


def _english_addresses(text: str) -> Iterator[Finding]:
    yield from _postcode_addresses(text)
    yield from _hong_kong_addresses(text)
    position = 0
    while (match := _ENGLISH.search(text, position)) is not None:
        position = match.end()
        if match.lastgroup != "after_name":
            unit = _UNIT_BEFORE.search(text, max(0, match.start() - 20), match.start())
            start = match.start() if unit is None else unit.start()
            yield Finding("ADDRESS", start, match.end(), text[start : match.end()])
            continue
        street = _street_start(text, match.start() - 1)
        if street is None and _POSTAL_TOWN.match(match.group("after_name")):
            street = _named_street(text, match.start() - 1)
        if street is not None:
            yield Finding("ADDRESS", street, match.end(), text[street : match.end()])
        else:  # Suite 400, 1200 Smith Street: ", 1200 Smith" read as a postcode and town
            position = match.start() + 1


# A house number after a street's name with no kind word is an address only before a
# postcode and its town (Karlova 25, 110 00 Praha 1) -- a town that is no street (1200
# Smith Street) and a name that is no unit's word (Suite 400, 1200 …).
# Five digits or 3 + 2 only: a four-digit code reads as a year (Windows 10, 2004 Update).
_POSTAL_TOWN = re.compile(
    rf"[0-9]*(?: ?[a-z])?, ?(?:[A-Z]{{1,2}}-)?(?:[0-9]{{5}}|[0-9]{{3}} [0-9]{{2}}) "
    rf"(?!.*\b{_STREET}\b)"
)
_NOT_STREET = frozenset(
    {"Suite", "Ste", "Unit", "Flat", "Room", "Apt", "Apartment", "Floor", "Level", "Tower"}
    | {"Block", "Building", "No", "Box", "Page", "Vol", "Chapter", "Section", "Gate"}
)


def _named_street(text: str, end: int) -> int | None:
    start = end
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] in "'’-"):
        start -= 1
    word = text[start:end]
    if len(word) < 3 or not word[0].isupper() or word in _NOT_STREET:
        return None
    return start


def _street_start(text: str, end: int) -> int | None:
    """Where a continental street name that ends at ``end`` begins, if it is one."""
    low = max(0, end - 60)
    low = text.rfind("\n", low, end) + 1 or low
    # A JSON value or a field starts after its quote or colon ("address":"Torstraße 112).
    low = max(low, *(text.rfind(mark, low, end) + 1 for mark in '":：(（'))
    words = text[low:end].split(" ")[-5:]
    starts, position = [], end
    for word in reversed(words):  # the last word first
        position -= len(word)
        starts.append(position)
        position -= 1
    last = words[-1]
    if not last[:1].isupper():
        return None
    kind = next((k for k in _GLUED_KINDS if last.lower().endswith(k)), None)
    if kind is not None and len(last) > len(kind):
        return starts[0]
    if last in _KINDS_AFTER:
        return starts[1] if len(words) > 1 and words[-2][:1].isupper() else None
    for k in range(2, len(words) + 1):
        word = words[-k]
        if word in _KINDS_BEFORE:
            return starts[k - 1]
        if not (word[:1].isupper() or word in _PARTICLES):
            return None
    return None
