"""English given names alone where the text marks a person (names_en_given): a full
name's first word again, a dash sign-off, before a Chinese title or greeting, a
speaker's label; and the capitalised words in those places that are no names."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect
from plinth.privacy.names_en_given import find_lone_given_names


def _people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("To: Emily Chen\nSubject: Lease\n\nEmily, the agent agreed to 6%.", "Emily"),
        ("Attendees: Priya Nair, 潘伟\n- Priya proposed a new index", "Priya"),
        ("Bank details unchanged. — Leo", "Leo"),  # normalize turns — into -
        ("Thanks for the update.\n-- Nathan", "Nathan"),
        ("兴趣班群 Amy老师: 本周六的乐高课改到B203教室", "Amy"),
        ("旅行社: Tiffany您好，出发前需提供护照首页照片", "Tiffany"),
        ("Jenny 你帮我查下上个月的报销", "Jenny"),
        ("周会记录\n- Alex：CRM 数据迁移完成 85%", "Alex"),
        ("HR Cindy: 新同事入职资料请发我邮箱", "Cindy"),
        ("这个问题问Kevin哥就行", "Kevin"),
        ("刚才Nathan问我周五是不是线上", "Nathan"),  # the subject of 问
        ("Jenny 我这边报价发你了", "Jenny"),  # a line spoken to the name
        ("Offer accepted. @Priya please order a laptop", "Priya"),  # a mention, no Han
    ],
)
def test_lone_given_names_found(text: str, name: str) -> None:
    assert name in _people(text)


@pytest.mark.parametrize(
    "text",
    [
        "Link: https://example.com/report",  # a field label that Faker lists as a name
        "Jan: 120\nFeb: 98",  # a month
        "China说要加关税",  # a place
        "Siri: 好的，已为你设置闹钟",  # a voice assistant
        "Note: the build is green. - Done",  # no given name after the dash
        "Mark: 请假一天",  # a given name that is a word too, with no full name before
        "The release went out today.\n- Summary: all green",
        "Python 我不太熟",  # no given name before 我
        "write to priya@example.com or @Override it",  # an address; a word no name
    ],
)
def test_no_lone_given_name(text: str) -> None:
    assert _people(text) == []


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [
        ("Beneficiary name: 邵思琪 / SHAO SIQI\nAccount: 6217", "SHAO SIQI"),
        ("Applicant: TANG Yuhang (唐宇航)\nAddress: Room 5", "TANG Yuhang"),
    ],
)
def test_pinyin_beside_a_chinese_name(text: str, pinyin: str) -> None:
    assert pinyin in _people(text)


@pytest.mark.parametrize(
    "text",
    [
        "联系人：张伟 / HONG KONG office",  # a place, pinyin-shaped
        "负责人：李娜（IT DEPT）",  # no pinyin
        "SHAO SIQI / order 6217",  # no Chinese name beside it
    ],
)
def test_no_pinyin_name(text: str) -> None:
    assert not any(name.isascii() for name in _people(text))


def test_a_wordlike_first_name_is_not_echoed() -> None:
    text = "Cc: Will Turner\nWill you check the invoice?"
    people = [f for f in detect(text) if f.entity == "PERSON"]
    assert list(find_lone_given_names(text, people)) == []
