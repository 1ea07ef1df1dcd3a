"""Word lists the name, address and plate detectors use (no model, nothing downloaded).

The surname list covers the common single surnames (together well over 95 % of
the population in published surname statistics) and the compound surnames
still in use; provinces and their short forms come from GB/T 2260. Lists are
kept as plain strings so they read like data and stay cheap to import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path


def alternation(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, longest first, factored by first character.

    Python's engine tries the branches of an alternation one by one; grouping them
    by first character (一(?:二|三)|…) lets it skip a whole group on one compare,
    which makes scans over lists of hundreds of words several times cheaper.
    """
    groups: dict[str, list[str]] = {}
    for word in sorted(set(words), key=len, reverse=True):
        groups.setdefault(word[0], []).append(word[1:])
    parts = []
    for first, rests in groups.items():
        tails = "|".join(re.escape(rest) for rest in rests if rest)
        optional = "?" if "" in rests else ""
        parts.append(re.escape(first) + (f"(?:{tails}){optional}" if tails else ""))
    return "|".join(parts)


def words(text: str) -> list[str]:
    """Whitespace-separated words: long lists stay readable as data."""
    return text.split()


SINGLE_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜萧傅阎"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎"
    "贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申"
    "欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴"
    "蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席"
    "卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟"
    "邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强"
    "帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍"
    "辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉"
    "冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由赖洪丘凤"
)

COMPOUND_SURNAMES = frozenset(
    words(
        "欧阳 上官 司马 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 轩辕 "
        "令狐 端木 南宫 西门 独孤 百里 呼延 钟离 闻人 万俟 澹台 公冶 太史 申屠 赫连 "
        "拓跋 东郭 左丘 第五 谷梁 梁丘 濮阳 淳于 单于 仲孙 鲜于 宗政 亓官 子车 巫马 "
        "公西 漆雕 乐正 壤驷 公良 段干 司寇 百里 呼延 东门 羊舌 微生 梁丘 左人 即墨"
    )
)

# Words that follow a surname and make it a reference to a person: 张经理, 王老师.
TITLES = tuple(
    sorted(
        words(
            "先生 女士 小姐 老师 教授 医生 大夫 护士 经理 总经理 副总 总监 主任 主管 "
            "书记 院长 校长 局长 处长 科长 部长 所长 厂长 站长 队长 组长 班长 警官 律师 "
            "会计 师傅 阿姨 叔叔 大爷 大妈 大姐 大哥 同学 同志 工 总 董 老板 博士 秘书 "
            "专员 顾问 助理 司机 医师 主任医师 工程师 设计师 讲师 法官 检察官 记者 编辑 "
            "店长 太太 夫人 老太 姐 哥"
        ),
        key=len,
        reverse=True,
    )
)

# Words in front of a name that say a name follows: 联系人：张伟, 收件人王芳, 我叫刘洋.
NAME_CUES = tuple(
    sorted(
        words(
            "姓名 名字 联系人 收件人 收货人 寄件人 发件人 申请人 投保人 被保险人 受益人 "
            "患者 病人 客户 用户 业主 租客 房东 员工 职工 学生 家长 负责人 经办人 法人 "
            "法定代表人 代理人 持卡人 户主 开户人 签收人 对接人 联络人 报案人 当事人 乘客 "
            "旅客 住客 会员 账户名 我叫 我是 叫做 名叫 姓名是 本人 亲属 配偶 丈夫 妻子 "
            "老公 老婆 父亲 母亲 儿子 女儿 同事 朋友 领导 经理 主管 老师 医生 转给 转交 "
            "交给 联系 致电 找 问问 告诉 通知 抄送 签名 署名 审批人 提交人 创建人 处理人 "
            "指派给 派给 寄给 发给 送给 递给 打给 叫 此致 顺颂商祺 祝好 "
            "—— -- 敬礼 人： 人: 车主 户名 收货 by name receiver holder owner "
            "contact customer Name"
        ),
        key=len,
        reverse=True,
    )
)

# What may follow a name and says it was one: 张伟的电话, 王芳说, 李娜（销售部）.
NAME_FOLLOWERS = tuple(
    sorted(
        words(
            "的电话 的手机 的号码 的地址 的身份证 的邮箱 的账户 的卡号 的微信 的简历 的合同 "
            "的航班 的作业 的快递 的订单 的病历 的工资 的护照 的档案 的包裹 的车 的房子 "
            "的孩子 的妈妈 的爸爸 的家人 的老婆 的老公 的女儿 的儿子 的工号 的密码 电话 手机 "
            "身份证 说 称 表示 反馈 投诉 来电 打电话 提到 确认 同意 签字 签收 住在 家住 "
            "现住 负责 先生 女士 同学 您好 你好 收 启 敬上 在吗 请假 报销 入职 离职 "
            "出差"
        ),
        key=len,
        reverse=True,
    )
)

PROVINCES = words(
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 "
    "山东 河南 湖北 湖南 广东 海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 "
    "广西 西藏 宁夏 新疆 香港 澳门"
)

