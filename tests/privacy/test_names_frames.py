"""Everyday-word names in frames only a person fills (names_frames): 跟X说, 让X把,
X请了假, X你过来; and the same words where the frame is missing or the reading is
another kind of person, a party or a cut word."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect
from plinth.privacy.names_frames import find_framed_names


def _people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


def _framed(text: str) -> list[str]:
    return [f.text for f in find_framed_names(text)]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("你去跟白云商量一下周末的安排", "白云"),  # an object, then a verb of speech
        ("麻烦让安宁把会议纪要再发一遍", "安宁"),  # 让 X 把 …
        ("记得给黄河打个电话确认时间", "黄河"),
        ("这事得请教一下高峰，他比较熟", "高峰"),  # a clause end and a pronoun
        ("派方圆去仓库盘点", "方圆"),
        ("秦川请了事假，明天不来", "秦川"),  # the subject of a leave
        ("昨天温暖请病假了", "温暖"),  # after a time word
        ("向阳你先把门关上", "向阳"),  # the one spoken to
        ("白云把钥匙带走了", "白云"),  # the subject of 把 / 负责 / 说, starting a clause
        ("会上定了：安宁负责对接客户", "安宁"),
        ("方圆今天说不来了", "方圆"),  # a time word between
    ],
)
def test_a_person_frame_takes_an_everyday_word(text: str, name: str) -> None:
    assert _framed(text) == [name]
    assert name in _people(text)


@pytest.mark.parametrize(
    "text",
    [
        "白云飘过山顶，安宁的小镇",  # the same words with no frame
        "这件事要跟房东说清楚",  # another kind of person (a cue word)
        "我去跟公司说一下报销的事",  # an organisation: too common a word, G < 0
        "你跟商家说换个颜色",  # a shop: 家 ends no given name
        "有问题就跟顾客说明原因",  # 说明 is no verb of speech here, 客 ends no name
        "记得给司机打电话",  # a title
        "请明天把报告交上来",  # a time word
        "退休和申请病假都要审批",  # the reading would cut 申请
        "谢谢你们的支持，谢谢你！",  # 你 as an object
        "他和周恩来都去了",  # 和 joins two nouns; 来 alone is no frame
        "时间把一切都冲淡了",  # a word of unlike characters as the subject
        "项目由高山负责人审批",  # 负责人 is a noun
    ],
)
def test_no_frame_or_no_name(text: str) -> None:
    assert _framed(text) == []


def test_a_word_across_the_left_edge_blocks_the_reading() -> None:
    # 天文 crosses 今天|文静: the frame cannot tell which word the text meant.
    assert _framed("今天文静请病假") == []


def test_a_conjunction_before_a_name_is_no_surname() -> None:
    # 但 is a surname too; the clause starts with the conjunction, then the name.
    assert _people("他想回家，但王飞说不行") == ["王飞"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("这是我们部门的同事江涛，做后端的", ["江涛"]),  # after a cue, before a clause end
        ("我同事高山在楼下等你", ["高山"]),  # before a word a person is followed by
        ("恭喜以下同事晋升：", []),  # a colon makes the reading a label
        ("让我们同事都满意", []),  # 都 is a function word before the reading
    ],
)
def test_an_everyday_word_surname_after_a_cue(text: str, names: list[str]) -> None:
    assert _people(text) == names
