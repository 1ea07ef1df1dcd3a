"""Names in a table column whose header means a person."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect
from plinth.privacy.names_columns import means_a_person


def people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


@pytest.mark.parametrize(
    "header",
    ["姓名", "学员姓名", "联系人", "经办人", "操作员", "参与者", "户主", "Owner", "Full Name"],
)
def test_headers_that_mean_a_person(header: str) -> None:
    assert means_a_person(header)


@pytest.mark.parametrize("header", ["品牌", "人数", "金额", "Product Name", "City", "车牌"])
def test_headers_that_do_not(header: str) -> None:
    assert not means_a_person(header)


def test_a_markdown_table_with_a_padded_header() -> None:
    # Spaces inside the pipes and a |---| row: every cell of the column is a name,
    # one with a surname the gazetteer does not hold as well.
    text = "| 序号 | 姓名 | 部门 |\n|---|---|---|\n| 1 | 郭子航 | 财务 |\n| 2 | 佘立 | 行政 |"
    assert people(text) == ["郭子航", "佘立"]


def test_a_tab_table_under_an_owner_header() -> None:
    text = "房号\t面积\t户主\n3-101\t89\t郗远\n3-102\t92\t蔺悦"
    assert people(text) == ["郗远", "蔺悦"]


def test_a_column_of_words_or_a_table_without_such_header_holds_no_names() -> None:
    assert people("负责人,进度\n待定,50%\n暂无,0%") == []
    assert people("| 店铺 | 楼层 |\n| 海底捞 | 5F |\n| 喜茶 | 1F |") == []


def test_a_line_with_another_number_of_cells_ends_the_table() -> None:
    assert people("联系人,电话\n郗远,1\n\n说明：以上信息,周末更新,请核对") == ["郗远"]
