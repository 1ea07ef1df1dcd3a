"""Names and addresses in traditional script, read through the traditional -> simplified
character table (``build_traditional.py``) that ``normalize`` applies."""

from __future__ import annotations

from plinth.privacy.build_traditional import safe_pairs
from plinth.privacy.detectors import detect, normalize
from plinth.privacy.gazetteer import TRADITIONAL


def _people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


def test_traditional_names_are_found_with_their_own_characters() -> None:
    assert _people("香港的聯絡人是鄭國強，有事直接寫信給他。") == ["鄭國強"]
    assert _people("陳小姐您好：附上報價單，請查閱。") == ["陳小姐"]


def test_mapping_keeps_length_and_offsets() -> None:
    text = "地址：臺北市信義區松仁路100號，聯絡人張偉"
    plain = normalize(text)
    assert len(plain) == len(text)
    assert "台北市信义区" in plain
    found = detect(text)
    assert all(text[f.start : f.end] == f.text for f in found)


def test_characters_of_simplified_text_are_left_alone() -> None:
    # 著, 乾, 於 and 藉 are written in simplified text too: the table leaves them.
    for ch in "著乾於藉瞭":
        assert ch not in TRADITIONAL
    assert normalize("著名的乾隆年间") == "著名的乾隆年间"


def test_only_unambiguous_pairs_are_kept() -> None:
    kept = safe_pairs(
        {"陳": ["陈"], "餘": ["余", "馀"], "著": ["着"], "乾": ["干"]},
        {"著": ["著"], "陈": ["陳"]},
    )
    assert kept == {"陳": "陈", "乾": "干"}
