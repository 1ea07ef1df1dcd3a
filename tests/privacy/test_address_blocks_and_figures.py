"""Blocks with no place before them, figures after a region, venues and towns talked
about are no addresses; pieces of one address are one finding.

The classes come from the false addresses of batches 20 and 21; the strings are new.
"""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def found(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "ADDRESS"]


@pytest.mark.parametrize(
    "text",
    [
        # A block and its stairwell, no place before it and no home cue.
        "5号楼3单元的电梯又停了",
        # A building's name and a floor: an office or a meeting place.
        "培训在行政大楼C座3层大会议室",
        "地点：综合楼A座6层",
        # A number inside what reads as a road's name (a block, then 路灯).
        "刘阿姨说8号楼后面路灯不亮",
        # A region's name and a figure after it.
        "华东区 87.5%，西北区 112.3%，其余持平",
        # A town or a venue mentioned in passing.
        "那家模具厂在佛山北滘镇，规模不小",
        "颁奖典礼在市体育中心南广场举行",
        # A gate of a park (号门 is no house number), a count or a year after a place.
        "大家周日在植物园2号门集合",
        "无锡新吴区 2022 年 GDP 增长",
        "湖南省 2025 年高考报名人数",
        # A province, words, then an estate or a number: no block of that place.
        "一封封来自浙江省内各大专院校贫困女大学生的来信",
        "深圳航空公司1234号航班延误",
    ],
)
def test_no_address(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # A flat (block, stairwell, room) is a home even with nothing before it.
        ("隔壁 3 栋 1 单元 1102 在装修", "3 栋 1 单元 1102"),
        # A district, a name no part reads, then its blocks.
        ("维修：海淀区万柳东路小区5号楼2单元301", "海淀区万柳东路小区5号楼2单元301"),
        ("报修：西城区新街口北里3号楼1单元202 水管漏水", "西城区新街口北里3号楼1单元202"),
        # An estate read from a shorter one (城 ends a name) and a 号楼 block after it.
        (
            "送到 成都市武侯区天府大道北段1700号环球城中心7号楼2203",
            "成都市武侯区天府大道北段1700号环球城中心7号楼2203",
        ),
        # A person placed there: where someone works is about them.
        ("她在苏州市工业园区上班", "苏州市工业园区"),
        # A named building's room: one door.
        ("面试在华润大厦B座1708", "华润大厦B座1708"),
        # A home cue keeps blocks alone.
        ("快递放到 6号楼2单元 门口", "6号楼2单元"),
    ],
)
def test_address(text: str, address: str) -> None:
    assert found(text) == [address]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # A US suite before the street, the state and its ZIP code after it.
        (
            "Please bill Suite 210, 455 Market Street, San Francisco, CA 94105 from now on.",
            "Suite 210, 455 Market Street, San Francisco, CA 94105",
        ),
        # A street with no kind word before a postcode grouped 3 + 2 and its town.
        ("Deliver to Vinohradská 12, 120 00 Praha 2 please", "Vinohradská 12, 120 00 Praha 2"),
        # An Australian state and postcode after the town.
        (
            "Level 3, 100 King Street, Melbourne VIC 3000",
            "Level 3, 100 King Street, Melbourne VIC 3000",
        ),
        # Pieces that only a comma stands between: a building and its street.
        (
            "Office: Tower 1, Pacific Place, 88 Harcourt Road, Admiralty",
            "1, Pacific Place, 88 Harcourt Road, Admiralty",
        ),
    ],
)
def test_english_address(text: str, address: str) -> None:
    assert found(text) == [address]


@pytest.mark.parametrize(
    "text",
    [
        "Windows 10, 2004 Update broke the driver",  # a four-digit number reads as a year
        "see Chapter 12, 110 00 Praha 1 in the guide",  # a unit's or a book's word
    ],
)
def test_no_english_address(text: str) -> None:
    assert found(text) == []
