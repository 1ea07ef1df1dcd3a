"""Names without a cue word, the forms added for issue 14, and the pre-filter that
keeps a short prompt out of detectors it cannot concern."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from plinth.privacy.detectors import detect


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity, f.text) for f in detect(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("昨天叶文杰在机房加班", [("PERSON", "叶文杰")]),  # no cue word: boundaries only
        ('{"assignee": "程雅琴", "due": "周五"}', [("PERSON", "程雅琴")]),  # a JSON value
        ("老周说明天下雨", [("PERSON", "老周")]),
        ("经理姓欧阳，叫欧阳明", [("PERSON", "欧阳"), ("PERSON", "欧阳明")]),
        ("扎西次仁明天到", [("PERSON", "扎西次仁")]),  # Tibetan, no dot
        ("顺祝商祺！\n\n沈浩\n市场部", [("PERSON", "沈浩")]),  # signature after a sign-off
        ("My colleague Anna Berg left.", [("PERSON", "Anna Berg")]),
        ("Escalated to Liam O'Connor.", [("PERSON", "Liam O'Connor")]),
        ("电话 139 - 1234 - 5678", [("CN_MOBILE", "139 - 1234 - 5678")]),
        ("发给 fe80::1 和 a:b", [("IPV6", "fe80::1")]),
        ("写信给 li.na@example.cn 或 @someone", [("EMAIL", "li.na@example.cn")]),
        # after a verb that takes a person (麻烦, 约, 提醒), a kin word, a role
        ("麻烦邱丽华把合同寄出", [("PERSON", "邱丽华")]),
        ("帮我约薛明远周五见面", [("PERSON", "薛明远")]),
        ("我舅舅程国庆在医院", [("PERSON", "程国庆")]),
        ("跟包志强确认一下", [("PERSON", "包志强")]),  # an everyday-word surname, full name
        ("巴图孟和是新同事", [("PERSON", "巴图孟和")]),  # Mongolian, two parts
        ("客户姓名：上官婉儿", [("PERSON", "上官婉儿")]),
        ("count: 139-1234-5678", [("CN_MOBILE", "139-1234-5678")]),  # written as a phone
    ],
)
def test_detects(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "黄金价格又涨了",  # surname + given-name characters, but an everyday word
        "王国的历史",
        "马上就来",
        "方便的话请回电",
        "白天很热",
        "老师说下午考试",
        "小米手机降价",
        "我和同事一起去吃饭",
        "此致\n敬礼",  # a sign-off is no signature
        "先上官网看看",  # 上 + 官网, not the surname 上官
        "Build 13912340000 passed",  # a counter, not a phone
        '{"bytes": 13800001111}',
    ],
)
def test_everyday_words_are_no_names(text: str) -> None:
    assert found(text) == []


def _modules_run(text: str) -> set[str]:
    seen: set[str] = set()

    def record(frame: FrameType, event: str, _: Any) -> None:
        if event == "call" and "plinth" in frame.f_code.co_filename:
            seen.add(Path(frame.f_code.co_filename).name)

    sys.setprofile(record)
    try:
        detect(text)
    finally:
        sys.setprofile(None)
    return seen


def test_a_short_english_prompt_runs_no_chinese_or_number_detector() -> None:
    assert _modules_run("Say hi") == {"detectors.py", "names_en.py"}
    assert _modules_run("say hi") == {"detectors.py"}
    chinese = _modules_run("请帮我写一首诗")
    assert {"numbers.py", "checks.py", "names_en.py"}.isdisjoint(chinese)  # no digits, no capitals
    assert {"names_zh.py", "names_zh_uncued.py", "addresses.py"} <= chinese
