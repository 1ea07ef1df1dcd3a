"""Places talked about are no addresses; addresses with a cue, a number or a home stay found.

The classes come from the misses of batches 18 and 19; the strings here are new.
"""

from __future__ import annotations

import pytest

from plinth.privacy.detectors import detect


def found(text: str, entity: str) -> list[str]:
    return [f.text for f in detect(text) if f.entity == entity]


@pytest.mark.parametrize(
    "text",
    [
        # A district alone, no street, no cue.
        "杭州滨江区这两年新房卖得很快",
        "货从宁波北仑区的保税仓发出",
        # An administrative prefix of a company's registered name.
        "供应商：东莞市长安镇锐达五金制品有限公司 联系人：罗工",
        "委托方：成都市武侯区晨光文化传播有限公司",
        # A named place with no number and no cue.
        "周末去南京夫子庙广场逛逛",
        '{"venue": "厦门海湾国际大酒店", "guests": 40}',
        "下午转到省人民医院复查",
        "就在苏州金鸡湖广场对面",  # a landmark: 对面 after it
        # A road with no number, no cue: a street talked about, or a shop's name.
        "深圳福田区深南大道今早很堵",
        "店名：越秀区北京路小吃坊",
        # Floors and rooms with no place before them, in an office notice.
        "培训改到 5 楼 502 培训室",
        "会议地点：C座 8 楼第二会议室",
    ],
)
def test_places_talked_about_are_no_addresses(text: str) -> None:
    assert found(text, "ADDRESS") == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # A cue keeps a short address: the convention writes it without the cue.
        ("我住在杭州滨江区", "杭州滨江区"),
        ("老家地址：河北省保定市清苑区", "河北省保定市清苑区"),
        ("周日在武汉市江汉区中山公园南门见", "武汉市江汉区中山公园"),
        ("寄到：7栋3楼302", "7栋3楼302"),
        ("我住在济南市历下区泉城路", "济南市历下区泉城路"),
        ("快递放 B座 12 楼 1203 就行", "B座 12 楼 1203"),
        ("住在杭州市余杭区的阿里巴巴公司宿舍", "杭州市余杭区"),
        # A residential estate needs no cue; a unit (单元) is a home's.
        ("合肥市蜀山区翡翠湖小区的房子卖了", "合肥市蜀山区翡翠湖小区"),
        ("楼上 9 栋 1 单元 702 又在装修", "9 栋 1 单元 702"),
        # A postal cue further back, a name between; a birthplace.
        ("收件人：刘洋，北京市朝阳区望京SOHO", "北京市朝阳区"),
        ("1962年出生于甘肃省会宁县", "甘肃省会宁县"),
        ("样品寄一份给我，江西省赣州市章贡区", "江西省赣州市章贡区"),
        ("申请人户籍地为安徽省阜阳市颍州区", "安徽省阜阳市颍州区"),
        # A field after a phone number in a record.
        ("客户,13912345678,南昌市红谷滩区丽景花园", "南昌市红谷滩区丽景花园"),
        # A street or a number still makes an address without a cue.
        ("福州市鼓楼区五四路158号环球广场", "福州市鼓楼区五四路158号环球广场"),
    ],
)
def test_addresses_with_a_cue_a_number_or_a_home_stay(text: str, address: str) -> None:
    assert found(text, "ADDRESS") == [address]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # A Latin block name with a dash (KD-3栋) stays inside one address.
        (
            "新家：昆明市五华区滇缅大道云景城C区KD-3栋1单元901",
            "昆明市五华区滇缅大道云景城C区KD-3栋1单元901",
        ),
        # Block, unit and room written with dashes.
        ("寄：沈阳市和平区南京南街9号5-2-301", "沈阳市和平区南京南街9号5-2-301"),
        # A name holding a character that ends a chain's start (和, 全) between the
        # number and the block.
        (
            "家庭住址：石家庄市长安区和平东路12号和美家A座1601",
            "石家庄市长安区和平东路12号和美家A座1601",
        ),
    ],
)
def test_one_address_across_dashes_and_names(text: str, address: str) -> None:
    assert found(text, "ADDRESS") == [address]


@pytest.mark.parametrize(
    ("text", "address", "phone"),
    [
        (
            "开票地址：广州市天河区体育西路191号B座2208 020-38881234",
            "广州市天河区体育西路191号B座2208",
            "020-38881234",
        ),
        (
            "地址电话：南京市鼓楼区中山北路88号 025 8331 2468",
            "南京市鼓楼区中山北路88号",
            "025 8331 2468",
        ),
    ],
)
def test_a_phone_after_an_address_is_found_whole(text: str, address: str, phone: str) -> None:
    assert found(text, "ADDRESS") == [address]
    assert found(text, "CN_LANDLINE") == [phone]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Bill to: Flat 2, 41 Briggate, Leeds LS1 6HD, UK", "Flat 2, 41 Briggate, Leeds LS1 6HD"),
        ("she lives at 880 Robson, Vancouver, BC V6Z 2E7 now", "880 Robson, Vancouver, BC V6Z 2E7"),
    ],
)
def test_an_english_address_before_a_postcode(text: str, address: str) -> None:
    assert found(text, "ADDRESS") == [address]


def test_a_postcode_alone_is_no_address() -> None:
    assert found("Ticket EC1A 1BB is closed", "ADDRESS") == []


def test_an_invoice_code_is_no_landline_but_a_phone_is() -> None:
    assert found("发票代码 033021900211，金额 300 元", "CN_LANDLINE") == []
    assert found("客服电话 0330-21900211", "CN_LANDLINE") == ["0330-21900211"]


def test_thirteen_digits_are_a_card_only_for_visa() -> None:
    # Both pass Luhn; an EAN-13 barcode (69…) is no card.
    assert found("条码 6923456789012 已入库", "PAYMENT_CARD") == []
    assert found("卡号 4000000000006", "PAYMENT_CARD") == ["4000000000006"]
