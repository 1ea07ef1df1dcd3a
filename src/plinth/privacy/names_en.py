"""English person names, where a cue makes them clear.

Capitalised words are everywhere in English ("The", "Friday", product names),
so a run of one to three of them counts as a name only after an honorific
(Mr., Dr.), an introduction ("my name is"), a field label (``Name:``,
``Customer:``), a salutation (Dear, Hi) or as the line after a sign-off
(Regards,). Verbs such as "contact" or "assigned to" count for full names
(two words) only. With no cue, a run counts when it starts with a known given
name and ends with a known surname ("Claire Dubois will cover", "Attendees:
Laura Chen"): both lists come from Faker's name data (``build_english_names``),
less the given names that are everyday words (Will, May, Grant); or when two
pinyin-shaped words stand alone and one is a Chinese surname ("Zhang Wei"); or when
a given name starts a signature line before a bar or a dash ("Ruth Ellery | Counsel")
or stands alone on a line next to a line with a number or an e-mail address. A
hyphenated surname counts as known when one of its halves is (Tanner-Hall), and a
possessive 's is no part of the name ("Ruth Ellery's desk"). The scan looks
at capitalised runs, which are rare in most prompts, and checks the few
characters in front of each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import NAME_CUES, words
from plinth.privacy.han import is_han

_WORD = r"[A-Z](?:'[A-Z])?[a-zà-öø-ÿ]+(?:[-'][A-Z]?[a-zà-öø-ÿ]+)?"
# A capital first, then the look-behind: a pattern that starts with a character class
# lets the engine skip to the next capital at once.
_LOWER = "a-zà-öø-ÿ"
_RUN = re.compile(
    rf"[A-Z](?<![A-Za-z].)(?:'[A-Z])?[{_LOWER}]+(?:[-'][A-Z]?[{_LOWER}]+)?"
    rf"(?:(?: [A-Z]\.)? {_WORD}){{0,2}}(?![A-Za-z])"
)
_HONORIFICS = (
    "Professor",
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "Prof.",
    "Mr",
    "Mrs",
    "Ms",
    "Miss",
    "Mx",
    "Dr",
    "Sir",
    "Madam",
)
_HONORIFICS_SPACED = tuple(h + " " for h in _HONORIFICS)
_INTRODUCTIONS = (
    "my name is",
    "my name's",
    "name's",
    "name is",
    "i am",
    "i'm",
    "this is",
    "named",
    "called",
    "name",
    "full name",
    "contact",
    "customer",
    "patient",
    "attn",
    "attention",
    "recipient",
    "cardholder",
    "account holder",
    "assignee",
    "reporter",
    "from",
    "to",
    "cc",
    "dear",
    "hi",
    "hello",
    "passenger",
    "guest",
    "employee",
    "applicant",
    "signed",
    "owner",
    "user",
    "first_name",
    "last_name",
    "firstname",
    "lastname",
    "full_name",
    "receiver",
    "holder",
    "professor",
)
_ZH_CUES = tuple(cue for cue in NAME_CUES if not cue.isascii())
_ROLES = words(
    "colleague coworker co-worker manager boss supervisor landlord landlady tenant "
    "friend wife husband partner brother sister mother father son daughter neighbour "
    "neighbor teacher doctor lawyer attorney agent director assistant nurse engineer"
)
_ROLE_CUES = tuple(_ROLES)
_FULL_NAME_CUES = (
    "contact",
    "ask",
    "call",
    "email",
    "ping",
    "assigned to",
    "reported by",
    "signed by",
    "approved by",
    "sent by",
    "created by",
    "with",
    "from",
    "to",
    "for",
    "by",
    "and",
    "met",
    "cc",
    "thanks",
    "per",
    # Roles and relations: "my colleague Tom Baker", "my landlord is Brian Walsh".
    *(f"{role}{verb}" for role in _ROLES for verb in ("", " is", " was")),
)
_SIGN_OFF = re.compile(
    r"(?:Regards|Best|Thanks|Sincerely|Cheers|Best wishes|Thank you|Yours|Warmly|"
    r"Best regards|Kind regards|Warm regards|Many thanks|Yours sincerely|Yours truly),?[ \t]*\n"
    r"(?:[ \t]*--[ \t]*\n)?[ \t]*$"
)
NOT_NAMES = frozenset(
    words(
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March "
        "April May June July August September October November December The This That "
        "These Those Team Support Customer Service Sales Admin Inc Ltd Co Corp Company "
        "Street Road Avenue Hello Thanks Thank Regards Best Sincerely Cheers Dear Hi "
        "Please Sir Madam All Everyone Manager Department Order Account Mobile Phone "
        "Email Address Name Contact Yes No Ok Okay It We You They He She His Her Our Your "
        "My If When What Why How Where Who Which Note Subject Re Fwd Hey Good Morning "
        "Afternoon Evening Here There Today Tomorrow Yesterday China Chinese English "
        "Beijing Shanghai Street Lane Drive Payment Invoice Ticket Issue Bug Error "
        "Warning Info Debug User Client Server Group Office Center Hospital University "
        "School Bank Card Number Id Api Key Mr Mrs Ms Dr Prof Miss Mx Professor "
        # Places and bodies a capitalised pair ends with (Washington Square, Penn
        # Station, Air Force); not Park, Hall or Court, which are surnames as well.
        "Square Station Plaza Airport Terminal Tower Mall Building Museum Library "
        "Stadium Airlines Force Navy Boulevard Heights Gardens Bay Valley"
    )
)


def _names(file: str) -> frozenset[str]:
    return frozenset(Path(__file__).with_name(file).read_text(encoding="utf-8").split())


_GIVEN = _names("english_given_names.txt")
GIVEN_NAMES = frozenset(n for n in _GIVEN if not n.startswith("*"))
# Given names that are everyday words too (Mark, Will, Grace): only inside a list.
WORDLIKE_GIVEN_NAMES = frozenset(n[1:] for n in _GIVEN if n.startswith("*"))
SURNAMES = _names("english_surnames.txt")


_LOWERCASE_BEFORE = re.compile(r"(?<![A-Za-z])[a-z]+ $")


def _known_full_name(text: str, start: int, parts: list[str]) -> bool:
    """First and last word a known given name and surname: "Laura Chen"; "Mark Davies"
    after a comma or "and" (Mark alone is a verb, but in a list of people it is a name)."""
    if len(parts) < 2 or parts[-1] in NOT_NAMES:
        return False
    if not _surname(parts[-1]):
        # Two given names, neither an everyday word: Arabic, Malay and Persian names are
        # often a given name and a father's (Ahmed Farouk, Hafiz Rahman).
        return len(parts) == 2 and parts[0] in GIVEN_NAMES and parts[1] in GIVEN_NAMES
    if parts[0] in GIVEN_NAMES:
        return True
    listed = text[max(0, start - 5) : start].endswith((", ", "; ", " and ", "、"))
    # Capitalised after a lowercase word, mid-sentence, a word such as Grace or Mark is a
    # name's start ("loop in Grace Kim"): at a sentence's start it may be the verb.
    mid_sentence = _LOWERCASE_BEFORE.search(text, max(0, start - 24), start) is not None
    return (listed or mid_sentence) and parts[0] in WORDLIKE_GIVEN_NAMES


def _surname(word: str) -> bool:
    """A known surname, or a hyphenated one with a known surname in it (Tanner-Hall)."""
    return word in SURNAMES or ("-" in word and any(p in SURNAMES for p in word.split("-")))


# What follows a name on a signature line: a bar or a dash, then a title or a company.
_AFTER_SIGNATURE = re.compile(r"[ \t]*(?:[|｜]|[-–—][ \t])")
_CONTACT = re.compile(r"[0-9@]")


def _contact_line(text: str, start: int, parts: list[str]) -> bool:
    """A given name and one or two more words at the start of a line, then a bar or a
    dash (a signature: "Ruth Ellery | Counsel"), or alone on the line next to a line
    with a number or an address (a contact block)."""
    if len(parts) < 2 or (parts[0] not in GIVEN_NAMES and parts[0] not in WORDLIKE_GIVEN_NAMES):
        return False
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip():
        return False
    end = start + len(" ".join(parts))
    if _AFTER_SIGNATURE.match(text, end) is not None:
        return True
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if text[end:line_end].strip():
        return False
    above = text[text.rfind("\n", 0, max(0, line_start - 1)) + 1 : max(0, line_start - 1)]
    below_end = text.find("\n", line_end + 1)
    below = text[line_end + 1 : len(text) if below_end == -1 else below_end]
    return _CONTACT.search(above) is not None or _CONTACT.search(below) is not None


# A syllable of Hanyu Pinyin (without tones): Chinese names written in Latin script,
# "Zhang Wei", "Xiaoming Li", which Faker's given names do not hold.
_SYLLABLE = (
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|ai|ao|an|ei|en|er|ia|ie|in|iu"
    r"|ou|ua|uo|ui|un|ve|a|e|i|o|u|v)"
)
_PINYIN = re.compile(rf"(?:{_SYLLABLE}){{1,2}}")
# Pinyin-shaped pairs that are places or words, not people.
_NOT_PINYIN_NAMES = frozenset(
    ["Hong Kong", "Feng Shui", "Yin Yang", "Xi An", "Tai Chi", "Shang Hai", "Bei Jing"]
)


def pinyin_name(raw: str, parts: list[str]) -> bool:
    """Two words alone, both pinyin-shaped, one a Chinese surname: "Zhang Wei", "Wei Zhang",
    "Xiaoming Li" (a capitalised run of three is more likely a title: "The Long Run")."""
    return (
        raw.count(" ") == 1
        and len(parts) == 2
        and (parts[0] in SURNAMES or parts[1] in SURNAMES)
        and all(_PINYIN.fullmatch(part.lower()) for part in parts)
        and raw not in _NOT_PINYIN_NAMES
    )


def find_english_names(text: str) -> Iterator[Finding]:
    angle = "<" in text  # tested once: most texts hold no mail header
    for match in _RUN.finditer(text):
        parts = match.group(0).split(" ")
        while parts and (parts[0] in NOT_NAMES or parts[0].lower() in _INTRODUCTIONS):
            parts.pop(0)  # "Passenger Nguyen Van An": the cue is capitalised too
        while parts and parts[-1] in NOT_NAMES:
            parts.pop()
        if parts and parts[-1].endswith("'s"):
            parts[-1] = parts[-1][:-2]  # a possessive: "David Kim's flight"
        if not parts or not parts[-1]:
            continue
        value = " ".join(parts)
        start = match.start() + match.group(0).index(value)
        known = _known_full_name(text, start, parts) or pinyin_name(match.group(0), parts)
        shaped = (angle and _before_address(text, start + len(value), parts)) or (
            _han_left(text, start) and _amid_han(text, start, parts)
        )
        if not (known or shaped) and _quoted(text, start, start + len(value)):
            known = _person_value(text, start)  # "contact_person": "Lim Wei Jie"
        if known or _cued(text, start, value) or _contact_line(text, start, parts) or shaped:
            yield Finding("PERSON", start, start + len(value), value)
        elif (
            len(parts) == 1
            and value in GIVEN_NAMES
            and _marked_alone(text, start, start + len(value))
        ):
            yield Finding("PERSON", start, start + len(value), value)  # Amy老师, - Alex：
    if "@" in text:  # @Jonas please…: a chat mention, Han text or none (names_fields)
        yield from _latin_mentions(text)


def _latin_mentions(text: str) -> Iterator[Finding]:
    # names_fields imports this module (its name lists): imported here, at call time.
    from plinth.privacy.names_fields import latin_mentions

    return latin_mentions(text)


def _marked_alone(text: str, start: int, end: int) -> bool:
    """A lone given name before a Chinese title, as a speaker's label, after a sign-off
    dash (``names_en_given``, which imports this module's name lists: imported here)."""
    from plinth.privacy.names_en_given import marked_alone

    return marked_alone(text, start, end)


def _quoted(text: str, start: int, end: int) -> bool:
    """The words fill a quoted value: a quote on each side, ``:`` or ``=`` before it."""
    quote = text[start - 1] if start else ""
    if not quote or quote not in "\"'" or text[end : end + 1] != quote:
        return False
    return text[: start - 1].rstrip(" \t")[-1:] in (":", "=")


def _person_value(text: str, start: int) -> bool:
    """The key before a quoted value means a person (names_fields' vocabulary)."""
    # names_fields imports this module (its name lists): imported here, at call time.
    from plinth.privacy.names_fields import person_key_before

    return person_key_before(text, start - 1)


# "Ahmad Faiz <ahmad.faiz@maybank.com.my>": a mail header's display name.
_ANGLE_ADDRESS = re.compile(r" ?<[^<>@\s]{1,64}@[^<>\s]{1,255}>")


def _before_address(text: str, end: int, parts: list[str]) -> bool:
    """Two or three words right before an address in angle brackets: the way mail
    headers (From, To, Cc) name a person, whatever the name's origin."""
    return len(parts) >= 2 and _ANGLE_ADDRESS.match(text, end) is not None


# Han characters after which a person is often named (导游Somchai, 和Zoe, 找Jack), as
# in ``names_zh_uncued``: a verb or preposition that takes a person, a role's last
# character.
_HAN_LEFT = frozenset("跟让问找叫由被和与同对向请给替帮派告知员长师生人手士友游哥姐弟妹约催谢陪喊")


def _neighbour(text: str, position: int, step: int) -> str:
    """The first character from ``position`` on (``step`` -1: before it), spaces skipped."""
    while 0 <= position < len(text) and text[position] in " \t":
        position += step
    return text[position] if 0 <= position < len(text) else ""


def _han_left(text: str, start: int) -> bool:
    """Han text (or the text's start) right before ``start``, across one space: the
    cheap test that spares English prose's capitalised words the rest."""
    left = text[start - 1 : start]
    if left == " ":
        left = text[start - 2 : start - 1]
    return not left or "\u3400" <= left <= "\u9fff"


def _amid_han(text: str, start: int, parts: list[str]) -> bool:
    """A Latin name inside Chinese text, where Latin words are rare and mostly names,
    brands or terms: "Rahul Mehta 在印度那边", "吉隆坡 Lim Siew Ling +60 …" (two or
    three words starting with a known given name or surname, Han text or the text's
    edge on the left, Han text, a number or the edge on the right); or a known given
    name alone after a word that takes a person (导游Somchai, 孟凡和Zoe) or paired with
    another (Jack和Lily). Given names that are words (Mark, Lily) count only paired."""
    end = start + len(" ".join(parts))
    right = _neighbour(text, end, 1)
    if len(parts) >= 2:
        known = parts[0] in GIVEN_NAMES or parts[0] in SURNAMES
        return known and (not right or is_han(right) or right in "+(（0123456789")
    word = parts[0]
    if word not in GIVEN_NAMES and word not in WORDLIKE_GIVEN_NAMES:
        return False
    paired = _paired_given_name(text, start, end)
    return paired or (word in GIVEN_NAMES and text[start - 1 : start] in _HAN_LEFT)


_NEXT_GIVEN = re.compile(r"[ \t]*[和与、][ \t]*([A-Z][a-z]+)(?![A-Za-z])")
_PREVIOUS_GIVEN = re.compile(r"([A-Z][a-z]+)[ \t]*[和与、][ \t]*$")


def _paired_given_name(text: str, start: int, end: int) -> bool:
    """Jack和Lily: two given names joined by 和, 与 or 、 (one may be a word too)."""
    after = _NEXT_GIVEN.match(text, end)
    before = _PREVIOUS_GIVEN.search(text, max(0, start - 24), start)
    # Two lookups, not a union: building GIVEN_NAMES | WORDLIKE_GIVEN_NAMES (20,000
    # names) per candidate made a text full of "和Zoe" cost ~80 ms per KB.
    return any(
        match is not None
        and (match.group(1) in GIVEN_NAMES or match.group(1) in WORDLIKE_GIVEN_NAMES)
        for match in (after, before)
    )


def _cued(text: str, start: int, value: str) -> bool:
    before = text[max(0, start - 24) : start]
    stripped = before.rstrip(" \t:：")
    if stripped and not stripped[-1].isascii():
        # Only a Chinese cue can end here (联系人是Michael Williams); every other cue is ASCII.
        return stripped.endswith(_ZH_CUES) or stripped.rstrip("是为叫").endswith(_ZH_CUES)
    if before.endswith(_HONORIFICS_SPACED):
        return True
    if "\n" in before and _SIGN_OFF.search(before) and _line_ends(text, start + len(value)):
        return True
    lead = before.rstrip(" \t\"'").lower()
    labelled = lead.endswith((":", "：", "="))
    lead = lead.rstrip(":：=, \t\"'")  # "Signed, Laura Bush"
    if lead.endswith(_INTRODUCTIONS) and _word_starts(lead, _INTRODUCTIONS):
        return (
            labelled
            or " " in value
            or lead.endswith(("my name is", "dear", "hi", "hello", "i am", "i'm"))
        )
    if before.rstrip(" \t").endswith(",") and lead.endswith(_ROLE_CUES):
        return False  # "Sales Manager, Asia Pacific": a role's region or team, after a comma
    return " " in value and lead.endswith(_FULL_NAME_CUES) and _word_starts(lead, _FULL_NAME_CUES)


def _word_starts(lead: str, cues: tuple[str, ...]) -> bool:
    """The cue is a whole word ("to", not the end of "into")."""
    cue = next(c for c in cues if lead.endswith(c))
    return len(lead) == len(cue) or not lead[-len(cue) - 1].isalpha()


def _line_ends(text: str, end: int) -> bool:
    rest = text[end : end + 2]
    return rest == "" or rest[0] in "\n\r,|" or rest.startswith(" \n")
