"""Names listed after a roster label (参会：…, 缺席：…)."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect
from plinth.privacy.names_rosters import find_roster_names


def roster(text: str) -> list[str]:
    return [f.text for f in find_roster_names(text)]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # A rare surname (郗), a name that is also a word (安静), a Latin name, a note.
        (
            "例会记录\n与会人员：郗远航、安静、Priya Okafor-Lee\n",
            ["郗远航", "安静", "Priya Okafor-Lee"],
        ),
        ("缺席：蔺晓（病假）、占明", ["蔺晓", "占明"]),
        ("羽毛球报名的有：滕飞 裘佳", ["滕飞", "裘佳"]),
    ],
)
def test_items_after_a_roster_label(text: str, names: list[str]) -> None:
    assert roster(text) == names


@pytest.mark.parametrize(
    "text",
    [
        "参会：全体员工、各部门负责人",  # groups, not people
        "出席：待定",  # an everyday word
        "备注：安静、整洁",  # no roster label
        "我们昨天讨论了很久到底谁来参会：结论未定",  # a sentence before the colon
    ],
)
def test_no_roster_or_no_person_shaped_items(text: str) -> None:
    assert roster(text) == []


def test_roster_names_reach_detect() -> None:
    found = [f.text for f in detect("签到：郗远航、安静") if f.entity == "PERSON"]
    assert found == ["郗远航", "安静"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # A role or a name field before the colon says who follows: names without a
        # listed surname (其木格, 萨仁) and names that are words (田野) are taken there.
        ("收货人：其木格\n收货地址：内蒙古锡林浩特市团结大街28号", ["其木格"]),
        ("寄件人：萨仁 13308647592", ["萨仁"]),
        ("群主：邵大海，管理员：田野、方圆", ["邵大海", "田野", "方圆"]),
        ("姓名：庹红梅  年龄：52", ["庹红梅"]),
        # A role's items end at a space: the form's next field is no item.
        ("取件人：毛俊杰 取件码 5-2-3017", ["毛俊杰"]),
    ],
)
def test_items_after_a_role_label(text: str, names: list[str]) -> None:
    assert roster(text) == names


@pytest.mark.parametrize("text", ["负责人：待定", "联系人：本人", "收件人：同上", "老师：你好"])
def test_role_label_with_no_person_after_it(text: str) -> None:
    assert roster(text) == []
