"""English names from how they are written: possessives, hyphenated surnames,
signature lines and contact blocks; Chinese names after e-mail header keys."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # A possessive 's is no part of the name, and no longer hides it.
        ("Can you forward Laura Chen's slides before noon?", "Laura Chen"),
        ("Liu Yang's badge still does not open the lab door", "Liu Yang"),
        # A hyphenated surname with one known half.
        ("麻烦 Emma Fairbairn-Wood 周五前回复", "Emma Fairbairn-Wood"),
    ],
)
def test_possessives_and_hyphenated_surnames(text: str, name: str) -> None:
    assert people(text) == [name]


def test_a_signature_line_before_a_bar() -> None:
    text = "Best,\nThomas Quillfeather | Head of Procurement\nAcme Ltd"
    assert people(text) == ["Thomas Quillfeather"]


def test_a_name_alone_in_a_contact_block() -> None:
    text = "Ship to:\n88 Harbour Road, Leeds LS1 4AB\nMark Oxenbury\n"
    assert people(text) == ["Mark Oxenbury"]


def test_a_heading_alone_is_no_name() -> None:
    # No given name first, or no contact line next to it.
    assert people("Quarterly Review\nAgenda items below") == []
    assert people("Grace Period\nPayments made within the grace period are accepted") == []


def test_a_chinese_name_after_a_mail_header_key() -> None:
    assert people("From: ops@example.com\nTo: 常安\nSubject: 月报") == ["常安"]
    assert people("Please send it to: 财务部") == []


def test_a_person_keyed_field_with_a_surname_the_gazetteer_lacks() -> None:
    # 贝 is a surname the gazetteer does not hold; the key says a person stands here.
    assert people("2026-03-01 WARN retry operator=贝书遥 attempt=2") == ["贝书遥"]
    assert people('{"owner": "运维组", "reviewer": "平台部"}') == []


def test_a_display_name_before_an_address_in_angle_brackets() -> None:
    # Neither word is in the name lists: the mail header's shape says who it is.
    text = "To: Kwame Osei-Tutu <k.osei@example.gh>; Priyanka Raghunathan <pr@example.in>"
    assert people(text) == ["Kwame Osei-Tutu", "Priyanka Raghunathan"]
    assert people("Support Team <help@example.com>") == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # A Latin full name inside Chinese text, starting with a known given name or surname.
        ("Tran Thi Mai 这周在河内出差", ["Tran Thi Mai"]),
        ("新加坡那边 Tan Wei Ming 13912345678", ["Tan Wei Ming"]),
        # A lone given name after a word that takes a person, or paired with another.
        ("明天让Oliver和Sophie去机场接人", ["Oliver", "Sophie"]),
        ("这份报告发给Daniel看一下", ["Daniel"]),
    ],
)
def test_latin_names_inside_chinese_text(text: str, names: list[str]) -> None:
    assert people(text) == names


@pytest.mark.parametrize(
    "text",
    [
        "我用Visual Studio Code写代码",
        "这台Apple Watch续航一般",
        "新买的Chanel包到了",  # a given name alone, after no person's word: a brand
        "Python和Java哪个好学",
    ],
)
def test_latin_words_inside_chinese_text_that_are_no_names(text: str) -> None:
    assert people(text) == []


def test_a_role_then_a_comma_names_a_region_not_a_person() -> None:
    text = "Kind regards,\nPriya Natarajan\nAccount Director, Northern Europe\n"
    assert people(text) == ["Priya Natarajan"]
    assert people("I spoke to my manager Laura Chen today") == ["Laura Chen"]
