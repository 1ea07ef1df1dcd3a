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
from plinth.privacy.gazetteer import PLACES, words
from plinth.privacy.names_surnames import surname_length
from plinth.privacy.names_zh_scored import WORDS

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


def _name_like(value: str) -> bool:
    surname = surname_length(value)
    if value in PLACES or WORDS.get(value, 0.0) >= WORD_WEIGHT or value[-1] in _UNITS:
        return False
    if surname:
        return 1 <= len(value) - surname <= 2
    # The key is the evidence a surname the gazetteer lacks (贝, 鄂) does not give.
    return len(value) <= 3


# An e-mail header line names people by its key alone: "To: 温家乐", "Cc: 顾北".
_MAIL_KEYS = frozenset(words("To From Cc CC Bcc BCC Attn Reply-To"))


def _mail_header(text: str, key: re.Match[str]) -> bool:
    at_line_start = key.start() == 0 or text[key.start() - 1] == "\n"
    return at_line_start and key.group(1) in _MAIL_KEYS


def find_field_names(text: str) -> Iterator[Finding]:
    if ":" not in text and "=" not in text:
        return
    for match in _VALUE.finditer(text):
        key = _KEY.search(text, max(0, match.start() - 44), match.start())
        if key is None or not (_means_a_person(key.group(1)) or _mail_header(text, key)):
            continue
        value = match.group(1)
        if _name_like(value):
            yield Finding("PERSON", match.start(1), match.end(1), value)
