"""Third address round (issue 14, batches 22 and 23 read): Shanghai lanes, communities,
times, rooms, lines, shops, venues, Hong Kong flats and labelled North American phones.

Every string is written here, not taken from a batch: each case is a class of text the
detector got wrong (``found`` must be found whole, ``absent`` must not be an address).
"""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def _found(text: str, entity: str = "ADDRESS") -> list[str]:
    return [f.text for f in detect(text) if f.entity == entity]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # 弄 is a Shanghai lane: the house number after it is the road's.
        ("师傅，闵行区莘庄镇莘松路380弄7号 这边搬家", "闵行区莘庄镇莘松路380弄7号"),
        ("寄到上海市普陀区曹杨路1040弄3号502室", "上海市普陀区曹杨路1040弄3号502室"),
        # A road whose name holds 和 (a word that also cuts a chain) under its district.
        ("派车去浦东新区和平路255弄2号取件", "浦东新区和平路255弄2号"),
        # 社区 between the street office and the road is one address, not two.
        (
            "收件地址,福建省泉州市丰泽区东海街道东星社区东滨路66号",
            "福建省泉州市丰泽区东海街道东星社区东滨路66号",
        ),
        (
            "宿舍在惠州市惠阳区淡水街道土湖社区开城大道北12号",
            "惠州市惠阳区淡水街道土湖社区开城大道北12号",
        ),
    ],
)
def test_addresses_found_whole(text: str, address: str) -> None:
    assert address in _found(text)


@pytest.mark.parametrize(
    "text",
    [
        # A time's minutes and a range of blocks are no room.
        "通知：明天9:30-17:30 本小区3-8栋停水，请提前储水。",
        "周六7:00-12:00 东区2-5幢电梯检修",
        # 号 before a meeting room, a hall, a metro line or a station is no house number.
        "评审会在研发中心大楼5层2号会议室，下午三点开始",
        "培训改在行政楼3楼1号报告厅",
        "坐地铁4号线体育馆站D口出来就到",
        "请在1号楼2层5号窗口取号",
        "住院部8楼12号床的家属请到护士站",
        # A business named after its place is its name, not an address.
        "| 1 | 东莞市虎门镇鑫达服装商行 | 92441900MA4W |",
        "供货方：佛山市南海区大沥镇宏发五金厂",
        "快件已到【杭州余杭区网点】，请保持电话畅通",
        # A road named in passing, a shop on it, after a count of shops.
        "这周逛了两家：淮海中路那家店人少，新天地的人多",
        # A road named after a village (中关村) or a village's roads in general, no number.
        "老王在中关村大街那边上班",
        "基本实现乡乡村村通公路",
        # The countryside (农村, 乡村) is no village, and a figure after a place no room.
        "要加大对贵州农村的投入",
        "西部地区农村电价偏高",
        "北京 88 家医院参加，朝阳区 250 户受益",
        # 一座 is a count, not block A.
        "当年县城东郊建起一座新桥",
        # 时期 is a period, not an estate's phase.
        "这是陆军学院时期的老照片",
        # What is on at a venue.
        "今晚8点在小区东门广场有露天电影放映，欢迎参加",
    ],
)
def test_places_talked_about_are_no_address(text: str) -> None:
    assert _found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        # A cue still makes a plain district and road an address, shop or not.
        "收货地址：杭州市余杭区文一西路，店里有人收",
        # A village is still an address, and its road after a cue.
        "寄到河北省保定市清苑区东闾乡南王庄村",
        "地址：山东省临沂市兰山区枣园镇大岭村东大街",
        # An estate's phase after its number.
        "地址：杭州市滨江区星耀城3期2幢1501",
        # A lane address after a time.
        "明早8:00-9:00 送到长宁区愚园路1088弄6号",
    ],
)
def test_cued_addresses_stay_found(text: str) -> None:
    assert _found(text)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (
            "Deliver to Flat 805, Block 3, Kornhill, Quarry Bay, Hong Kong before noon.",
            "Flat 805, Block 3, Kornhill, Quarry Bay, Hong Kong",
        ),
        (
            "Address: Room 12, 9/F, Tower 2, Metro Town, Tseung Kwan O, New Territories",
            "Room 12, 9/F, Tower 2, Metro Town, Tseung Kwan O, New Territories",
        ),
        (
            "She lives at Flat C, Block 11, Mei Foo Sun Chuen now.",
            "Flat C, Block 11, Mei Foo Sun Chuen",
        ),
    ],
)
def test_hong_kong_flats(text: str, address: str) -> None:
    assert address in _found(text)


def test_hong_kong_words_alone_are_no_address() -> None:
    assert _found("The Block 7 build failed twice in Kowloon last week.") == []
    assert _found("Flat rates apply to Hong Kong and Macau.") == []


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Name: Ava Brooks\nPhone: (312) 555-0147", "(312) 555-0147"),
        ("Tel. 617-555-0188 (office)", "617-555-0188"),
        ("Cell # 206.555.0123", "206.555.0123"),
        ("Main: +1 415 555 0100, Fax: (415) 555-0101", "(415) 555-0101"),
    ],
)
def test_labelled_north_american_numbers(text: str, phone: str) -> None:
    assert phone in _found(text, "INTL_PHONE")


@pytest.mark.parametrize(
    "text",
    [
        "Order 312-555-0147 shipped",  # no phone label: an order number
        "Tel: 400-820-8820",  # an N00 code is a hotline (400, 800)
        "Phone: 800 555 0199",
        "Phone: 138 0013 8000",  # a Chinese mobile stays CN_MOBILE
    ],
)
def test_unlabelled_or_hotline_numbers_are_no_nanp_phone(text: str) -> None:
    assert _found(text, "INTL_PHONE") == []


def test_numbers_after_a_labelled_phone_are_still_read() -> None:
    found = [(f.entity, f.text) for f in detect("Phone: (312) 555-0147 13800138000")]
    assert ("INTL_PHONE", "(312) 555-0147") in found
    assert ("CN_MOBILE", "13800138000") in found
