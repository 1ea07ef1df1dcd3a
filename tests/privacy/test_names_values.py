"""A name that starts a structured value (CSV cell, JSON string, table cell) fills it:
a name-shaped start of a longer value is a maker's name on a product or a shop."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


@pytest.mark.parametrize(
    "text",
    [
        "order,item,qty\n88012,王守义十三香 调味料,3",
        '{"item":"曹祥泰绿豆糕","qty":2}',
        "| 店名 | 人均 |\n| 陈香贵牛肉面 | 35 |",
    ],
)
def test_a_name_shaped_start_of_a_longer_value_is_no_name(text: str) -> None:
    assert people(text) == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("id,owner,amount\n7,鲍文涛,120", ["鲍文涛"]),
        ('{"members":"鲍文涛 滕雅琴"}', ["鲍文涛", "滕雅琴"]),
        ('{"note":"鲍文涛说明天补上"}', ["鲍文涛"]),
        ('{"assignee":"鲍文涛经理"}', ["鲍文涛经理"]),
    ],
)
def test_a_name_that_fills_its_value_or_goes_on_as_a_person_does(
    text: str, names: list[str]
) -> None:
    assert people(text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # A frequent everyday word in a record's cell is no name (母亲: kin, in brackets).
        ("联系人：钮一帆（母亲）13912345678", ["钮一帆"]),
        # After a roster label, an item of characters names seldom hold (病假, 事假).
        ("请假：蒯文博 病假 2 天", ["蒯文博"]),
        ("请假：蒯文博 事假 1 天", ["蒯文博"]),
        # Before a possessive, a verb and an everyday noun (修 + 车库), not a name.
        ("问一下修车库的电话", []),
    ],
)
def test_everyday_words_where_a_name_may_stand(text: str, names: list[str]) -> None:
    assert people(text) == names


def test_a_numeral_before_a_measure_word_is_no_given_name() -> None:
    assert people("白芷二两，当归一两") == []


def test_a_reading_glued_to_an_address_names_what_stands_there() -> None:
    # Right after 大厦 / 号 / 室 with nothing a person does next: a locker or a shop.
    assert people("包裹在科技大厦韩云柜，取件码 3321") == []
    # A person's word after it (那边: over there): someone at that room.
    assert people("放到1203室孟佳慧那边") == ["孟佳慧"]
