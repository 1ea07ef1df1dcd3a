"""Readings no name finder should return, whichever found them: the last word on a
person finding, given once over all findings before overlaps are settled (a vetoed
reading is dropped first, so it takes no place from another finding).

Each finder judges a reading by its own signal (a cue, a table column, a list, the
scored model), and each can be fooled by the same few kinds of words, so they are
turned down once here, by kind, not by string:

- a time word (周一 … 周日, 星期三, 明天, 明早), alone or with the part of the day
  that follows it (周一上|午, 明天早|上; 上 下 中 only before 午: 周天中 is a name):
  weekdays stand beside names in tables and notices, and 周 and 明 are surnames;
- a form of address or a customer's role used as a speaker's label or a vocative
  (阿姨, 顾客: 租客: 阿姨，… / 顾客: 工商银行…), which names nobody;
- a cut across a word after a function word that is also a rare surname (但|施工队,
  那张|卡, 原|浦东): 但, 那, 都 and 原 followed by one of jieba's everyday words, or
  那/这 and a measure word (那张卡, 这个月); not after a form's field or a
  self-introduction (负责人：那家伟, 收件人：原文华);
- a reading inside a company's name (宁波海|纳进出口有限公司, 深圳市前|海云帆|供应链管理有限公司):
  its run of Han characters goes on to 有限 / 集团 / 股份 and a place leads it (a
  reading that starts with no place and has a person's verb after it is a person:
  杭州市民王芳|起诉集团);
- a school grade or an empty cell's word (高二, 空置, 待定), a reading that fills an
  SMS sender's tag (【平安好医生】);
- an item of a list set off with 、 whose neighbour is a province or a big city
  (福州、宁德、莆田; not a comma: a CSV row puts a city column beside a name), unless
  the scored model takes it with a margin on its own (金华、王芳、李明).
"""

from __future__ import annotations

import re

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import PLACES, alternation, words
from plinth.privacy.han import is_han
from plinth.privacy.names_frames import person_follows
from plinth.privacy.names_surnames import surname_length
from plinth.privacy.names_zh_scored import NAME_WORDS, WORDS, features, score_of

_DAYS = "一二三四五六日天末"
TIME_WORDS = frozenset(
    [f"周{d}" for d in _DAYS]
    + [f"星期{d}" for d in _DAYS[:-1]]
    + ["明天", "明早", "明晚", "明日", "明年", "明后天"]
)
DAY_PARTS = frozenset("早晚上下中午前后")
_WHOLE_PARTS = frozenset("早晚午前后")  # a part of the day alone; 上 下 中 only before 午
# Forms of address and a shop's or a service's parties: nouns for someone unnamed.
ADDRESS_NOUNS = frozenset(
    ["阿姨", "叔叔", "大爷", "大妈", "大姐", "大哥", "顾客", "客户", "客人", "买家", "卖家"]
)
# Words of a form or a table that name no one: school grades (高二(4)班) and what an
# empty cell says (空置, 待定); 高, 初 and 空 are surnames.
FIELD_WORDS = frozenset(
    ["高一", "高二", "高三", "初一", "初二", "初三", "空置", "空缺", "待定", "暂无", "未定"]
)
# Function words that are also rare surnames, and the demonstratives before a measure word.
_CUT_FIRSTS = frozenset("但那都原")
_DEMONSTRATIVES = frozenset("那这")
_MEASURES = frozenset("张个位件条本份次种家间台辆")
EVERYDAY = 2.0  # log10 of jieba's count for the word after a cut first character
COMPANY_WORDS = ("有限", "集团", "股份")
_LOOK = 12  # Han characters around a reading searched for a company word or a place
# Characters of a person's clause between a name and a company's (为 的 在 是 创办 兴办).
_CLAUSE = frozenset("的在是为和与办到任个")
# Any place name inside a run: one regex scan, where a substring test per place cost
# ~3.6 µs a reading (124 names).
_PLACE = re.compile(alternation(PLACES))


def _is_time(reading: str, after: str) -> bool:
    """A time word, or one and a part of the day: 早 晚 午 前 后 alone (周五晚), 上 下 中
    only before 午 (周一上|午): 周天中 and 周一上 before anything else are names."""
    if reading in TIME_WORDS:
        return True
    if reading[:-1] not in TIME_WORDS:
        return False
    return reading[-1] in _WHOLE_PARTS or (reading[-1] in DAY_PARTS and after == "午")


# Form fields and self-introductions that a name fills: after one, 那家伟, 原文华 and
# 都海洋 are a surname and a given name, not a cut (那张卡 is said, not filled in).
_NAME_FIELDS = tuple(
    words(
        "姓名 联系人 收件人 收货人 寄件人 发件人 申请人 负责人 经办人 签收人 对接人 联络人 "
        "开户人 持卡人 户名 我叫 名叫 叫做"
    )
)
_FIELD_GAP = " \t:：是为"


