"""The scored decision for names with no cue word (``names_zh_scored``) and English
First Last pairs from the given-name and surname lists (``names_en``). Cases of
their own, not from the evaluation files."""

from __future__ import annotations

import pytest

from plinth.privacy import names_zh_scored as scored
from plinth.privacy.detectors import detect


def people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("昨晚撞见褚明辉在加班", "褚明辉"),  # after a verb no list names (撞见)
        ("记得提醒骆佳琪带伞", "骆佳琪"),
        ("这份材料交由符晓峰审核", "符晓峰"),
        ("周会请邬雅婷主持", "邬雅婷"),
        ("我和娄志刚是同学", "娄志刚"),
        ("车钥匙在聂思远那里", "聂思远"),
        ("上周末陪伍嘉琳逛了商场", "伍嘉琳"),
    ],
)
def test_a_name_with_no_cue_is_found(text: str, name: str) -> None:
    assert people(text) == [name]


def test_a_one_character_given_name_in_a_list() -> None:
    assert people("名单：覃海波、蒲晓琳、岑东") == ["覃海波", "蒲晓琳", "岑东"]


@pytest.mark.parametrize(
    "text",
    [
        "黄金周去哪玩",  # 黄金 swallowed
        "他和健康的人一样",  # 和 is a conjunction far more often than a surname
        "向大家汇报一下进度",
        "明天早上到公司",
        "高速公路堵车",
        "于是我们就出发了",
        "他家在蒋坝镇",  # a place, 镇 is no given-name character
        "这张桌子有点晃",  # 这张 holds the surname 张
        "相当于两个月的工资",
    ],
)
def test_everyday_words_are_no_names(text: str) -> None:
    assert people(text) == []


def test_a_competing_word_lowers_the_score() -> None:
    name = scored.best_reading("黄敏来了", 0)
    word = scored.best_reading("黄金来了", 0)
    assert name is not None and name[0] >= scored.THRESHOLD
    assert word is None or word[0] < scored.THRESHOLD


def test_a_function_word_surname_needs_more_evidence() -> None:
    """Same given name and context; 和 is mostly a conjunction, 贺 a surname."""
    conjunction = scored.features("我们和平安一起去", 2, 1, 2)
    surname = scored.features("我们贺平安一起去", 2, 1, 2)
    assert conjunction is not None and surname is not None
    position = scored.FEATURES.index("function-word surname")
    assert conjunction[position] > 0 == surname[position]
    assert scored.score_of(conjunction) < scored.score_of(surname)


def test_the_best_reading_prefers_a_boundary() -> None:
    """潘文博说: the three-character reading ends where a verb starts."""
    reading = scored.best_reading("潘文博说可以", 0)
    assert reading is not None and reading[1] == 3


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Yesterday Priya Raman joined the call.", ["Priya Raman"]),
        ("Notes taken by Ingrid Larsen", ["Ingrid Larsen"]),
        ("I met Carlos Mendoza at the airport", ["Carlos Mendoza"]),
        ("Please ask Zhang Wei to review.", ["Zhang Wei"]),  # pinyin, surname first
        ("Xiaoming Li joined today.", ["Xiaoming Li"]),
        # in a list, given names that are words too (Mark, Grace) count
        (
            "Present: Amara Nwosu, Mark Thompson and Grace Okafor.",
            ["Amara Nwosu", "Mark Thompson", "Grace Okafor"],
        ),
    ],
)
def test_english_full_names_with_no_cue(text: str, names: list[str]) -> None:
    assert people(text) == names


@pytest.mark.parametrize(
    "text",
    [
        "Victoria Station is closed today.",
        "The Jordan River flows south.",
        "Grace Hopper invented COBOL",  # Grace is a word too, and no list here
        "Mark the ticket as resolved.",
        "Feng Shui tips for the office",  # pinyin-shaped, but a word
        "The Long Run",  # a title: three capitalised words
    ],
)
def test_english_capitalised_words_that_are_no_names(text: str) -> None:
    assert people(text) == []


def test_a_particle_before_a_name_is_weak_context() -> None:
    # 的 ends a phrase ("the one upstairs"), so a person may stand next: with the
    # role word after, 仲建平 reaches the threshold.
    assert [f.text for f in detect("楼上的仲建平老人") if f.entity == "PERSON"] == ["仲建平"]


def test_a_role_word_too_rare_for_the_tables_is_strong_context() -> None:
    # 搬运工 is rare in jieba's counts, but 工 ends a role: a person may stand next.
    assert [f.text for f in detect("搬运工宫小军下午到") if f.entity == "PERSON"] == ["宫小军"]
    # 人 and kin characters end other words too (给人, 哥白尼): no strong context.
    assert [f.text for f in detect("感觉给人安静祥和") if f.entity == "PERSON"] == []
