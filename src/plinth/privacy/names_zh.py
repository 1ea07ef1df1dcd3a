"""Chinese person names: a surname gazetteer plus the words around a name.

A surname character alone says little (王 is also "king", 高 "tall"), so a
name is accepted only where something says it is one, and the scan looks for
those *triggers* first (one pass; the pattern's first-character table skips
most of the text), then for a surname next to each:

- a cue in front: 联系人：张伟, 我叫刘洋, 收件人 王芳;
- a title or role behind: 张经理, 王老师, 李娜女士 (the title is part of the span);
- a possessive behind: 张伟的电话, 王芳的地址;
- a distinctive compound surname: 欧阳娜娜, 诸葛亮 (no cue needed);
- a transliterated name with a middle dot: 阿卜杜拉·艾则孜, 买买提·吐尔逊.

A name before a verb and nothing else (秦岚来电话) is left to ``names_zh_scored``,
whose context words come from jieba's tags: the fixed verb list that was here found
no name more on batches 1-10 or the newspaper sample, and its triggers (说, 来, 和)
cost a fifth of this scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plinth.privacy.findings import Finding
from plinth.privacy.gazetteer import (
    CITIES,
    COMPOUND_SURNAMES,
    GIVEN_NAME_CHARS,
    NAME_CUES,
    NAME_FOLLOWERS,
    PROVINCES,
    TITLES,
    alternation,
    words,
)
from plinth.privacy.han import is_han
from plinth.privacy.names_surnames import SURNAMES
from plinth.privacy.names_values import counted_thing, longer_value
from plinth.privacy.names_zh_scored import FUNCTION_WORDS, NAME_WORDS, across_start
from plinth.privacy.names_zh_scored import GIVEN as GIVEN_LIKELIHOOD
from plinth.privacy.names_zh_scored import LEFT as LEFT_WORDS
from plinth.privacy.names_zh_scored import WORDS as EVERYDAY_WORDS

# Characters that end a given name: function words, and ones rare in names.
_NOT_GIVEN = frozenset(
    "的了是在和与及或我你他她它们这那有不也都就还说对把被让给从向到于为以而但吗呢吧啊哦嗯么个"
    "些每各某该其所者着过来去上下中里外前后再又很太最更非没无已将要会能可应请谢您号路街区市省"
    "县镇村楼室栋层单电话手机邮箱地址先女士生经理老师总工医姓名叫"
)
# Surnames that are also everyday words (和, 时, 高 …): "时总是" is not 时总, so a
# one-character title needs one of the others, or a cue.
_AMBIGUOUS = frozenset(
    "和于时成平国来信都明云全应海强花南元展相初门万支计利向常安文方高石白金江关古代包宁尚甘车项"
    "连麦费冷宫席师乐原燕楚区位井巴丰晋普伏那战危玉银公哈呼居干但衣阴智幸由华路游解穆农司卓吉简"
    "党商沙荣桑佟仇单麻"
)
_DISTINCT_COMPOUNDS = words(
    "欧阳 上官 诸葛 皇甫 尉迟 慕容 司徒 夏侯 令狐 轩辕 端木 公孙 宇文 呼延 澹台 "
    "申屠 赫连 拓跋 万俟 闻人 钟离 独孤 司马"
)
# Compound surnames that also read as a verb and the start of a word (上 + 官网, 官方):
# a name only if a given-name character follows (上官婉儿, not 上官网查).
_VERB_COMPOUNDS = frozenset(["上官"])
# Two-character words that look like surname + given name and are not names.
_NOT_NAMES = frozenset(
    words(
        "周一 周二 周三 周四 周五 周六 周日 周末 方面 方法 文件 高速 黄金 马上 石头 金额 江湖 "
        "时间 温度 黄色 白色 金色 安全 安排 向上 程序 钱包 董事 司机 孙子 杨树 柳树 梅花 "
        "成本 成功 成都 万一 任何 任务 于是 常常 明年 明显 方向 方便 高兴 高级 江南 路上 "
        "车上 关于 关系 曾经 许多 许可 华为 宋体 陈述 林地 余下 谢谢 汤圆 叶子 顾客 "
        "黎明 温暖 韩国 秦朝 唐朝 宋朝 元朝 明朝 康复 施工 武汉 苏州 沈阳 吉林 包括"
    )
)
_SHORT_TITLES = frozenset(t for t in TITLES if len(t) == 1)
_POSSESSIVES = tuple(f for f in NAME_FOLLOWERS if f.startswith("的"))


# What each trigger word is; a word in two lists counts as the first (经理: a title).
_KINDS = {
    word: kind
    for kind, group in reversed(
        [
            ("title", TITLES),
            ("cue", NAME_CUES),
            ("possessive", _POSSESSIVES),
            ("compound", _DISTINCT_COMPOUNDS),
        ]
    )
    for word in group
}
# One alternation of literals, no groups and nothing in front: the regex engine then
# skips every position whose character starts no trigger word (several times faster).
#
# ASCII cues ("name": "董宇", --) are kept out of it: their first letters are
# everywhere in English text, and trying them at each one tripled the scan's cost.
# They are looked for one by one (_after_ascii_cues), and kept where Han text follows.
_TRIGGER = re.compile(alternation(word for word in _KINDS if not word.isascii()))
_ASCII_CUES = tuple(word for word in _KINDS if word.isascii())
# An ASCII cue whose end is followed by nothing but a gap (up to the name: ``endpos``).
_ASCII_CUE = re.compile(rf"(?:{alternation(_ASCII_CUES)})(?=[ \t\r\n:：=\"'“”「」]*$)")
_GAP_CHARS = frozenset(" \t\r\n:：=\"'“”「」是为叫")
# What may stand between an ASCII cue and the Han name after it, and how far back from
# the name the cue may start.
_ASCII_GAP = frozenset(" \t\r\n:：=\"'“”「」")
_ASCII_WINDOW = 16
_CUE_GAP = re.compile(r"[ \t\r\n:：=\"'“”「」]*(?:是|为|叫)?[ \t:：\"'“”「」]*")
_DOT = re.compile(r"(?<=[\u3400-\u9fff])[·・•](?=[\u3400-\u9fff])")
# Characters of transliterated names; a dotted phrase mostly made of them is a name.
TRANSLIT = frozenset(
    "阿卜杜拉艾则孜买提吐尔逊努白克力热依木罕古丽娜扎迪帕夏巴哈米吉德乌斯曼伊布欣穆默沙塔亚库甫"
    "玛达尼格丹增次仁多卓桑央金索朗平措西姆顿珠旺堆琼约翰史密汤森詹乔治安东莉莎妮丝娅特维奇夫洛"
    "基科诺普罗塞雷蒙奥菲利萨托马伯纳威廉兹凯瑟琳杰逊戴彼得保查理露易海伦不都卡列柯娃薇蒂希"
    "瓦尔莱恩弗里兰登贝卢芙尼赫拉夫迈克乌兰勒泰佩姬蕾茜黛丹妮万图雅"
)


# 甘肃的身份证: a province, not 甘 the person; 此致 敬礼: a closing, not 敬 the person.
_PLACES = frozenset([*PROVINCES, *CITIES, "敬礼", "同事", "师傅", "单位"])


def _surname_at(text: str, position: int) -> int:
    """Length of the surname starting at ``position`` (2, 1), or 0."""
    if text[position : position + 2] in COMPOUND_SURNAMES:
        return 2
    return 1 if position < len(text) and text[position] in SURNAMES else 0


def _given_length(text: str, start: int, most: int = 2) -> int:
    size = 0
    while size < most and start + size < len(text):
        ch = text[start + size]
        if not is_han(ch) or ch in _NOT_GIVEN:
            break
        size += 1
    return size


_SURNAME_CHARS = frozenset(SURNAMES) | {name[0] for name in COMPOUND_SURNAMES}


def _surname_near(text: str, end: int) -> bool:
    """A name ending at ``end`` starts with a surname 1-4 characters before it (cheap test)."""
    return any(ch in _SURNAME_CHARS for ch in text[max(0, end - 4) : end])


def _title_start(text: str, match: re.Match[str]) -> int:
    """Where a name before this title would end: "乔峰 总经理" has a space between."""
    start = match.start()
    is_title = _KINDS[match.group(0)] == "title" and len(match.group(0)) > 1
    return start - 1 if is_title and start > 1 and text[start - 1] == " " else start


_CLEAR_CUE_ENDS = ("人", "名", "叫", "是", "字", "：", ":")


def _after_cue(text: str, cue: re.Match[str]) -> Finding | None:
    """联系人：张伟 — the name right after a cue; a title behind it joins the span."""
    if (
        cue.end() < len(text)
        and text[cue.end()] not in _SURNAME_CHARS
        and text[cue.end()] not in _GAP_CHARS
    ):
        return None  # the common case: no name here
    start = _CUE_GAP.match(text, cue.end()).end()  # type: ignore[union-attr]
    surname = _surname_at(text, start) if start < len(text) else 0
    if not surname:
        return None
    # 用户信息 is not 信息 the person: an everyday-word surname needs a clear cue.
    # A label ending in a colon (记录人：原野) is as clear as a gap after the cue.
    clear_cue = start > cue.end() or cue.group(0).endswith(_CLEAR_CUE_ENDS)
    stop = start + surname + _given_length(text, start + surname)
    if surname == 1 and text[start] in _AMBIGUOUS and not clear_cue:
        # 同事安宁是…: an everyday-word name where a person may stand on both sides
        # (not after 找, which takes things as often: 找|门子; nor a function word: 都, 和).
        if cue.group(0) in _THING_CUES or text[start] in FUNCTION_WORDS:
            return None
        return _framed_after_cue(text, start, stop)
    if text[start:stop] in _PLACES or text[start:stop] in _NOT_NAMES:
        return None  # 下次联系：周三
    if not clear_cue and _word_after_cue(text[start:stop], surname):
        return None  # ——班主任, 本人查收: a word, where no label says "a name"
    if "\t" in text[cue.end() : start] and EVERYDAY_WORDS.get(text[start:stop], 0.0) >= 3.0:
        return None  # a table's header row: 学生<TAB>成绩
    if _header_cell(text, cue.end(), start, stop):
        return None  # 车主<TAB>车位 above a row of as many cells: 车位 names a column
    title = next((t for t in TITLES if text.startswith(t, stop)), None)
    if title is not None:
        stop += len(title)
    elif stop == start + surname or longer_value(text, start, stop):
        return None  # "name":"<brand>剪刀礼盒": a product's maker, not a person
    return Finding("PERSON", start, stop, text[start:stop])


_THING_CUES = frozenset(["找", "联系", "叫"])


def _framed_after_cue(text: str, start: int, stop: int) -> Finding | None:
    """After a cue that is no label, a reading whose surname is also a word (安, 麦) is a
    name where it reads like one (``names_frames.name_like``) and what follows is a word
    a person is followed by (是, 在, 说) or no Han character."""
    from plinth.privacy.names_frames import name_like, person_follows

    # The whole run of given characters only: a shorter reading would leave part of a
    # name outside (吉佩|定).
    if name_like(text, start, stop) and person_follows(text, stop):
        return Finding("PERSON", start, stop, text[start:stop])
    return None


def _word_after_cue(value: str, surname: int) -> bool:
    """After a cue that is no label (——, 本人, 交给), an everyday word seen this often
    (jieba's names aside), or given characters all far commoner in words than in names
    (查|收: G -1.8), is what the text says, not a name. (One such character is not
    enough: 钱一多, 孙悟空.)"""
    given, get = value[surname:], GIVEN_LIKELIHOOD.get
    count = EVERYDAY_WORDS.get(value, 0.0)
    if count >= WORD_BEFORE_TITLE and value not in NAME_WORDS:
        # Unless made of name characters and not that common (记者|严明, 丈夫|富贵).
        return count >= WORD_AFTER_CUE or sum(get(ch, -5.0) for ch in given) < NAME_LIKE_GIVEN
    return bool(given) and all(get(ch, 0.0) <= UNLIKE_GIVEN for ch in given)


# A given character whose likelihood (G) is this low or lower is far commoner in words.
UNLIKE_GIVEN = -1.5
# After such a cue, a word seen 1,000 times is a word (严格, 房子), a rarer one only if
# its given characters sum below this G (领导|班子, 学生|谈心; not 记者|严明).
WORD_AFTER_CUE = 3.0
NAME_LIKE_GIVEN = 1.5


def _header_cell(text: str, cue_end: int, start: int, stop: int) -> bool:
    """The value after a cue is the next cell of a table's header row: a tab or a space
    between them, the next line split into as many cells by that separator, and either
    the value is an everyday word (jieba's names aside: 学号 姓名 成绩 above 2023011 党一鸣
    92) or the cell below it holds no Han (车主<TAB>车位 above 钟伟杰<TAB>B-117)."""
    gap = text[cue_end:start]
    separator = "\t" if "\t" in gap else " " if " " in gap else ""
    value = text[start:stop]
    if not separator or value in NAME_WORDS:
        return False
    line_start = text.rfind("\n", 0, cue_end) + 1
    line_end = text.find("\n", stop)
    if line_end == -1:
        return False
    next_end = text.find("\n", line_end + 1)
    below = text[line_end + 1 : len(text) if next_end == -1 else next_end].split(separator)
    cells = text.count(separator, line_start, line_end)
    if cells == 0 or len(below) != cells + 1:
        return False
    if EVERYDAY_WORDS.get(value, 0.0) > 0:
        return True
    under = below[text.count(separator, line_start, start)]
    return not any(is_han(ch) for ch in under)


def _before(text: str, end: int, *, possessive: bool, short_title: bool) -> int | None:
    """Start of a name that ends at ``end`` (surname + 0-2 given characters), if any.

    Among the possible lengths, prefer one whose first character does not
    continue a word (我找王经理 → 王, not 找王), then the longest.
    """
    options = []
    for given in (2, 1, 0):
        if given < int(possessive):
            continue
        for surname in (2, 1):
            start = end - given - surname
            if start < 0 or _surname_at(text, start) != surname:
                continue
            if _given_length(text, start + surname, given) != given:
                continue
            options.append(start)
    clean = [s for s in options if s == 0 or not is_han(text[s - 1]) or text[s - 1] in _NOT_GIVEN]
    for start in clean or options:
        if text[start:end] in _PLACES:
            continue
        if possessive and _thing_before_possessive(text, start, end):
            continue
        if text[start] in _AMBIGUOUS:
            # 时总是…, 我和总经理…, 市场部区域经理, 路由器的号码: the "surname" starts a word.
            bare = start + _surname_at(text, start) == end  # 高老师: surname and title only
            joined = start > 0 and is_han(text[start - 1])
            if (
                possessive
                or (bare and (short_title or joined))
                or (not bare and start not in clean)
            ):
                continue
        return start
    return None


# A two-character given part that is an everyday word this often (log10 of jieba's
# count) and whose characters together are this unlike a given name's is a noun.
THING_WORD = 1.5
THING_GIVEN = 1.0


def _thing_before_possessive(text: str, start: int, end: int) -> bool:
    """修|水管的电话: the "given name" is an everyday noun made of characters names
    seldom hold (水管: G -0.02 and -1.14), so the reading is a verb and its object.
    (Given names that are words, 海燕 and 建国, are made of name characters.)"""
    return _thing_given(text[start + _surname_at(text, start) : end])


def _thing_given(given: str) -> bool:
    """Two given characters that make an everyday noun of characters names seldom hold."""
    if len(given) != 2 or EVERYDAY_WORDS.get(given, 0.0) < THING_WORD:
        return False
    return sum(GIVEN_LIKELIHOOD.get(ch, -5.0) for ch in given) < THING_GIVEN


# An everyday word seen this often (log10 of jieba's count) before a title is no name.
WORD_BEFORE_TITLE = 2.0


def _word_not_name(text: str, start: int, title: re.Match[str]) -> bool:
    """The surname and the title make an everyday word (班主任 is no 班 the person), or a
    one-character title starts one with what follows (宣传工作, 王总结: no 工, no 总).
    (Testing the given characters' likelihood too lost 晏子衿医生: 衿 is rare.)"""
    if EVERYDAY_WORDS.get(text[start : title.end()], 0.0) > 0:
        return True
    at = title.start()
    if title.end() - at == 1 and EVERYDAY_WORDS.get(text[at : at + 2], 0.0) > 0:
        return True
    # 项目经理, 车间主任, 国务院副总: what stands before the title is a word, not a name
    # (jieba's frequent names, 李娜女士, are words too but tagged as names).
    before = text[start : _title_start(text, title)]
    if EVERYDAY_WORDS.get(before, 0.0) >= WORD_BEFORE_TITLE and before not in NAME_WORDS:
        return True
    # 文化厅助理, 唐山站站长: an office's or a place's last character is no given name's;
    # 中国|体育记者, 担任|部长: the surname ends a word that starts before it.
    surname = _surname_at(text, start)
    if any(GIVEN_LIKELIHOOD.get(ch, 0.0) <= -5.0 for ch in before[surname:]):
        return True
    if FUNCTION_WORDS.get(before[:1]) and EVERYDAY_WORDS.get(before[surname:], 0.0) > 0:
        return True  # 和|值班经理: a conjunction, then a word
    return across_start(text, start) >= WORD_BEFORE_TITLE


# Last characters of an office's or a body's name (政务司, 财政局, 三班): a person of it
# may follow with no boundary between.
_OFFICE_ENDS = frozenset("司局处部厅院所办队组社委校厂店馆站班科室")


def _inside_a_word(text: str, start: int, title: re.Match[str]) -> bool:
    """A bare surname before a title (宿老板) glued to a Han character that is no
    context a person follows (no ``LEFT`` word ends there, no clause boundary): the
    surname most likely ends a word begun before it (民宿, too rare for the tables)."""
    if start == 0 or not is_han(text[start - 1]) or text[start - 1] in _NOT_GIVEN:
        return False
    if start + _surname_at(text, start) != _title_start(text, title):
        return False  # a given name between: 赵|晓梅经理 is judged by its characters
    if text[start - 1] in _OFFICE_ENDS:
        return False  # 政务司|黄小姐: an office's name, then its person
    get = LEFT_WORDS.get
    return max(get(text[max(0, start - n) : start], 0.0) for n in (1, 2, 3)) == 0.0


_TITLE_AFTER = re.compile(alternation(sorted(TITLES, key=len, reverse=True)))


def _compound_titled(text: str, compound: re.Match[str]) -> Finding | None:
    """A compound surname right before a title (欧阳总, 上官老师): the trigger scan took
    the surname, so the title after it was never a match of its own. A one-character
    title that starts a word with what follows (欧阳|总是) is no title."""
    title = _TITLE_AFTER.match(text, compound.end())
    if title is None:
        return None
    if (
        title.end() - title.start() == 1
        and EVERYDAY_WORDS.get(text[title.start() : title.end() + 1], 0.0) > 0
    ):
        return None
    return Finding("PERSON", compound.start(), title.end(), text[compound.start() : title.end()])


def find_chinese_names(text: str) -> Iterator[Finding]:
    for match in _TRIGGER.finditer(text):
        kind = _KINDS[match.group(0)]
        if kind == "cue":
            following = text[match.end() : match.end() + 1]
            if following not in _SURNAME_CHARS and following not in _GAP_CHARS:
                continue  # the common case, tested here to spare a call
            found = _after_cue(text, match)
        elif kind == "compound":
            stop = match.end() + _given_length(text, match.end())
            found = Finding("PERSON", match.start(), stop, text[match.start() : stop])
            if (
                stop == match.end()
                or (match.group(0) in _VERB_COMPOUNDS and text[match.end()] not in GIVEN_NAME_CHARS)
                or _thing_given(text[match.end() : stop])
            ):
                found = None  # 诸葛|八卦村, 司马|台长城: the "given name" is a noun
            if stop == match.end():
                found = _compound_titled(text, match)  # 欧阳总, 欧阳老师
        elif not _surname_near(text, _title_start(text, match)):
            found = _after_cue(text, match) if len(match.group(0)) > 1 else None
        else:
            short = kind == "title" and match.group(0) in _SHORT_TITLES
            if short and text.startswith(match.group(0), match.end()):
                continue  # 林林总总: a doubled character, no title
            start = _before(
                text, _title_start(text, match), possessive=kind == "possessive", short_title=short
            )
            stop = match.end() if kind == "title" else match.start()
            found = None if start is None else Finding("PERSON", start, stop, text[start:stop])
            if found is not None and kind == "title" and _word_not_name(text, found.start, match):
                found = None  # 班主任: a word, not a surname before a title
            if found is not None and kind == "title" and _inside_a_word(text, found.start, match):
                found = None  # 民|宿老板: the surname ends a word the text began before it
            if found is not None and counted_thing(text, found.start):
                found = None  # 一家|<brand>大妈: a shop counted like goods
            if found is None and kind == "title" and len(match.group(0)) > 1:
                found = _after_cue(text, match)  # 护士蔡晓燕, 老板吕布: a role in front
        if found is not None:
            yield found
    yield from _dotted_names(text)
    yield from _after_ascii_cues(text)


def _after_ascii_cues(text: str) -> Iterator[Finding]:
    """ "name": "董宇", owner=张伟: a Han name after an ASCII cue and a gap. Each cue's
    occurrences are found with str.find and the gap skipped: a scan for every Han
    character after ASCII text, then a look back from each, cost ~15 µs on a mixed
    2 KB prompt (English prose holds "by" and "name"), this ~2 µs."""
    for word in _ASCII_CUES:
        position = text.find(word)
        while position >= 0:
            end = position + len(word)
            han = end
            while han < len(text) and text[han] in _ASCII_GAP:
                han += 1
            if han < len(text) and is_han(text[han]) and han - position <= _ASCII_WINDOW:
                cue = _ASCII_CUE.match(text, position, han)
                if cue is not None and (found := _after_cue(text, cue)) is not None:
                    yield found
            position = text.find(word, position + 1)


def _dotted_names(text: str) -> Iterator[Finding]:
    """买买提·吐尔逊: transliterated parts on both sides of a middle dot, or a name after a cue."""
    if "·" not in text and "・" not in text and "•" not in text:
        return
    for dot in _DOT.finditer(text):
        middle = dot.start()
        left = middle
        while left > 0 and middle - left < 6 and _translit_at(text, left - 1, -1):
            left -= 1
        right = _translit_end(text, middle + 1)
        if left < middle and right > middle + 1:
            yield Finding("PERSON", left, right, text[left:right])
            continue
        start = middle  # otherwise a cue must come before: 我叫丹增·次仁
        while start > 0 and middle - start < 6 and is_han(text[start - 1]):
            start -= 1
            if text[max(0, start - 10) : start].rstrip(" \t:：是为叫").endswith(NAME_CUES):
                end = middle + 1 + _given_length(text, middle + 1, 8)
                yield Finding("PERSON", start, end, text[start:end])
                break


def _translit_at(text: str, position: int, step: int) -> bool:
    """``text[position]`` belongs to a transliterated name read in direction ``step``:
    a transliteration character, or one Han character between two of them (努尔江·哈力克:
    江 is no such character, but 尔 is, and so is the one after the dot)."""
    ch = text[position]
    if ch in TRANSLIT:
        return True
    further = position + step
    return is_han(ch) and 0 <= further < len(text) and text[further] in TRANSLIT


def _translit_end(text: str, position: int) -> int:
    end = position
    while end < len(text) and end - position < 12:
        dot_joined = text[end] in "·・•" and end + 1 < len(text) and text[end + 1] in TRANSLIT
        if text[end] in TRANSLIT or dot_joined:
            end += 1
        else:
            break
    return end


# A Han character first, the look-behind after it: the engine skips to Han text at once.
# Latin letters glued to a side make a term, not a cell (VPN权限, 权限ID).
_CELL = re.compile(
    r"[\u3400-\u9fff](?<![\u3400-\u9fffA-Za-z].)[\u3400-\u9fff]{1,3}(?![\u3400-\u9fffA-Za-z])"
)


CELL_WORD = 3.0  # log10 of jieba's count: a word seen 1,000 times is no record's name


def find_record_names(text: str, anchors: list[Finding]) -> Iterator[Finding]:
    """Names standing alone in a record next to an identifier: "张三，13912345678" or a
    table row "杨磊 研发部 13800005555". A cell (2-4 Han characters between
    separators) on a line that holds another finding, made of a surname and a
    given name, is taken for a name; everyday-word surnames are left out."""
    lines = {(text.rfind("\n", 0, a.start) + 1, _line_end(text, a.end)) for a in anchors}
    for start, _ in list(lines):  # a signature: the name alone on the line above the number
        if start > 0:
            above = text.rfind("\n", 0, start - 1) + 1
            if _CELL.fullmatch(text, above, start - 1):
                lines.add((above, start - 1))
    for start, end in sorted(lines):
        for cell in _CELL.finditer(text, start, end):
            value = cell.group(0)
            surname = 2 if value[:2] in COMPOUND_SURNAMES else 1
            if surname == 1 and (value[0] not in SURNAMES or value[0] in _AMBIGUOUS):
                continue
            given = value[surname:]
            if not 1 <= len(given) <= 2 or any(ch in _NOT_GIVEN for ch in given):
                continue
            # （母亲）, 父亲: a frequent everyday word (jieba's names excepted) is no name.
            if EVERYDAY_WORDS.get(value, 0.0) >= CELL_WORD and value not in NAME_WORDS:
                continue
            if value not in _PLACES:
                yield Finding("PERSON", cell.start(), cell.end(), value)


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end == -1 else end
