"""Every single surname the name detectors know: the gazetteer's common ones and rare ones.

A rare surname (禤, 笪, 缑) is the strongest sign a name has: the character is
almost never anything else. The gazetteer lists the common surnames; the rare
ones here are the single surnames of the 百家姓 that jieba's dictionary counts
fewer than 1,000 times inside everyday words (so they cost nothing in false
findings), and a few rare modern surnames the poem lacks (禤, 郇, 佴, 郄, 眭).
"""

from __future__ import annotations

from plinth.privacy.gazetteer import COMPOUND_SURNAMES, SINGLE_SURNAMES

RARE_SURNAMES = frozenset(
    "酆荀羿邴宓郗钭逄郦璩殳蒯仉郈笪訾隗莘桓郏缑谯乜贲庾厍毋钮蔚弘汲韶蓟禄糜竺暨夔濮禤郇佴郄眭"
)
SURNAMES = SINGLE_SURNAMES | RARE_SURNAMES


def surname_length(text: str, start: int = 0) -> int:
    """The surname at ``text[start]``: 2 for a compound one (欧阳), 1 for a single one, 0."""
    if text[start : start + 2] in COMPOUND_SURNAMES:
        return 2
    return 1 if text[start : start + 1] in SURNAMES else 0
