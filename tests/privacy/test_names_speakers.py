"""A given name alone as a chat's speaker label (names_familiar): 晓燕: at a line's
start in a text with two such labels at least; not a word (客服, 家长), not a noun for
a person (群友), not a one-line headline (承德：…)."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def _people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("晓丽：今晚加班吗？\n阿杰：要，明早之前要装订好\n晓丽：那我订两份外卖", "晓丽"),
        ("姐妹群 阿敏: 谁有靠谱的月嫂推荐？\n晓燕: 我家那个阿姨挺好的\n晓燕: 去年的价", "晓燕"),
        ("涛哥：周六打球吗？\n小芳：去，几点", "涛哥"),  # pet names as labels
        ("涛哥：周六打球吗？\n小芳：去，几点", "小芳"),
    ],
)
def test_speaker_given_names_found(text: str, name: str) -> None:
    assert name in _people(text)


@pytest.mark.parametrize(
    "text",
    [
        "客服: 您好，请问有什么可以帮您？\n家长：孩子今天请假",  # words of jieba's
        "群友: 好的\n室友：收到",  # nouns for a person
        "承德：科技良种作年礼",  # one label: a headline
        "胖哥：在吗\n大哥：在的",  # no name character before 哥; a word
    ],
)
def test_no_speaker_given_name(text: str) -> None:
    assert _people(text) == []
