"""Synthetic labelled cases, made without the detectors.

Nothing here imports ``plinth.privacy`` or copies its patterns or word lists:
values come from their public definitions (GB 11643 check digits via
python-stdnum, Luhn, the 1[3-9] mobile plan, plate formats of GA 36), names
from this file's own surname and given-name lists (which include surnames the
detectors' gazetteer may not know), and carriers from this file's own
templates. Look-alikes that must not be flagged are generated too: wrong check
digits, impossible dates, numbers one digit short.

    from generate import cases
    for carrier, text, spans in cases(seed=7, per_type=60): ...
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from stdnum import luhn
from stdnum.cn import ric

Span = tuple[str, int, int]
Case = tuple[str, str, list[Span]]

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕"
    "丁沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵"
)
_COMPOUND = ["欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "尉迟", "夏侯"]
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩然欣怡子涵梓轩雨桐"
)
_EN_FIRST = [
    "James",
    "Mary",
    "Robert",
    "Linda",
    "Michael",
    "Susan",
    "Wei",
    "Ling",
    "Arjun",
    "Sofia",
]
_EN_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Garcia",
    "Martinez",
    "Nguyen",
    "Chen",
    "Kumar",
    "Lopez",
]
_PROVINCES = ["广东省", "浙江省", "江苏省", "四川省", "湖北省", "山东省", "河南省", "福建省"]
_CITIES = ["广州市", "杭州市", "南京市", "成都市", "武汉市", "济南市", "郑州市", "福州市", "宁波市"]
_DISTRICTS = [
    "天河区",
    "西湖区",
    "鼓楼区",
    "锦江区",
    "江汉区",
    "历下区",
    "金水区",
    "海曙区",
    "城关镇",
]
_ROADS = ["人民路", "解放大道", "中山北路", "建设街", "文化巷", "滨江大道", "学府路", "光明街"]
_ESTATES = ["阳光小区", "翠湖花园", "金桥大厦", "海天公寓", "锦绣家园", "创业园区"]
_PLATE_REGIONS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in string.digits})
_ZH_TEMPLATES = [
    "客户资料：{label}{value}，请核实。",
    "麻烦帮我查一下{label}{value}的情况",
    "{label}：{value}\n备注：加急",
    "【系统通知】{label} {value} 已更新",
    "收到，{label}是{value}，谢谢！",
]
_EN_TEMPLATES = [
    "Customer record - {label}: {value} (verified)",
    "Please update the {label} to {value} before Friday.",
    "{label}={value} status=ok",
]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _regroup(rng: random.Random, value: str) -> str:
    """The same number in one of the groupings people use, or none."""
    style = rng.random()
    if style < 0.35:
        return value
    separator = rng.choice([" ", "-", ".", " ", "-"])
    if style < 0.7:
        sizes = rng.choice([(3, 4, 4), (4, 4, 4, 4), (6, 8), (6, 4, 4, 4), (4, 4, 4, 4, 3)])
    else:
        sizes = tuple(rng.randint(2, 5) for _ in range(8))
    parts, i = [], 0
    for size in sizes:
        if i < len(value):
            parts.append(value[i : i + size])
            i += size
    if i < len(value):
        parts.append(value[i:])
    return separator.join(parts)


def resident_id(rng: random.Random, valid: bool) -> str:
    region = rng.choice(["110108", "310104", "440305", "510104", "620102", "650102", "330110"])
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
    body = region + born.strftime("%Y%m%d") + _digits(rng, 3)
    check = ric.calc_check_digit(body + "0")
    if not valid:
        if rng.random() < 0.5:
            check = rng.choice([c for c in "0123456789X" if c != check])
        else:  # an impossible date, check digit recomputed
            body = region + f"{born.year}{rng.choice(['13', '00'])}{born.day:02d}" + _digits(rng, 3)
            check = ric.calc_check_digit(body + "0")
    return body + check


def unionpay(rng: random.Random, valid: bool) -> str:
    length = rng.choice([16, 17, 18, 19])
    body = rng.choice(["6222", "6228", "6217", "6212", "6214", "6259"]) + _digits(rng, length - 5)
    check = luhn.calc_check_digit(body)
    return body + (check if valid else str((int(check) + rng.randint(1, 9)) % 10))


def mobile(rng: random.Random, valid: bool) -> str:
    prefix = rng.choice(["13", "14", "15", "16", "17", "18", "19"]) + rng.choice(string.digits)
    number = prefix + _digits(rng, 8)
    if not valid:
        return rng.choice(["12", "10", "11"]) + _digits(rng, 9)
    roll = rng.random()
    if roll < 0.2:
        return rng.choice(["+86 ", "+86-", "0086 ", "+86"]) + _regroup(rng, number)
    if roll < 0.3:
        return number.translate(_FULL_WIDTH)
    return _regroup(rng, number)


def plate(rng: random.Random, valid: bool) -> str:
    region = rng.choice(_PLATE_REGIONS) + rng.choice(_PLATE_LETTERS)
    if rng.random() < 0.4:  # new-energy: D/F then five, or five then D/F
        tail = rng.choice("DF") + rng.choice(_PLATE_LETTERS + string.digits) + _digits(rng, 4)
        if rng.random() < 0.5:
            tail = _digits(rng, 5) + rng.choice("DF")
    else:
        tail = "".join(rng.choice(_PLATE_LETTERS[:8] + string.digits * 2) for _ in range(4))
        tail = _digits(rng, 1) + tail
    if not valid:
        tail = tail[:3]  # too short
    return region + rng.choice(["", "", "·", " "]) + tail


def person(rng: random.Random, valid: bool) -> str:
    if rng.random() < 0.2:
        return rng.choice(_EN_FIRST) + " " + rng.choice(_EN_LAST)
    surname = rng.choice(_COMPOUND) if rng.random() < 0.15 else rng.choice(_SURNAMES)
    return surname + "".join(rng.choice(_GIVEN) for _ in range(rng.choice([1, 2, 2])))


def address(rng: random.Random, valid: bool) -> str:
    parts = []
    if rng.random() < 0.6:
        parts.append(rng.choice(_PROVINCES))
    parts += [rng.choice(_CITIES), rng.choice(_DISTRICTS)]
    parts.append(f"{rng.choice(_ROADS)}{rng.randint(1, 999)}号")
    if rng.random() < 0.5:
        parts.append(f"{rng.choice(_ESTATES)}{rng.randint(1, 30)}栋{rng.randint(101, 2805)}室")
    return rng.choice(["", " "]).join(parts[rng.randint(0, 1) :])


_LABELS: dict[str, tuple[str, str, Callable[[random.Random, bool], str]]] = {
    "CN_RESIDENT_ID": ("身份证号", "ID number", resident_id),
    "CN_BANK_CARD": ("银行卡号", "card number", unionpay),
    "CN_MOBILE": ("手机", "mobile", mobile),
    "CN_PLATE": ("车牌", "plate", plate),
    "PERSON": ("联系人", "contact", person),
    "ADDRESS": ("收货地址", "address", address),
}


def _carrier(rng: random.Random, label: tuple[str, str], value: str) -> tuple[str, str, int]:
    """(carrier, text, offset of the value) for one value in one of the carriers."""
    kind = rng.choice(["chat", "chat", "log", "json", "table"])
    if kind == "json":
        key = rng.choice(["value", "contact", "data"])
        prefix = '{"' + key + '": "'
        return kind, prefix + value + '", "source": "crm"}', len(prefix)
    if kind == "table":
        prefix = f"{label[0]} | 备注\n"
        return kind, prefix + value + " | 无", len(prefix)
    templates = _EN_TEMPLATES if kind == "log" else _ZH_TEMPLATES
    template = rng.choice(templates)
    text_label = label[1] if kind == "log" else label[0]
    before = template.split("{value}")[0].replace("{label}", text_label)
    text = template.replace("{label}", text_label).replace("{value}", value)
    return kind, text, len(before)


def cases(seed: int, per_type: int) -> Iterator[Case]:
    """``per_type`` cases per type: two thirds hold a value, one third a look-alike."""
    rng = random.Random(seed)
    for entity, (zh, en, make) in _LABELS.items():
        for i in range(per_type):
            valid = i % 3 != 2 or entity in ("PERSON", "ADDRESS")
            value = make(rng, valid)
            carrier, text, at = _carrier(rng, (zh, en), value)
            if carrier == "json":  # the value is inside a JSON string: escape it as JSON does
                escaped = json.dumps(value, ensure_ascii=False)[1:-1]
                text = text.replace(value, escaped, 1)
                value = escaped
            yield carrier, text, [(entity, at, at + len(value))] if valid else []
