"""Two kinds of address given with no house number and no place before them, found
before today's cue rules and dropped by them (review of address_cues):

- a block's number and a door's (12号楼1203, 3号楼502): a flat, the number of a home
  given to a courier or a visitor; a block with only its stairwell or a floor
  (5号楼3单元, A座12楼) stays none (test_address_blocks_and_figures);
- a road after a shipping or a visit word (发到, 发货到, 发顺丰到, 上门到, 定位：): where
  something is sent or someone is to come, as after 寄 or 送.
"""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def found(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "ADDRESS"]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("明天来12号楼1203找我", "12号楼1203"),
        ("我在3号楼502", "3号楼502"),
        ("发到上海市徐汇区漕溪北路", "上海市徐汇区漕溪北路"),
        ("发货到广州市天河区天河路", "广州市天河区天河路"),
        ("麻烦发顺丰到杭州市西湖区文一西路", "杭州市西湖区文一西路"),
        ("请上门到南京市鼓楼区中山路", "南京市鼓楼区中山路"),
        ("定位：上海市静安区南京西路", "上海市静安区南京西路"),
    ],
)
def test_address(text: str, address: str) -> None:
    assert found(text) == [address]


@pytest.mark.parametrize(
    "text",
    [
        "培训在A座12楼",
        "5号楼3单元的电梯又停了",
        "上海市徐汇区漕溪北路今天很堵",
        "发展城市郊区生产与建设农区大基地",
    ],
)
def test_no_address(text: str) -> None:
    assert found(text) == []
