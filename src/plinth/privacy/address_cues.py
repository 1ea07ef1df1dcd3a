"""Whether a chain of address parts is an address someone lives at or sends to.

``addresses`` reads chains of parts (province, city, district, town, road, number,
estate, building, unit, floor, room); this module decides, from the kinds of parts and
the words around the chain, whether one that names no street is an address or a place
talked about (a district's house prices, a company's registered name, a landmark, a
meeting room).
"""

from __future__ import annotations

import re

Part = tuple[str, int, int]  # kind, start, end

# A road's own number stands after its kind (中山路88号, 人民路一段3号); a number inside the
# name (黄大爷反映3号楼门口路: a building, then 路灯) is no house number.
_NUMBERED = re.compile(
    r"[路街巷同弄道段][甲乙丙]?(?:[0-9]+|[一二三四五六七八九十百零〇两]+)(?:[-之][0-9]+)?号"
)
_BLOCKS = frozenset({"building", "unit", "floor", "room"})
_CUE_REACH = 12  # a cue stands this close before the chain, on its line
# 家 is a home, not a count of shops (跑了三家：南京西路那家门店).
_HOME = r"(?<![一二三四五六七八九十几两那这哪每某多0-9])家"
_CUE = re.compile(
    r"(?:地址|住址|住|居|寄|送|收货|收件|" + _HOME + r"|老家|家乡|户籍|户口|籍贯|原籍|出生|生于|"
    r"搬到|搬去|所在地|到站|目的地|快递|发到|发往|发至|发货|上门|定位|(?i:address|addr))[\"'\s:：=是为在到至往于地]*\Z"
)
# Words that place something without saying anyone lives or receives there (供应商在东莞
# 长安镇, 活动在人民公园…): enough for a road or a named place, not for administrative names
# alone (a city, district or town is no address on its own).
_WEAK_CUE = re.compile(r"(?:在|位于|坐落|来自|场所)[\"'\s:：=是为在到至往于地]*\Z")
# …unless a person is placed there (我在厦门市湖里区上班, 她来自…): where someone works or
# comes from is about them.
_PERSON_BEFORE = re.compile(
    r"(?:我|我们|你|你们|他|她|他们|她们|本人|家人)(?:现在|现|一直|也|都)?(?:在|来自)\Z"
)
_HOME_CUE = re.compile(
    r"(?:地址|住址|住|寄|送|放|收货|收件|"
    + _HOME
    + r"|(?i:address|addr))[\"'\s:：=是为在到至往]*\Z"
)
# A postal cue further back on the line, with a name or a phone between (收件人：张三，
# 北京市朝阳区望京SOHO: the part after the district is one no part pattern reads).
_FAR_REACH = 30
# (发货, 发到, 顺丰: where a parcel is sent, as 寄 and 快递 say.)
_FAR_CUE = re.compile(
    r"地址|住址|收件|收货|寄|快递|送货|送到|发货|发到|顺丰|家住|住在|(?i:address|addr)"
)
_RESIDENTIAL = (
    "小区", "花园", "公寓", "家园", "新村", "宿舍", "山庄",
    "雅居", "华庭", "名都", "公馆", "大院", "苑",
)  # fmt: skip
# A record's field after a number (…,13682219043,天津市南开区华苑小区): a separator, then
# the chain; a chain glued to its number or in brackets after it is no field.
_FIELD_AFTER_NUMBER = re.compile(r"[0-9][ \t,，|;；/]+\Z")
_ORGANISATION = re.compile(
    r"[^\s，,。；;：:（(）)、\"']{0,14}?(?:有限公司|公司|集团|研究院|研究所|协会|委员会|事务所|"
    r"银行|办事处|管理局|分局|支行|大学|学院|"
    # A shop, a workshop or a courier's station named after its place (昆山市玉山镇德睿五金
    # 经营部, 成都高新区网点, 南京西路那家门店): a business, not where anyone lives.
    r"经营部|营业部|门市部|商行|网点|营业厅|工作室|厂|店)"
)
_LANDMARK = re.compile(r"[ \u3000]?(?:对面|附近|旁边|周边|隔壁|门口|楼下|站|一带|那边|这边)")
# A venue: something is held there (义诊在人民公园东门广场举行), nobody lives there.
# 在小区中心广场有社区电影放映: what is on there, said after 有.
_EVENT = re.compile(
    r"[ \u3000]?(?:有[^，。,\n]{0,10}?)?(?:举行|举办|召开|开幕|集合|开会|放映|演出|表演|讲座|活动)"
)
_ADMIN_ONLY = frozenset({"province", "city", "district", "town"})
# 农村 and 乡村 are the countryside (贵州农村, 贫困地区农村), not a village's name.
_COUNTRYSIDE = ("农村", "乡村")