# Big cities often written without 市 ("深圳南山区"); with 市 any city is found by its suffix.
CITIES = words(
    "广州 深圳 珠海 汕头 佛山 东莞 中山 惠州 江门 湛江 杭州 宁波 温州 绍兴 嘉兴 "
    "湖州 金华 台州 南京 苏州 无锡 常州 南通 扬州 徐州 镇江 盐城 济南 青岛 烟台 "
    "潍坊 威海 临沂 淄博 武汉 宜昌 襄阳 长沙 株洲 湘潭 岳阳 成都 绵阳 宜宾 西安 "
    "咸阳 宝鸡 郑州 洛阳 开封 石家庄 唐山 保定 秦皇岛 太原 大同 沈阳 大连 鞍山 "
    "长春 哈尔滨 大庆 合肥 芜湖 福州 厦门 泉州 漳州 南昌 赣州 九江 南宁 桂林 "
    "柳州 北海 海口 三亚 贵阳 遵义 昆明 大理 丽江 拉萨 兰州 西宁 银川 乌鲁木齐 "
    "呼和浩特 包头 鄂尔多斯"
)
# Last characters of nouns that name a person: roles (村民, 被告人, 记者, 班长, 医师,
# 学生, 快递员, 骑手), kin and forms of address (妈妈, 大爷, 女士). A person may stand
# right after such a noun, and the name model counts one as strong context.
PERSON_NOUN_ENDS = frozenset("人员民者长师生工友手士爷妈爸奶姐哥弟妹叔姨婆嫂舅")
# The ones that end a role and little else (骑手, 保洁员, 技师): trusted even for a word
# too rare for the name model's tables. (人 ends 给人 and 个人, 哥 starts 哥白尼.)
ROLE_ENDS = frozenset("员手师长生士工")
# A place's name is no person's name (海南, 长春): the name detectors' shared check.
PLACES = frozenset([*PROVINCES, *CITIES])

# Plate prefixes: one character per province-level division.
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

# Characters common in given names (from everyday knowledge of modern names, not from
# any test case). Characters that mostly do other work (的, 和, 正, 天, 中) are left
# out; words made of a surname and these characters that are not names (黄金, 安全,
# 方明) are removed by COMMON_WORDS. ``GIVEN_NAME_CHARS`` adds those mined from
# jieba's person names (``build_common_words``).
HAND_GIVEN_NAME_CHARS = frozenset(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红兰飞鹏斌辉宇浩凯健俊帆帅旭宁龙林欣佳怡"
    "涵轩梓萱雨思梦晨博文然婷雪慧琳倩颖晶燕春晓建国志海东峰波成荣新清亮松忠彬鑫瑞祥嘉悦琪瑶璐露蕾"
    "薇菲妍婧媛婉婕娅姗珊珍珠琴瑜璇琦瑾蓉莉莹萌蕊茜荷菊梅竹云霖雷阳光辰星月晴皓昊晟昕晖曦煜炜烨熙"
    "焕钰铭锋锐钢金锦泽洪涌淼源澜润沛泓湘江川山岩峻崇岳森桐杨柏楠彤桦栋梁德仁义礼智信孝勤恭宽敬诚"
    "毅坚威武雄豪娇柔芬芝芸苗青彩紫翠丹黛永寿康安泰顺福禄喜庆贵宝昌盛兴旺升腾跃翔鸿鹤莺凤虎麟彪骏"
    "驰远航舟宙坤乾元亨贞希恩惠慈爱树士艺诗棋画墨章歌舞乐欢笑颜容仪雅逸扬宏卓越群冠秋冬朝洁纯真玲"
    "珑琅璞瑛琼瑰晔昱晗暄曼蔓菁茵芮依伊馨香娴淑贤捷聪睿哲耀灿炳煌佩钧锴铮镇恒骁宸霆浚澄淳潇瀚沐溪"
    "渊浪潮岚峥嵘巍奕亦舒畅朗乔柯枫棠杉楷榕槐樟兵卫振少壮劲勋亚京津泉溢滨洲广阔厚谦敦笃伦儒彦旋胜"
    "赢宪政韬铠铎锡钊炯煦照焱曜晋璟珏玮琛珺瑄瑗璋桃李杏莲萧湛淇涓滢漪沁沫汐澈浦筱箐笛笙简蓓蓝茹莎"
    "菡莞蔚霏霓雯霄雁鸣鹰鹃凰凌冰凝冉彧弘弦征忆恺悠惜慕懿攀斐旻昀昆昇映昭晏晞暖朔杭栩桓梵楚樱毓汀"
    "汝沅沣河泊洛洵渝溥滔漫潞澍灏炫烁焰熠燊爽珂珈珩琨琰瑭甜甫皎盈祎祺祯禧稳竣童筠素纪纬维绮缘罡羽"
    "翊翰育臻舜芊芙芷苒茂茗葳蒙蓬虹蝶衡诺谊豫贝赫迪郁铃银镜隆雍霜靖韦韵颂飒飘馥魁麒默亭妮之大"
)

# Given-name characters of jieba's person names (``nr``), cut by ``build_common_words``.
GIVEN_NAME_CHARS = HAND_GIVEN_NAME_CHARS | frozenset(
    (Path(__file__).with_name("given_name_chars.txt")).read_text(encoding="utf-8").strip()
)

# Everyday words shaped like surname + given name (黄金, 王国, 东方明珠): built from
# jieba's dictionary by ``build_common_words``; never a name on their own.
COMMON_WORDS = frozenset(
    (Path(__file__).with_name("common_words.txt")).read_text(encoding="utf-8").split()
)

# Traditional characters and their one simplified form (陳 -> 陈, 號 -> 号), only those
# never written in simplified text (build_traditional.py): ``detectors.normalize``
# maps them so that Hong Kong and Taiwan script meets the simplified tables.
TRADITIONAL = {
    line[0]: line[1]
    for line in (Path(__file__).with_name("traditional_chars.txt"))
    .read_text(encoding="utf-8")
    .splitlines()
    if len(line) == 2
}
