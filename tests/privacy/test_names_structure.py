"""Names found from general signals rather than cue words: rare surnames, the other
items of a list, 老X / 小X, transliterated names without a dot, and the words that
look like names but are not (班主任, 东方树叶). Cases of their own, not from the
evaluation files; every test runs the whole detector."""

from __future__ import annotations

import time

import pytest

from plinth.privacy import names_lists
from plinth.privacy.detectors import detect
from plinth.privacy.findings import Finding
from plinth.privacy.names_lists import find_listed_names
from plinth.privacy.names_surnames import RARE_SURNAMES, SURNAMES


def people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


def test_rare_surnames_join_the_common_ones() -> None:
    assert {"禤", "笪", "缑", "厍", "隗"} <= RARE_SURNAMES <= SURNAMES


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('{"owner":"笪文博","status":"open"}', "笪文博"),
        ("level=INFO operator=缑志明 action=refund", "缑志明"),
        ("审核人：禤丽华", "禤丽华"),
        ("隗建军明天到岗", "隗建军"),
    ],
)
def test_a_rare_surname_is_enough_where_a_person_may_stand(text: str, name: str) -> None:
    assert people(text) == [name]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # the last item, at the end of the text; 白露 is also a solar term
        ("本周值班：韦国庆、白露、尤一鸣", ["韦国庆", "白露", "尤一鸣"]),
        # the last item followed by more text: cut where 的 begins
        ("通知莫晓燕、邱明可、查一宁的家长", ["莫晓燕", "邱明可", "查一宁"]),
        ("晚上约了卢静怡和沙溢在吃饭", ["卢静怡", "沙溢"]),
    ],
)
def test_the_other_items_of_a_list_of_names(text: str, names: list[str]) -> None:
    assert people(text) == names


@pytest.mark.parametrize(
    "text",
    [
        "张伟、李娜、高速公路都提到了",  # 高速 is a word, whatever its neighbours
        "王芳，明天来一趟",  # a comma joins clauses too
    ],
)
def test_a_word_in_a_list_is_no_name(text: str) -> None:
    found = people(text)
    assert "高速" not in found and "明天" not in found


@pytest.mark.parametrize(
    ("text", "name"), [("老鲍又迟到了", "老鲍"), ("让小谭先把表填好", "小谭"), ("问问老杨", "老杨")]
)
def test_old_and_little_before_a_surname(text: str, name: str) -> None:
    assert people(text) == [name]


@pytest.mark.parametrize("text", ["小康生活", "老胡同里很安静", "小时候住在这里", "小米手机"])
def test_old_and_little_words_are_no_names(text: str) -> None:
    assert people(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("喂，老马啊，晚上一起吃饭", "老马"),  # a vocative particle after the name
        ("大陈，明天你值早班", "大陈"),
        ("大孔：我在北门等你们", "大孔"),
        ("大邹你到哪了？", "大邹"),
    ],
)
def test_called_and_big_before_a_surname(text: str, name: str) -> None:
    assert people(text) == [name]


@pytest.mark.parametrize(
    "text",
    [
        "大胡子来了",  # 胡子 is a word
        "大宋的皇帝很多",  # a dynasty
        "大王叫我来巡山",  # jieba counts 大王
        "这个大方案还没定",  # 大 inside a clause, 方 an everyday word
        "很大陈列馆",  # 大 ends a word before it: no clause start
    ],
)
def test_big_words_are_no_names(text: str) -> None:
    # Other detectors' readings of the rest (来巡山) are not this test's business.
    assert not any("大" in name for name in people(text))


def test_ah_and_a_transliteration_character() -> None:
    # 杰 spells foreign words too (杰克逊): 阿杰 is a name where the clause ends after it.
    assert people("有问题找我们技术阿杰，他微信就是手机号") == ["阿杰"]
    assert people("阿尔及利亚的首都") == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("那个欧阳总的报价你看了没", "欧阳总"),
        ("您好 上官老师，", "上官老师"),
        ("问问司徒经理", "司徒经理"),
    ],
)
def test_compound_surname_and_title(text: str, name: str) -> None:
    assert people(text) == [name]


def test_compound_surname_before_a_word_is_no_title() -> None:
    assert people("欧阳总是迟到") == []  # 总是 (always), not 总 the title


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("阿依古丽今天请假", "阿依古丽"),
        ("努尔江·哈力克下周回来", "努尔江·哈力克"),
        ("给额尔敦巴雅尔订一张机票", "额尔敦巴雅尔"),
    ],
)
def test_transliterated_names(text: str, name: str) -> None:
    assert people(text) == [name]