def _after_field(text: str, start: int) -> bool:
    at = start
    while at > 0 and text[at - 1] in _FIELD_GAP and start - at < 3:
        at -= 1
    return text.endswith(_NAME_FIELDS, 0, at)


def _is_cut(reading: str) -> bool:
    if len(reading) < 3:
        return False
    if reading[0] in _DEMONSTRATIVES and reading[1] in _MEASURES:
        return True
    word = reading[1:3]
    return reading[0] in _CUT_FIRSTS and WORDS.get(word, 0.0) >= EVERYDAY and word not in NAME_WORDS


# A company word within _LOOK Han characters: one anchored match decides most readings.
_COMPANY_AHEAD = re.compile(rf"[\u3400-\u9fff]{{0,{_LOOK - 2}}}?(?:{'|'.join(COMPANY_WORDS)})")


def _in_company(text: str, start: int, end: int) -> bool:
    """The reading sits inside a company's name: a company word follows in its run
    of Han characters with no word between that a person's clause would hold
    (李志坚为…有限公司, 顾雏军创办的…集团), and a place leads the name: the reading
    starts with one (宁波|港泰…), or its run holds a city or 市 / 省 before it
    (深圳市前|海云帆…)."""
    match = _COMPANY_AHEAD.match(text, end)
    if match is None or any(ch in _CLAUSE for ch in text[end : match.end() - 2]):
        return False
    if text[start : start + 2] in PLACES or text[start : start + 3] in PLACES:
        return True
    if person_follows(text, end):
        return False  # 王芳|起诉集团, 李明|调研股份制: a verb a person is the subject of
    begin = start
    while begin > max(0, start - _LOOK) and is_han(text[begin - 1]):
        begin -= 1
    before = text[begin:start]
    return "市" in before or "省" in before or _PLACE.search(before) is not None


def _item_before(text: str, start: int) -> str:
    if start < 2 or text[start - 1] != "、":
        return ""
    begin = start - 1
    while begin > 0 and is_han(text[begin - 1]):
        begin -= 1
    return text[begin : start - 1]


def _item_after(text: str, end: int) -> str:
    if end + 1 >= len(text) or text[end] != "、":
        return ""
    stop = end + 1
    while stop < len(text) and is_han(text[stop]):
        stop += 1
    return text[end + 1 : stop]


# A reading the scored model takes with this margin on its own (王芳 4.4; 宁德 beside
# 福州 1.4) is a person listed beside one named like a city (金华、王芳、李明).
STRONG = 3.0


def _strong(text: str, start: int, end: int) -> bool:
    surname = surname_length(text, start)
    if not surname or not 1 <= end - start - surname <= 2:
        return False
    values = features(text, start, surname, end - start - surname)
    return values is not None and score_of(values) >= STRONG


def _among_places(text: str, finding: Finding) -> bool:
    for item in (_item_before(text, finding.start), _item_after(text, finding.end)):
        if item in PLACES or item.removesuffix("市") in PLACES:
            return not _strong(text, finding.start, finding.end)  # scored only here
    return False


def _in_sender_tag(text: str, start: int, end: int) -> bool:
    """The reading fills an SMS sender's tag (【平安好医生】): a brand or a service."""
    return start > 0 and end < len(text) and text[start - 1] == "【" and text[end] == "】"


def vetoed(text: str, finding: Finding) -> bool:
    """Whether a person finding is one of the kinds of words above."""
    reading = finding.text
    if not reading or not is_han(reading[0]):
        return False
    return (
        _is_time(reading, text[finding.end : finding.end + 1])
        or reading in ADDRESS_NOUNS
        or reading in FIELD_WORDS
        or _in_sender_tag(text, finding.start, finding.end)
        or (_is_cut(reading) and not _after_field(text, finding.start))
        or _in_company(text, finding.start, finding.end)
        or _among_places(text, finding)
    )


def vet(text: str, findings: list[Finding]) -> list[Finding]:
    """``findings`` less the person findings ``vetoed`` turns down: once, over every
    stage's findings before overlaps are resolved (a filter per stage cost ~8 µs more
    per 2 KB prompt)."""
    people = [f for f in findings if f.entity == "PERSON"]
    if not people:
        return findings
    verdicts: dict[tuple[int, int], bool] = {}  # several finders often find one reading
    dropped = set()
    for f in people:
        span = (f.start, f.end)
        if span not in verdicts:
            verdicts[span] = vetoed(text, f)
        if verdicts[span]:
            dropped.add(span)
    if not dropped:
        return findings
    return [f for f in findings if f.entity != "PERSON" or (f.start, f.end) not in dropped]
