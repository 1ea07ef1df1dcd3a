"""Readings no name finder may return (names_veto): time words, forms of address,
cuts after a function word, readings inside a company's name, a list of places;
and the names beside them that must still be found."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect
from plinth.privacy.findings import Finding
from plinth.privacy.names_veto import vet, vetoed


def _people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


def _reading(text: str, word: str) -> Finding:
    start = text.index(word)
    return Finding("PERSON", start, start + len(word), word)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("年会定在1月17日（周五）晚6点", "周五"),  # a weekday
        ("班主任: 明天早上7:40到校", "明天早"),  # a time word and a part of the day
        ("| 11/4 周一 | 逄立平 |", "周一"),
        ("租客: 阿姨，合同上写的是物业费由甲方承担", "阿姨"),  # a vocative
        ("顾客: 工商银行卡，开户名邹建华", "顾客"),  # a speaker's label
        ("方案不错，但施工队要另外找", "但施工"),  # 但 | 施工
        ("老公: 那张卡余额不多了", "那张卡"),  # a demonstrative and a measure word
        ("原浦东外高桥仓的 3 号库整体迁往嘉定", "原浦东"),
        ("客户：宁波海纳进出口有限公司", "宁波海"),  # a city leads the company's name
        ("深圳市前海云帆供应链管理有限公司", "海云帆"),  # 市 before it in the run
        ("因台风影响，福州、宁德、莆田三地网点暂停揽收", "宁德"),  # beside a city in a list
    ],
)
def test_vetoed(text: str, word: str) -> None:
    assert vetoed(text, _reading(text, word))
    assert word not in _people(text)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("周一鸣明天下午到", "周一鸣"),  # a weekday starts the name, but more follows
        ("找明亮确认一下", "明亮"),
        ("那日苏下周回呼和浩特", "那日苏"),  # 那 as a surname, no word after it
        ("都敏说下午开会", "都敏"),
        ("李志坚为维宝光盘有限公司题词", "李志坚"),  # a clause between name and company
        ("顾雏军创办的绿冷集团", "顾雏军"),
        ("1,吴昊,北京,上午场", "吴昊"),  # a CSV cell beside a city: no 、 list
        ("周阿姨明天来打扫", "周阿姨"),  # a surname and a form of address is a person
    ],
)
def test_kept(text: str, word: str) -> None:
    assert not vetoed(text, _reading(text, word))


def test_vet_keeps_other_entities() -> None:
    text = "周五 13800138000"
    kept = [Finding("CN_MOBILE", 3, 14, "13800138000")]
    assert vet(text, [_reading(text, "周五"), *kept]) == kept


def test_names_beside_vetoed_words_still_found() -> None:
    table = "| 日期 | 值日家长 |\n| --- | --- |\n| 11/4 周一 | 逄立平 |\n| 11/5 周二 | 韦春燕 |"
    assert _people(table) == ["逄立平", "韦春燕"]
    assert "邹建华" in _people("顾客: 工商银行卡，开户名邹建华")


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("学生：扎西顿珠  班级：高二(4)班", "高二"),  # a school grade
        ("B2-09\t空置\t-\t-", "空置"),  # an empty cell
        ("【平安好医生】验证码 482913，5分钟内有效", "平安好医生"),  # an SMS sender's tag
    ],
)
def test_field_words_and_sender_tags_vetoed(text: str, word: str) -> None:
    assert vetoed(text, _reading(text, word))


def test_name_in_an_sms_is_kept() -> None:
    text = "【顺丰速运】快递员张建华 13800138000 正在派送"
    assert "张建华" in _people(text)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        # A person listed beside one named like a city (金华): the scored model takes 王芳
        # with a margin on its own; 宁德 beside 福州 (above) it does not.
        ("参会人员：金华、王芳、李明。", "王芳"),
        ("抄送：王芳、金华", "王芳"),
        # A person's verb after the name, then a company word: no company's name.
        ("杭州市民王芳起诉集团要求赔偿", "王芳"),
        ("市长李明调研股份制改革", "李明"),
        ("浙江省消保委王芳表示集团应当退款", "王芳"),
        # A form's field or a self-introduction before 那/原/都: a surname, not a cut.
        ("负责人：那家伟", "那家伟"),
        ("联系人：那家豪", "那家豪"),
        ("收件人：原文华", "原文华"),
        # 周天 and a given character that is no part of the day's word (中 not before 午).
        ("值班：周一鸣、周五洲、周天中", "周天中"),
    ],
)
def test_names_the_vetoes_once_dropped(text: str, word: str) -> None:
    assert not vetoed(text, _reading(text, word))
    assert word in _people(text)


def test_a_place_anywhere_before_a_company_reading() -> None:
    # 宁波 inside the run before the reading (no 市 or 省): a place leads the company's name.
    text = "客户：宁波前海云帆供应链管理有限公司"
    assert vetoed(text, _reading(text, "海云帆"))
    no_place = "客户：前海云帆供应链管理有限公司"
    assert not vetoed(no_place, _reading(no_place, "海云帆"))
