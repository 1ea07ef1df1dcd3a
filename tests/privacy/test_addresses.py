"""Postal addresses: one address is one finding, however its pieces are written."""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def addresses(text: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == "ADDRESS"]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # An estate with no estate word between the number and the building.
        ("快递放到杭州市滨江区江南大道288号星耀城C2栋门口", "杭州市滨江区江南大道288号星耀城C2栋"),
        ("寄到成都市高新区天府三街99号腾讯大厦B座3楼", "成都市高新区天府三街99号腾讯大厦B座3楼"),
        # A comma inside one address.
        ("地址：北京市海淀区, 中关村南大街5号", "北京市海淀区, 中关村南大街5号"),
        # A two-character gap that holds a function word (丰和, 和平).
        ("寄往沈阳市和平区北京街12号", "沈阳市和平区北京街12号"),
        # A road with a direction section, and two roads crossing.
        ("住在西安市雁塔区长安路南段66号", "西安市雁塔区长安路南段66号"),
        ("在长春市朝阳区人民大街与解放大路交叉口东北角", "长春市朝阳区人民大街与解放大路交叉口"),
        # The word before a city's name is no part of it.
        ("麻烦改成杭州市西湖区文二路55号", "杭州市西湖区文二路55号"),
    ],
)
def test_one_address_is_one_finding(text: str, address: str) -> None:
    assert addresses(text) == [address]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "北京市朝阳区建国路1号，上海市黄浦区南京东路2号",
            ["北京市朝阳区建国路1号", "上海市黄浦区南京东路2号"],
        ),
        ("仓库：中山路18号，人民路20号", ["中山路18号", "人民路20号"]),
        (
            "发货 太原市迎泽区并州路10号\n收货 济南市市中区经四路3号",
            ["太原市迎泽区并州路10号", "济南市市中区经四路3号"],
        ),
    ],
)
def test_two_addresses_stay_two(text: str, expected: list[str]) -> None:
    assert addresses(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "要搞好文明小区，也要建设农民新村",  # two estates after a comma, no address before
        "从3号换到11楼去了",  # a number and a floor joined by a verb
        "城市和乡村都在变",
    ],
)
def test_pieces_that_are_no_address_stay_apart(text: str) -> None:
    assert addresses(text) == []


def test_an_unread_word_does_not_join_two_places() -> None:
    assert addresses("河北省重点建设项目石家庄机场跑道开工") != ["河北省重点建设项目石家庄机场跑道"]


def test_autonomous_county() -> None:
    assert addresses("寄到湖北长阳土家族自治县龙舟坪镇") == ["湖北长阳土家族自治县龙舟坪镇"]


def test_a_bed_number_before_a_name_is_no_address() -> None:
    assert addresses("病房3 床位12 患者苑某") == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (
            "Ship it to 8 Rue de Rivoli, 75004 Paris, France.",
            "8 Rue de Rivoli, 75004 Paris, France",
        ),
        ("Adresse: Lindenstraße 14, 50674 Köln", "Lindenstraße 14, 50674 Köln"),
        ("Office: Frankfurter Allee 3, 10247 Berlin", "Frankfurter Allee 3, 10247 Berlin"),
        ("Our shop is at Via Garibaldi 7, Torino", "Via Garibaldi 7, Torino"),
        ("Prinsengracht 263, 1016 GV Amsterdam", "Prinsengracht 263, 1016 GV Amsterdam"),
    ],
)
def test_continental_street_addresses(text: str, address: str) -> None:
    assert addresses(text) == [address]


@pytest.mark.parametrize(
    "text", ["During 2024 sales grew", "Take the highway 5 times", "Via email 3 times a day"]
)
def test_no_continental_address_in_plain_english(text: str) -> None:
    assert addresses(text) == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # Spaces typed between Han and numbers ("pangu spacing") are inside one address.
        (
            "快递寄到南京市鼓楼区中山北路 301 号金陵大厦 16 楼",
            "南京市鼓楼区中山北路 301 号金陵大厦 16 楼",
        ),
        ("住在长沙市岳麓区麓山南路 88 号 5 栋 1203 室", "长沙市岳麓区麓山南路 88 号 5 栋 1203 室"),
        ("开会地点：紫荆大厦 B 座 2208", "紫荆大厦 B 座 2208"),
        ("钥匙在9 栋 3 单元 602，物业代收", "9 栋 3 单元 602"),
        # 都 inside an estate's name (大都会) does not cut the address.
        (
            "发到青岛市市南区香港中路 36 号新都会广场 8 楼",
            "青岛市市南区香港中路 36 号新都会广场 8 楼",
        ),
    ],
)
def test_spaces_between_han_and_numbers(text: str, address: str) -> None:
    assert addresses(text) == [address]


def test_a_phone_number_glued_by_spaces_is_no_road_name() -> None:
    # A long digit run keeps its spaces: 13912345678 广州市 is no road "…678广州市…".
    assert addresses("寄给 13912345678 广州市天河区体育西路 9 号") == ["广州市天河区体育西路 9 号"]