def stands(text: str, parts: list[Part]) -> bool:
    """Whether a chain that reads as an address is one someone lives at or sends to, not
    a place talked about. A chain that reaches a house number (建国路88号), a block or a
    village (not one followed by an unnumbered road: 中关村大街, 村村通公路) is (leaking is
    worse than over-redacting). Without one, the text around it decides:

    - administrative names and roads alone (上海徐汇区, 天津港保税区, 锦江区老巷子…) and
      named places (宁波文化广场, 自治区人民医院, a hotel) are addresses only after a cue
      (地址, 住在, 寄到, 老家, 在 …), as a record's field after a number, or after a
      postal cue further back in the line and sentence (收件人：张三，…); a residential
      estate (…小区, …公寓) is one without;
    - before a company's, an office's or a shop's name (佛山市顺德区|美辰家居有限公司,
      …五金经营部, …网点, …那家门店) they are its registered name; before 对面, 附近, 站 …
      a landmark, before what is on there (举行, 有…放映) a venue (unless a home cue such
      as 住在 or 地址 stands right before them);
    - blocks, floors and rooms with no place before them (3楼305会议室, A座12楼) are an
      address only with a unit (单元: a block of flats), as a block and its door
      (12号楼1203), or after a cue that says so (地址, 住, 寄, 送, 收货): a meeting room
      (地点：…) or an office move (搬到) is none.
    """
    kinds = {kind for kind, _, _ in parts}
    start, end = parts[0][1], parts[-1][2]
    if "number" in kinds or any(
        (
            kind == "town"
            and text[b - 1] == "村"
            and parts[-1][0] != "road"
            and not text.endswith(_COUNTRYSIDE, a, b)
        )
        or (kind == "road" and _NUMBERED.search(text, a, b) is not None)
        for kind, a, b in parts
    ):
        # A village is a place someone lives, but a 村 whose road ends the chain with no
        # number is a quarter named after it (在中关村大街那边上班): the words decide.
        return True
    if kinds - {"room"} <= _ADMIN_ONLY and text[parts[-1][1] : parts[-1][2]].isdigit():
        return False  # 北京 88, 朝阳区 250 (a figure after a place): no room without a building
    low = max(0, start - _CUE_REACH)
    low = text.rfind("\n", low, start) + 1 or low
    home = _HOME_CUE.search(text, low, start) is not None
    if kinds <= _BLOCKS:
        # No place is named before them: a flat (7栋2单元1801: block, stairwell and room;
        # 12号楼1203: block and door) is someone's home; a block and its stairwell
        # (9号楼2单元电梯) or an office floor (A座12楼) is an address only after a home cue.
        return home or ("room" in kinds and bool(kinds & {"unit", "building"}))
    if kinds & _BLOCKS and not kinds & _ADMIN_ONLY:
        # 阳光小区5栋, 翠苑一区12幢3单元201室: a home and its blocks, and a named building's
        # room (紫荆大厦B座2208: one door); 总部大楼B座5层 (a meeting place), 市民中心B区2楼
        # (an office's floor): a building and a floor, no place before them.
        return (
            home
            or "unit" in kinds
            or "room" in kinds
            or any(kind == "estate" and text.endswith(_RESIDENTIAL, a, b) for kind, a, b in parts)
        )
    if kinds & _BLOCKS:
        return True
    if home:  # 住在深圳市南山区的…公司宿舍: a home cue outweighs what follows
        return True
    if _ORGANISATION.match(text, end, min(len(text), end + 20)) is not None:
        return False
    if _LANDMARK.match(text, end) is not None or _EVENT.match(text, end) is not None:
        return False
    if text.endswith(_RESIDENTIAL, start, end):
        return True
    if (
        _CUE.search(text, low, start) is not None
        or _FIELD_AFTER_NUMBER.search(text, low, start) is not None
        or (
            (not kinds <= _ADMIN_ONLY or _PERSON_BEFORE.search(text, low, start) is not None)
            and _WEAK_CUE.search(text, low, start) is not None
        )
    ):
        return True
    far = max(0, start - _FAR_REACH)
    # On its line and in its sentence.
    far = max(far, *(text.rfind(end_mark, far, start) + 1 for end_mark in "\n。！？!?"))
    return _FAR_CUE.search(text, far, start) is not None
