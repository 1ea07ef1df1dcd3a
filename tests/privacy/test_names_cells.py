"""Names in a table column whose other cells are found names (names_cells)."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def _people(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # Given names that are words (方圆, 卓越, 尚可) in the column of found names.
        ("方圆,行政,已签到\n夏雪,法务,未签到\n金鑫,财务,已签到", ["方圆", "夏雪", "金鑫"]),
        ("聚餐\n卓越,AA\n柏雪松,AA\n廖佳慧,AA", ["卓越", "柏雪松", "廖佳慧"]),
        ("日期\t姓名\n2024-03-01\t尚可\n2024-03-02\t滕飞", ["尚可", "滕飞"]),
    ],
)
def test_cells_in_a_name_column(text: str, names: list[str]) -> None:
    assert _people(text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # Header rows: of another kind than the row below (车主 over a name, 车牌 over a
        # plate), or Han cells where the column's cell ends like a role noun (店长).
        (
            "车牌\t车主\t车位\n粤B7Q2M8\t钟伟杰\tB-117\n苏E5G8K1\t虞晓峰\tB-118",
            ["钟伟杰", "虞晓峰"],
        ),
        ("城市\t门店\t店长\n杭州\t湖滨银泰\t厉佳慧\n宁波\t天一广场\t项明", ["厉佳慧", "项明"]),
        # Another column's words are no names (销售部, 在职).
        ("张伟,销售部,在职\n王芳,市场部,离职", ["张伟", "王芳"]),
    ],
)
def test_headers_and_other_columns_are_left(text: str, names: list[str]) -> None:
    assert _people(text) == names
