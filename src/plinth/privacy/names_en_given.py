"""English given names standing alone, where the text itself says a person is meant.

``names_en`` takes a lone capitalised word only after a cue (Hi, Dear, Mr.) or a
Chinese verb that takes a person; chats, e-mails and notes name people by their
given name in a few more places:

- again, after the full name: "To: Emily Chen … Emily, the landlord's agent agreed":
  the first word of a full English name found in the same text, repeated alone;
- on a sign-off line after a dash: "Bank details unchanged. — Leo";
- right before 老师, 经理, a greeting or 说 (Amy老师, Tiffany您好, Kevin 说), or before
  你 at a line's start (Jenny 你帮我查下);
- as a speaker's label at a line's start, after a list mark or a short capitalised
  role (``- Alex：CRM 数据迁移完成``, ``HR Cindy: 新同事…``).

The word must be a known given name (Faker's list, ``english_given_names.txt``) and
not one that is an everyday word as well (Mark, Will, Grace: ``WORDLIKE_GIVEN_NAMES``
in ``names_en``), nor a month, a label, a place or an assistant's name (``_NOT_LONE``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import words
from plinth.privacy.names_en import GIVEN_NAMES, NOT_NAMES

# Each form is looked for from its rare part (a dash, a title, a line's start) with
# ``str.find`` and checked with an anchored match there: three scans of the whole text
# for a capitalised word cost ~75 µs per 2 KB prompt, this a tenth of that.
_GIVEN = r"[A-Z][a-z]{1,11}+"  # possessive: a failed match does not back off letter by letter
# A dash that signs a message off, at a line's start or after a sentence's end, then
# the name alone up to the line's end. ``normalize`` turns — into -.
_DASHES = ("-", "—", "–")
_SIGNED = re.compile(rf"-?[ \t]*({_GIVEN})[ \t]*(?:$|\n)")
# Chinese titles and greetings a given name is put before (Amy老师, Tiffany您好).
# The commonest five, each a literal pattern: a regex search for a literal is a fast
# scan (~0.5 µs per 2 KB prompt), an alternation of them is not (~4 µs).
_TITLES = tuple(re.compile(title) for title in ("老师", "您好", "你好", "经理", "说"))
_BEFORE_TITLE = re.compile(rf"(?<![A-Za-z])({_GIVEN}) ?$")
# A line's start: a list mark or a short capitalised role (HR, PM) may come first;
# then a speaker's colon, or 你 (the one spoken to).
_LINE_HEAD = re.compile(
    rf"[ \t]*(?:[-*•][ \t]*)?(?:[A-Z]{{2,4}}[ \t]+)?({_GIVEN})(?:[ \t]*[:：]|[ \t，,]*你)"
)


# Faker's given names hold words a line or a title starts with as often: month
# abbreviations (Jan:), field and log labels (Link:, Trace:), places (China说, Houston)
# and voice assistants (Siri, Alexa): never a lone given name here.
_NOT_LONE = frozenset(
    words(
        "Jan Mar Sep Link Trace Journey Charity China America Asia Africa Israel India "
        "Houston Dallas Denver Phoenix Brooklyn Camden Chelsea Washington Florence "
        "Georgia Virginia Carolina Siri Alexa Claude Gemini"
    )
)


def _given(word: str) -> bool:
    return word in GIVEN_NAMES and word not in _NOT_LONE and word not in NOT_NAMES


def _echoes(text: str, found: Sequence[Finding]) -> Iterator[Finding]:
    people = [f for f in found if f.entity == "PERSON"]
    firsts = {f.text.split(" ", 1)[0] for f in people if " " in f.text and f.text[:1].isupper()}
    taken = {f.start for f in people}  # a set: a long text's many names stay linear
    for first in firsts:
        if not _given(first):  # not Will or Mark: "Will Smith … Will you check"
            continue
        at = text.find(first)
        while at != -1:
            end = at + len(first)
            if (
                at not in taken
                and not text[at - 1 : at].isalpha()
                and not text[end : end + 1].isalpha()
            ):
                yield Finding("PERSON", at, end, first)
            at = text.find(first, end)


def _signed(text: str) -> Iterator[re.Match[str]]:
    for dash in _DASHES:
        at = text.find(dash)
        while at != -1:
            before = text[max(0, at - 2) : at]
            opens = at == 0 or before[-1:] == "\n" or before.rstrip(" \t")[-1:] in ".!?。！？"
            if opens and before[-1:] != "-":
                match = _SIGNED.match(text, at + 1)
                if match is not None:
                    yield match
            at = text.find(dash, at + 1)


def _titled(text: str) -> Iterator[re.Match[str]]:
    for title in _TITLES:
        for found in title.finditer(text):
            at = found.start()
            if text[at - 1 : at].isascii():
                match = _BEFORE_TITLE.search(text, max(0, at - 13), at)
                if match is not None:
                    yield match


# A line that may start with a speaker's label: its first character (after the newline)
# a list mark, a space or a capital. A literal first, so the scan is a fast search.
_HEAD_STARTS = frozenset("-*• \tABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CANDIDATE_LINE = re.compile("\n(?=[-*• \tA-Z])")


def _line_heads(text: str) -> Iterator[re.Match[str]]:
    starts = [m.end() for m in _CANDIDATE_LINE.finditer(text)]
    if text[:1] in _HEAD_STARTS:
        starts.insert(0, 0)
    for at in starts:
        match = _LINE_HEAD.match(text, at)
        if match is not None:
            yield match


def find_lone_given_names(text: str, found: Sequence[Finding]) -> Iterator[Finding]:
    """Given names alone where the text marks a person (see the module's docstring).
    Reads ``found`` (the earlier stages' findings) before yielding the first name, so the
    caller may extend ``found`` with what this yields."""
    yield from list(_echoes(text, found))
    for matches in (_signed(text), _titled(text), _line_heads(text)):
        for match in matches:
            if _given(match.group(1)):
                yield Finding("PERSON", match.start(1), match.end(1), match.group(1))
