"""Names as the value of a field whose key means a person: {"consignee":"于和伟"},
``user=魏来``, ``operator: 缑志明``.

Tool arguments, logs and query strings carry people under keys, and the key says
what the value is. A key means a person when one of its words (split at ``_``,
``-``, ``.`` and camelCase) is in ``PERSON_KEYS``, a general vocabulary of English
words for people and their roles, not of any case's keys (``patient_name``,
``targetAgent``, ``assigned_to``; not ``team`` or ``city``). The value must
then be two to four Han characters starting with a surname (or two or three
with no surname the gazetteer knows), not ending like a unit's name (平台部), and be
no everyday word (a department or a brand: {"owner":"华为"}) nor a place. An e-mail header at a
line's start (``To: 温家乐``, ``Cc:``) is such a key too.

The scan starts at each ``:`` or ``=`` followed by Han text (the only places a
value can start), so text with no such field costs one failed search.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import PLACES, ROLE_ENDS, words
from plinth.privacy.han import is_han
from plinth.privacy.names_en import GIVEN_NAMES, WORDLIKE_GIVEN_NAMES
from plinth.privacy.names_surnames import surname_length
from plinth.privacy.names_zh_scored import GIVEN, WORDS

PERSON_KEYS = frozenset(
    words(
        """
    name names fullname nickname user users username person people
    customer customers client clients contact contacts consignee consignor receiver
    recipient sender shipper owner holder cardholder assignee assigned reporter requester
    operator agent patient member members employee staff worker student pupil teacher
    doctor nurse driver rider courier approver reviewer auditor author creator
    editor manager leader lead applicant guest visitor passenger traveler traveller
    buyer seller tenant landlord host attendee participant speaker signer witness
    emergency spouse parent guardian
    """
    )
)
# A value: Han characters up to the end of the field.
_VALUE = re.compile(r"[:=][ \t]*[\"'“]?([\u3400-\u9fff]{2,4})(?=[\"'”&,;，；}\]\s|]|$)")
_KEY = re.compile(r"[\"']?([A-Za-z][A-Za-z0-9_.\-]{0,40})[\"']?[ \t]*$")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
# An everyday word of at least this weight (log10 of jieba's count) is no name here.
WORD_WEIGHT = 2.5


def _means_a_person(key: str) -> bool:
    parts = _CAMEL.findall(key)
    return any(part.lower() in PERSON_KEYS for part in parts)


# Characters that end a group's or a unit's name, not a person's (研发部, 客服组).
_UNITS = frozenset("们部组科处室队班司局厅系所")


# Keys that name one person, never a company or a team (not owner, customer, host):
# under them a value that is also an everyday word is a given name chosen for its
# meaning (user=平安, "driver":"向阳") when its given characters are name characters.
ONE_PERSON_KEYS = frozenset(
    words(
        """
    name fullname nickname user username driver rider courier patient passenger
    employee student pupil teacher doctor nurse assignee reporter approver reviewer
    """
    )
)
# Every given character this likely in a name (G in name_model.tsv: 安 1.0, 阳 1.26;
# 游客's 客 0.02, 司机's 机 -2.27) and the word under this weight.
WORD_NAME_GIVEN = 0.5
WORD_NAME_WEIGHT = 3.5


def _word_name(value: str) -> bool:
    """A surname and name characters under a one-person key, though a word (平安)."""
    surname = surname_length(value)
    given = value[surname:]
    return (
        surname > 0
        and 1 <= len(given) <= 2
        and WORDS.get(value, 0.0) < WORD_NAME_WEIGHT
        and all(GIVEN.get(ch, -5.0) >= WORD_NAME_GIVEN for ch in given)
    )


def _name_like(value: str, *, one_person: bool = False) -> bool:
    surname = surname_length(value)
    if value in PLACES or value[-1] in _UNITS:
        return False
    if WORDS.get(value, 0.0) >= WORD_WEIGHT:
        return one_person and _word_name(value)
    if surname:
        return 1 <= len(value) - surname <= 2
    # The key is the evidence a surname the gazetteer lacks (贝, 鄂) does not give.
    return len(value) <= 3


# An e-mail header line names people by its key alone: "To: 温家乐", "Cc: 顾北".
_MAIL_KEYS = frozenset(words("To From Cc CC Bcc BCC Attn Reply-To"))


def _mail_header(text: str, key: re.Match[str]) -> bool:
    at_line_start = key.start() == 0 or text[key.start() - 1] == "\n"
    return at_line_start and key.group(1) in _MAIL_KEYS


# A chat mention names a member by a display name: @夏天, @Lydia, @Kelly王. After the
# text's start, a space or punctuation (not an e-mail's local part), up to a space or
# punctuation. Group mentions (@所有人) and roles (@管理员, @客服组) are no person.
# The "@"s are found by str.find and the character before each looked at: a regex
# with that look first ran at every character (6 us per 2 KB prompt).
_HANDLE = re.compile(
    r"([\u3400-\u9fff]{2,4}|[A-Z][a-z]+[\u3400-\u9fff]?)(?=[\s，,。：:！!？?、；;）)]|$)"
)
_BEFORE_MENTION = frozenset(" \t\r\n，,。：:（(、；;")
_GROUP_MENTIONS = frozenset(words("所有人 全体成员 全体 全员 大家"))
_NOT_PERSON_ENDS = _UNITS | ROLE_ENDS | frozenset("人服")  # 管理员, 客服


def _mention_handles(text: str) -> Iterator[re.Match[str]]:
    at = text.find("@")
    while at != -1:
        if at == 0 or text[at - 1] in _BEFORE_MENTION:
            handle = _HANDLE.match(text, at + 1)
            if handle is not None:
                yield handle
        at = text.find("@", at + 1)


def _mentions(text: str) -> Iterator[Finding]:
    for match in _mention_handles(text):
        handle = match.group(1)
        if is_han(handle[0]):
            if handle in _GROUP_MENTIONS or handle[-1] in _NOT_PERSON_ENDS or handle in PLACES:
                continue
        else:
            latin = handle if handle.isascii() else handle[:-1]
            if latin not in GIVEN_NAMES and latin not in WORDLIKE_GIVEN_NAMES:
                continue
            if latin != handle and not surname_length(handle[-1]):
                continue  # Kelly王: a Latin name and a surname
        yield Finding("PERSON", match.start(1), match.end(1), handle)


def latin_mentions(text: str) -> Iterator[Finding]:
    """@Jonas in a text of no Han at all (the Han finders, this module's among them,
    are not run on it): the Latin mentions only, for ``names_en``."""
    for found in _mentions(text):
        if not is_han(found.text[0]):
            yield found


def person_key_before(text: str, quote: int) -> bool:
    """The key before the value whose opening quote is at ``quote`` means a person
    ("contact_person": "Lim Wei Jie", consignee="Nguyen Thi Hoa"; for ``names_en``)."""
    colon = len(text[:quote].rstrip(" \t")) - 1
    key = _KEY.search(text, max(0, colon - 44), colon)
    return key is not None and _means_a_person(key.group(1))


def find_field_names(text: str) -> Iterator[Finding]:
    if "@" in text:
        yield from _mentions(text)
    if ":" not in text and "=" not in text:
        return
    for match in _VALUE.finditer(text):
        key = _KEY.search(text, max(0, match.start() - 44), match.start())
        if key is None or not (_means_a_person(key.group(1)) or _mail_header(text, key)):
            continue
        value = match.group(1)
        one_person = any(p.lower() in ONE_PERSON_KEYS for p in _CAMEL.findall(key.group(1)))
        if _name_like(value, one_person=one_person):
            yield Finding("PERSON", match.start(1), match.end(1), value)
