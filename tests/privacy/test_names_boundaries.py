"""Readings that a word around them undoes (names_zh, names_values): a count of goods
before a brand, a noun after a compound surname, a surname glued to the word before a
title, a doubled title character, an everyday word after a cue that is no label; and
the names beside them that must stay."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect
from plinth.privacy.names_values import counted_thing


def _people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("我要一份杨铭宇的黄焖鸡", []),  # 一份|: goods (a restaurant chain's dish)
        ("街角开了一家刘大妈，专卖包子", []),  # 一家|: a shop
        ("送你一本张爱玲的小说", ["张爱玲"]),  # books are named after their authors
        ("这位王大妈每天都来", ["王大妈"]),  # people are counted with 位
    ],
)
def test_a_count_of_goods_holds_no_name(text: str, names: list[str]) -> None:
    assert _people(text) == names


def test_counted_thing_needs_a_numeral_or_a_demonstrative() -> None:
    assert counted_thing("一双李宁", 2)
    assert not counted_thing("双李宁", 1)  # no count before the measure word


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("周末去欧阳八卦村看看", []),  # the "given name" is a noun made of unlike characters
        ("欧阳娜娜明天到", ["欧阳娜娜"]),
    ],
)
def test_a_noun_after_a_compound_surname(text: str, names: list[str]) -> None:
    assert _people(text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("我们村里新开了民宿老板很热情", []),  # 民|宿: a word begun before the surname
        ("特区政府政务司黄小姐来电", ["黄小姐"]),  # an office's name, then its person
        ("找王经理签字", ["王经理"]),
    ],
)
def test_a_surname_glued_to_the_word_before_a_title(text: str, names: list[str]) -> None:
    assert _people(text) == names


def test_a_doubled_title_character_is_no_title() -> None:
    assert _people("杂七杂八林林总总加起来不少") == []
    assert _people("林总下午到") == ["林总"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("各级领导班子要带头", []),  # 领导 then a common word of unlike characters
        ("——班主任", []),  # a sign-off dash before a common word
        ("（记者严明）", ["严明"]),  # a word of name characters, not that common
    ],
)
def test_an_everyday_word_after_a_cue_that_is_no_label(text: str, names: list[str]) -> None:
    assert _people(text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("早饭吃了一碗杨辣汤", []),  # a dish's last character
        ("中午去吴福记吃饭", []),  # a shop's
        ("周末去刘文坊逛逛", []),
        ("这把梳子是沈木匠做的", ["沈木匠"]),  # a craftsman: a person
        ("这道菜是杨建华做的", ["杨建华"]),
    ],
)
def test_a_reading_that_ends_like_a_dish_or_a_shop(text: str, names: list[str]) -> None:
    assert _people(text) == names


def test_an_uncued_reading_that_ends_inside_a_word() -> None:
    # 大会 (jieba: ~9,700 times) starts at the reading's last character: 楼|大会议室.
    assert _people("地点：5楼大会议室") == []
    assert _people("地点：5楼，联系人华小明") == ["华小明"]


def test_a_record_cell_is_not_glued_to_latin_letters() -> None:
    # A record line (it holds an e-mail): 权限 glued to VPN is a term, 陶子涵 a cell.
    text = "请开通邮箱 a.b@example.com 和VPN权限，联系 陶子涵"
    assert _people(text) == ["陶子涵"]
