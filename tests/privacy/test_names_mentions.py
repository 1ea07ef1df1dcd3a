"""Chat mentions, one-person field keys, things listed beside a reading, English
place words, and a word that crosses a surname (names_fields, names_zh_scored,
names_en, names_zh_uncued)."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def _people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("@Grace @春雨 周报今天交一下", ["Grace", "春雨"]),
        ("@Kevin李 发票开好了吗", ["Kevin李"]),
        ("@所有人 明天九点开会", []),  # a group
        ("@管理员 请处理一下，@客服 在吗", []),  # roles and a service
        ("发到 li.ming@qq.com 就行", []),  # an e-mail, no mention
    ],
)
def test_mentions(text: str, names: list[str]) -> None:
    assert _people(text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # Under a key for one person, a word of name characters is a given name.
        ("INFO checkin ok user=平安 device=iPhone15", ["平安"]),
        ('{"task":"接机","driver":"海燕","flight":"CA1502"}', ["海燕"]),
        # Not for words of other characters, nor under a key an organisation may fill.
        ("INFO login user=游客 action=view", []),
        ('{"owner":"华为","status":"ok"}', []),
    ],
)
def test_one_person_keys(text: str, names: list[str]) -> None:
    assert _people(text) == names


def test_a_list_of_things_holds_no_names() -> None:
    assert _people("买菜清单：黄瓜、毛豆、白菜、陈皮、冬瓜") == []


def test_english_place_words_end_no_name() -> None:
    assert _people("What's the fastest route from Washington Square to Penn Station?") == []
    assert _people("Please call Jane Park tomorrow.") == ["Jane Park"]


def test_a_common_word_across_the_surname() -> None:
    assert _people("要不要去天门山看看") == []


def test_latin_names_as_quoted_values_of_person_keys() -> None:
    assert _people('{"contact_person": "Lim Wei Jie", "country": "MY"}') == ["Lim Wei Jie"]
    assert _people('waybill=JT30572 consignee="Nguyen Thi Hoa" dest="HCMC"') == ["Nguyen Thi Hoa"]
    assert _people('{"company": "Acme Corp", "owner": "Blue Ocean Ltd"}') != ["Blue Ocean Ltd"]


def test_two_minority_name_parts_need_no_boundary() -> None:
    assert _people("藏族同事次仁曲珍和扎西尼玛下周回拉萨") == ["次仁曲珍", "扎西尼玛"]
    assert _people("扎西德勒！草原上开满了格桑花") == []


def test_a_form_of_address_listed_beside_names() -> None:
    assert _people("来帮忙的：大刘、小潘、阿强，记得请吃饭") == ["大刘", "小潘", "阿强"]
    assert _people("大家、小王都到了") == ["小王"]


def test_two_given_names_make_a_name() -> None:
    assert _people("Meeting w/ Ahmed Farouk re: lease renewal") == ["Ahmed Farouk"]
    assert _people("Is Jordan Brand owned by Nike?") == []


def test_a_pet_name_given_by_oneself() -> None:
    assert _people("妈，我是小雨，换号了") == ["小雨"]
    assert _people("我是小白，请问怎么安装") == []  # 白 is no name's character
    assert _people("我是小学生") == []