@pytest.mark.parametrize(
    "text",
    [
        "我在布达佩斯转机",  # a place after 在
        "晚上不加班了",  # everyday characters, however often in foreign names
        "说得特别特别不容易",  # a run of transliteration characters that are words
        "班主任让家长签字",  # 班 + 主任 is one word
        "东方树叶卖完了",  # 东方 starts words far more often than names
        "宣传工作是中心",  # 工 is a title (王工) but starts 工作 here
        "省文化厅助理出席",  # 厅 ends an office's name, no given name
        "中国体育记者协会",  # 国 ends 中国: no surname before 记者
    ],
)
def test_look_alikes_are_no_names(text: str) -> None:
    assert people(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('{"consignee":"于和伟","qty":2}', "于和伟"),  # 和 alone would end a name
        ("2026-01-02 INFO user=魏来 action=login", "魏来"),  # 魏来 reads as 未来
        ('{"assignedTo": "田志刚"}', "田志刚"),
    ],
)
def test_a_field_whose_key_means_a_person(text: str, name: str) -> None:
    assert people(text) == [name]


@pytest.mark.parametrize("text", ['{"owner":"华为"}', '{"team":"王者荣耀"}', "city=成都"])
def test_other_fields_hold_no_names(text: str) -> None:
    assert people(text) == []


def test_a_compound_surname_that_is_no_word_still_needs_no_cue() -> None:
    assert people("欧阳娜娜下午到") == ["欧阳娜娜"]


def test_an_english_given_name_that_is_a_word_mid_sentence() -> None:
    assert people("Please loop in Grace Kim from legal.") == ["Grace Kim"]
    assert people("Grace Kim called.") == []  # at a sentence's start: no cue, no name


def _listed_cpu(items: int) -> tuple[float, int]:
    text = "王芳、" * items
    first = [Finding("PERSON", 0, 2, "王芳")]
    started = time.process_time()
    found = list(find_listed_names(text, first))
    return time.process_time() - started, len(found)


def test_a_long_list_of_names_is_taken_in_linear_time() -> None:
    # Each listed item was tested for overlap against every item taken before it: a
    # 200 KB list cost minutes. Ten times the items may cost about ten times the CPU
    # (a quadratic walk costs a hundred times); the bound leaves room for a loaded machine,
    # and the least of three runs of each size keeps a GC pause or a preemption out of it.
    small = min(_listed_cpu(2_000) for _ in range(3))
    large = min(_listed_cpu(20_000) for _ in range(3))
    assert (small[1], large[1]) == (1_999, 19_999)
    assert large[0] < 40 * max(small[0], 0.005), (small[0], large[0])


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # A surname that is also a word (车, 项, 关) after 老 at a clause's start.
        ("老车说今晚加班", ["老车"]),
        ("分工：老项跟进合同", ["老项"]),
        ("老关又迟到了", ["老关"]),
        ("老钱明天请假", ["老钱"]),
    ],
)
def test_familiar_names_with_wordlike_surnames_at_a_clause_start(
    text: str, names: list[str]
) -> None:
    assert [f.text for f in detect(text) if f.entity == "PERSON"] == names


@pytest.mark.parametrize("text", ["周末奔小康", "小白菜多少钱一斤", "小康住宅推荐产品"])
def test_familiar_look_alikes_inside_a_phrase(text: str) -> None:
    assert [f.text for f in detect(text) if f.entity == "PERSON"] == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("阿芬你下班了吗", ["阿芬"]),
        ("会议改到三点，山本さん也参加", ["山本"]),
    ],
)
def test_ah_names_and_japanese_honorifics(text: str, names: list[str]) -> None:
    assert [f.text for f in detect(text) if f.entity == "PERSON"] == names


@pytest.mark.parametrize(
    "text",
    ["阿姨今天不来了", "阿尔及利亚发生地震", "皆さん、おはようございます", "店員さんに聞いた"],
)
def test_ah_words_and_honorifics_after_no_name(text: str) -> None:
    assert [f.text for f in detect(text) if f.entity == "PERSON"] == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("参会：邵雨辰、Kevin、鲍晓婷", ["邵雨辰", "Kevin", "鲍晓婷"]),
        ("邵雨辰 Kevin 鲍晓婷 周日去爬山", ["邵雨辰", "Kevin", "鲍晓婷"]),
    ],
)
def test_a_latin_given_name_listed_beside_chinese_names(text: str, names: list[str]) -> None:
    assert [f.text for f in detect(text) if f.entity == "PERSON"] == names


def test_a_latin_word_that_is_no_given_name_beside_a_name() -> None:
    assert [f.text for f in detect("邵雨辰 Python 写得不错") if f.entity == "PERSON"] == ["邵雨辰"]


def test_a_list_of_found_names_is_not_scored_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every item of 、廖华、廖华… is found by the name finders already: scoring their
    # neighbours again (each one taken) was half of this stage's cost on a 2 KB list.
    calls = 0
    score = names_lists._score

    def counted(text: str, start: int, end: int) -> float | None:
        nonlocal calls
        calls += 1
        return score(text, start, end)

    monkeypatch.setattr(names_lists, "_score", counted)
    assert people("、廖华" * 200) == ["廖华"] * 200
    assert calls == 0
    # A neighbour no other finder found is still scored, and taken.
    assert people("张伟和白露在排练") == ["张伟", "白露"]
    assert calls == 1
