"""Personal-data detectors: found inside Chinese text, look-alikes rejected."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from plinth.privacy.detectors import detect, normalize


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity, f.text) for f in detect(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的身份证号是11010519491231002X，谢谢", [("CN_RESIDENT_ID", "11010519491231002X")]),
        ("身份证 110105 19491231 002x 已核验", [("CN_RESIDENT_ID", "110105 19491231 002x")]),
        ("手机13812345678联系", [("CN_MOBILE", "13812345678")]),
        ("手机：１３８－１２３４－５６７８", [("CN_MOBILE", "１３８－１２３４－５６７８")]),
        ("电话+86 138 1234 5678", [("CN_MOBILE", "+86 138 1234 5678")]),
        ("座机010-62345678转8", [("CN_LANDLINE", "010-62345678")]),
        ("卡号6222020200000000006已冻结", [("CN_BANK_CARD", "6222020200000000006")]),
        ("Visa 4111 1111 1111 1111 exp 12/29", [("PAYMENT_CARD", "4111 1111 1111 1111")]),
        ("信用代码91110000600037341L。", [("CN_USCC", "91110000600037341L")]),
        ("护照E12345678过期", [("CN_PASSPORT", "E12345678")]),
        ("邮箱zhang.wei@example.com。", [("EMAIL", "zhang.wei@example.com")]),
        ("服务器10.0.0.1和2001:db8::1", [("IPV4", "10.0.0.1"), ("IPV6", "2001:db8::1")]),
        ("call +1 650-253-0000 today", [("INTL_PHONE", "+1 650-253-0000")]),
        ("IBAN GB82 WEST 1234 5698 7654 32", [("IBAN", "GB82 WEST 1234 5698 7654 32")]),
        ("SSN 123-45-6789", [("US_SSN", "123-45-6789")]),
        ("key AKIAIOSFODNN7EXAMPLE", [("CLOUD_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE")]),
        (
            "Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123",
            [("BEARER_TOKEN", "abcdefghijklmnopqrstuvwxyz0123")],
        ),
        (
            "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuv",
            [("API_KEY", "sk-proj-abcdefghijklmnopqrstuv")],
        ),
    ],
)
def test_detects(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "订单号11010519491231002Y",  # wrong check digit
        "编号110105194913310027",  # month 13
        "卡号4111 1111 1111 1112",  # fails Luhn
        "IBAN GB83 WEST 1234 5698 7654 32",  # wrong check digits
        "SSN 000-12-3456 and 666-12-3456",
        "version 256.1.1.1 and 1.2.3",
        "meeting at 12:30:45",
        "ticket 12345678901",  # not a mobile plan
        "no email here: user@localhost",
    ],
)
def test_rejects_look_alikes(text: str) -> None:
    assert found(text) == []


def test_offsets_index_the_original_text() -> None:
    text = "姓名：张三，手机：１３８１２３４５６７８，身份证：11010519491231002X"
    for finding in detect(text):
        assert text[finding.start : finding.end] == finding.text
    assert len(normalize(text)) == len(text)


def test_private_key_block() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----"
    assert found(f"config:\n{block}\nend") == [("PRIVATE_KEY", block)]


def test_evaluation_set_meets_the_quality_targets() -> None:
    """The issue's targets on the benchmark's tuning sets (hand-written, synthetic from another
    seed); the held-out set is reported by the benchmark, not asserted."""
    path = Path(__file__).parents[2] / "benchmarks" / "privacy_eval.py"
    spec = importlib.util.spec_from_file_location("privacy_eval", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scores = module.evaluate(per_type=30, seed=11)["tuned"]
    for entity in module.CHECKSUM_TYPES:
        assert scores[entity]["precision"] >= 0.99, (entity, scores[entity])
        assert scores[entity]["recall"] >= 0.99, (entity, scores[entity])
    assert scores["CN_MOBILE"]["recall"] >= 0.99, scores["CN_MOBILE"]
    for entity in ("PERSON", "ADDRESS"):
        assert scores[entity]["recall"] >= 0.90, (entity, scores[entity])
        assert scores[entity]["precision"] >= 0.95, (entity, scores[entity])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("电话138.0013.8000", [("CN_MOBILE", "138.0013.8000")]),
        ("server 139.159.123.45 up", [("IPV4", "139.159.123.45")]),  # not a dotted phone
        ("call 0086-186-2109-3344", [("CN_MOBILE", "0086-186-2109-3344")]),
        ("+8615012345678这个号码", [("CN_MOBILE", "+8615012345678")]),
        ("号码1 8 6 1 2 3 4 5 6 7 8", [("CN_MOBILE", "1 8 6 1 2 3 4 5 6 7 8")]),
        ("物联网卡14412345678欠费", [("CN_MOBILE", "14412345678")]),  # "unallocated" ranges
        ("流量卡 166 0101 2323", [("CN_MOBILE", "166 0101 2323")]),
        ("身份证1101 0119 5506 1797 4X", [("CN_RESIDENT_ID", "1101 0119 5506 1797 4X")]),
        ("甘肃620102199107073010", [("CN_RESIDENT_ID", "620102199107073010")]),  # 62…: an ID
        ("卡62829579318603208", [("CN_BANK_CARD", "62829579318603208")]),  # 17 digits
        ("卡622549 145244 106466", [("CN_BANK_CARD", "622549 145244 106466")]),  # 18 digits
        ("万事达2221 1164 9415 7715", [("PAYMENT_CARD", "2221 1164 9415 7715")]),
        ("车牌粤BD12345", [("CN_PLATE", "粤BD12345")]),  # new energy: 8 characters
        ("车牌苏EF·K0213已登记", [("CN_PLATE", "苏EF·K0213")]),  # its D/F split off
        ("车牌苏E·D31024已登记", [("CN_PLATE", "苏E·D31024")]),
        ("挪车：京A·12345", [("CN_PLATE", "京A·12345")]),
        ("联系人：欧阳娜娜", [("PERSON", "欧阳娜娜")]),
        ("请找王经理签字", [("PERSON", "王经理")]),
        ("阿卜杜拉·艾则孜的包裹", [("PERSON", "阿卜杜拉·艾则孜")]),
        ("地址：浙江省杭州市西湖区文三路398号", [("ADDRESS", "浙江省杭州市西湖区文三路398号")]),
        ("住在阳光花园小区5栋2单元601", [("ADDRESS", "阳光花园小区5栋2单元601")]),
        ("Dear Mr. Brown,", [("PERSON", "Brown")]),
        (
            "Ship to 1234 Market Street, San Francisco, CA 94103.",
            [("ADDRESS", "1234 Market Street, San Francisco, CA 94103")],
        ),
    ],
)
def test_detects_the_forms_people_write(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "GET /static/app.13800138000.js",  # a file name
        "SKU-138-0013-8000",
        "身份证 510107-19871029-8230",  # a wrong ID is not a card either
        "王者荣耀又更新了",
        "时总是这样",
        "市场部区域经理明天开会",
        "全国各省市区县都有分公司",
        "The Great Wall is in Beijing.",
    ],
)
def test_rejects_new_look_alikes(text: str) -> None:
    assert found(text) == []


def test_strict_phones_leave_out_ranges_libphonenumber_calls_unallocated() -> None:
    assert detect("14412345678", strict_phones=False) != []
    assert detect("14412345678", strict_phones=True) == []
    assert [f.entity for f in detect("13812345678", strict_phones=True)] == ["CN_MOBILE"]


def test_a_large_text_scanned_in_pieces_finds_what_one_pass_finds() -> None:
    from plinth.privacy import detectors

    record = "联系人：张伟，电话138 0013 8000，地址：北京市朝阳区建国路88号。ID 11010519491231002X "
    # Values straddle the 64 KiB piece boundaries at many offsets.
    text = ("x" * 7 + record) * (3 * detectors._PIECE // (len(record) + 7))
    assert len(text) > 2 * detectors._PIECE
    pieces = detectors.detect(text)
    assert pieces == detectors._detect(text, False)
    assert {f.entity for f in pieces} == {"PERSON", "CN_MOBILE", "ADDRESS", "CN_RESIDENT_ID"}
