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
