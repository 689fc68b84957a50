"""What the people-moves rules know about words: gazetteers, title words, name shapes and the move verbs.

Data, not logic: the widely known organisations (to tell them from people, and to map Chinese
company names), the words that are titles or never names, the Han surnames and transliteration
characters that give a Chinese name its shape, and the tables of move verbs in both languages.
Kept in one place so that a new company, title or verb is one line here and no rule changes.
"""

from __future__ import annotations

import re

# A table of move verbs: (structure, action, compiled pattern).
VerbTable = tuple[tuple[str, str, re.Pattern[str]], ...]

LATIN = "A-Za-zÀ-ÖØ-öø-ɏ"  # bodies of character classes: Latin letters, Han characters
HAN = "\u4e00-\u9fff"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- organisations, titles, words that are never names ------------------------------------------------------

KNOWN_ORGS = _words(
    "OpenAI Google DeepMind Alphabet Microsoft Meta Facebook Instagram WhatsApp Apple Amazon AWS Nvidia NVIDIA "
    "Anthropic xAI Tesla SpaceX Twitter Mistral Cohere Inflection Stability Adept Perplexity Midjourney Runway "
    "Databricks Salesforce Oracle IBM Intel AMD Qualcomm Samsung Sony Uber Netflix Baidu Alibaba Tencent "
    "ByteDance Huawei Xiaomi Meituan Kuaishou SenseTime iFlytek Zhipu DeepSeek MiniMax Baichuan Moonshot "
    "Stanford MIT Harvard Berkeley Princeton Yale Oxford Cambridge Tsinghua Mila EleutherAI LAION Wayve Bing "
    "Azure Copilot ChatGPT Gemini Claude Llama Sora Grok Bard Qwen Hugging Reuters Bloomberg Verge TechCrunch "
    "Wired Nature Science Axios Information"
)

ZH_ORGS = {
    "谷歌": "Google", "微软": "Microsoft", "阿里巴巴": "Alibaba", "阿里云": "Alibaba Cloud", "阿里": "Alibaba",
    "腾讯": "Tencent", "百度": "Baidu", "字节跳动": "ByteDance", "字节": "ByteDance", "华为": "Huawei",
    "苹果": "Apple", "亚马逊": "Amazon", "英伟达": "Nvidia", "脸书": "Facebook", "特斯拉": "Tesla",
    "小米": "Xiaomi", "美团": "Meituan", "京东": "JD", "快手": "Kuaishou", "拼多多": "Pinduoduo",
    "网易": "NetEase", "商汤": "SenseTime", "旷视": "Megvii", "科大讯飞": "iFlytek", "智谱": "Zhipu",
    "月之暗面": "Moonshot AI", "深度求索": "DeepSeek", "百川智能": "Baichuan", "零一万物": "01.AI",
    "阶跃星辰": "StepFun", "三星": "Samsung", "英特尔": "Intel", "推特": "Twitter", "斯坦福": "Stanford",
    "麻省理工": "MIT", "清华大学": "Tsinghua University", "北京大学": "Peking University", "达摩院": "DAMO Academy",
}  # fmt: skip

ORG_WORDS = _words(
    "AI Labs Lab Research Inc Inc. Corp Corp. Ltd Ltd. LLC Co. Technologies Technology Systems Group Holdings "
    "University Institute Intelligence Superintelligence Machines Robotics Dynamics Ventures Capital Partners "
    "Foundation Academy Studio Studios Networks Computing Software Cloud Brain Forum Alliance Council Commission "
    "Parliament Diffusion Transformer Models Model Five Bank Times Post Journal News Media Motors Energy Health "
    "Trust Fund Coalition Society Agency Office Department Ministry Bureau Committee Center Centre Hospital "
    "Museum Project Initiative Program Programme Association Club League Union"
)

ROLE_WORDS = _words(
    "CEO CTO COO CFO CSO CPO CRO CMO VP SVP EVP Chief Head President Chair Chairman Chairwoman Director Founder "
    "Co-founder Cofounder Co-Founder Scientist Researcher Engineer Lead Leader Fellow Officer Executive Board "
    "Member Partner Adviser Advisor Manager General Architect Economist Professor Team Unit Division Co-CEO "
    "Co-CEOs Dr Dr. Prof Prof."
)

# Capitalised words that are never part of a person's name: sentence starters, headline words, verbs.
STOP = _words(
    """the a an and or but of in on at to for from with by as into over under out up down back after before
    amid following why how what when where who whom here this that these those it its he she they his her their we
    our i you your new former ex ousted outgoing incoming interim acting top key star veteran longtime senior
    godfather pioneer turing award nobel prize winner dr mr ms mrs sir breaking exclusive report reports sources
    update watch opinion analysis interview all more most first last next then now today yesterday week month year
    days day january february march april may june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday startup company firm lab safety alignment superalignment agent agents
    silicon valley palo alto tel aviv san francisco york london paris beijing shanghai shenzhen hangzhou seattle
    boston tokyo california america china europe european chinese american french british us uk eu big tech
    joins joined joining join rejoins rejoined rejoining leaves leaving left leave departs departed departing quits
    quit exits exit steps stepped down resigns resigned resignation hires hired hiring poaches poached recruits
    names named appoints appointed taps tapped fires fired ousts removes removed launches launched founds founded
    returns returned returning return lands moves goes going heads says said announces announced confirms
    confirmed reveals becomes became is was are has have had be to not no yes one two three four five six
    """
)
PARTICLES = _words("de van von der den da di del dos du le la bin ibn al")
NAME_PREFIXES = ("Mc", "Mac", "De", "Di", "Le", "La", "Du", "Van", "Von", "Fitz", "O'", "D'", "O’", "D’")

# --- what a Chinese name looks like ------------------------------------------------------------------------

SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施"
    "文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
    "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷"
    "晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
DOUBLE_SURNAMES = _words("欧阳 司马 上官 诸葛 东方 慕容 令狐 皇甫 尉迟 公孙 长孙 宇文 司徒 夏侯")

TRANSLIT = frozenset(  # characters Chinese uses to transliterate foreign names (马斯克, 扎克伯格)
    "阿艾安奥巴贝本比波伯布查达戴德迪丁杜多厄恩法菲芬弗福盖冈戈格古哈汉豪赫亨霍基吉加贾杰金卡凯坎康柯科克肯库"
    "拉莱兰朗劳勒雷里利莉林琳隆卢鲁伦罗洛马麦曼梅蒙米明莫姆穆纳奈南尼涅纽诺欧帕佩彭皮普奇齐乔切琼丘萨塞桑瑟森沙"
    "莎舍什施斯松苏索塔泰坦汤特提图托瓦万威韦维温沃乌西希谢辛休雅亚扬耶伊因英尤约泽扎詹兹佐卓茨"
)

NOT_HAN_NAMES = _words(
    "高管 高层 高级 方面 于是 任何 马上 金融 全员 向来 文章 周年 周期 明年 曾经 安全 程序 应用 石油 黄金 常年 "
    "毛利 宋体 余额 时间 时代 华人 华尔街 白宫 司机 师生 林业 钱包 谷歌 苹果 阿里 施工 沙特 关于 关注 成本 成员 "
    "成为 成立 和平 车企 路线 万亿 于此 向量 温度 梁上 包括 连续 解决 申请 曾任 曾在 曾是 时任 现任 原任"
)
NOT_IN_HAN_NAMES = "们司部队员户者界业会院室组网区厂器型据的了是在"

# Chinese titles as one alternation, longest first (首席科学家 before 科学家).
ZH_ROLES = "|".join(
    sorted(
        _words(
            "首席执行官 首席技术官 首席科学家 首席运营官 首席财务官 首席产品官 首席架构师 高级副总裁 执行副总裁 "
            "副总裁 总裁 联合创始人 创始人 创办人 技术负责人 负责人 带头人 掌门人 一把手 董事长 副董事长 董事 总经理 "
            "总监 主管 合伙人 科学家 研究员 研究者 学者 工程师 教授 院长 副院长 所长 主任 专家 大牛 大佬 大咖 高管 "
            "元老 老将 骨干 领军人物 "
            "得主 先驱 之父 教父 CEO CTO COO CFO CSO VP 主席 成员 员工 作者"
        ),
        key=len,
        reverse=True,
    )
)
ZH_ROLE_RE = re.compile(ZH_ROLES)

# --- compiled gazetteers and move verbs -------------------------------------------------------------------

ZH_ORG_RE = re.compile("|".join(sorted(map(re.escape, ZH_ORGS), key=len, reverse=True)))

# Move verbs as (structure, action, pattern). "subj": person before the verb, org after it. "obj": org before, person
# after ("Microsoft hires X"). "passive": person, verb, "by" org. "poss": "X's resignation".
# Where matches overlap, the earlier entry that yields a move wins.

_EN_VERBS: tuple[tuple[str, str, str], ...] = (
    (
        "subj",
        "return",
        r"rejoin(?:s|ed|ing)?|return(?:s|ed|ing)?\s+(?:to|as)|(?:is\s+|are\s+)?go(?:es|ing)?\s+back\s+to"
        r"|went\s+back\s+to|head(?:s|ed|ing)?\s+back\s+to|c[oa]mes?\s+back(?:\s+to|\s+as)?|coming\s+back(?:\s+to|\s+as)?",
    ),
    ("passive", "join", r"(?:hired|poached|recruited|lured(?:\s+away)?|snapped\s+up|acqui-?hired)\s+by"),
    (
        "subj",
        "join",
        r"join(?:s|ed|ing)?|land(?:s|ed|ing)?\s+at|mov(?:es|ed|ing)\s+to|move\s+to|defect(?:s|ed|ing)?\s+to"
        r"|jump(?:s|ed|ing)?\s+(?:ship\s+)?to|head(?:s|ing)?\s+to|(?:mov|switch|jump|defect)(?:es|ed|ing|s|e)?\s+from"
        r"|sign(?:s|ed)?\s+on\s+(?:with|at|to)|decamp(?:s|ed)?\s+to|(?:is|was)\s+headed\s+to",
    ),
    (
        "subj",
        "leave",
        r"(?:is|was|has\s+been|gets|got|been|being)\s+(?:fired|ousted|dismissed|sacked|pushed\s+out|forced\s+out"
        r"|let\s+go|removed)|(?:is|was|are)\s+out\s+(?:as|at|from)|out\s+as|lea(?:ves|ving|ve)|left"
        r"|depart(?:s|ed|ing)?|quit(?:s|ting)?|exit(?:s|ed|ing)?|step(?:s|ped|ping)?\s+(?:down|away|aside)"
        r"|resign(?:s|ed|ing)?|retir(?:es|ed|ing|e)(?!\s+(?:the|its|his|her|their|an?)\b)|part(?:s|ed)?\s+ways\s+with"
        # a temporary leave: "is on a four-month sabbatical", "takes a leave of absence", "was placed on leave"
        r"|(?:is|was|are|were|will\s+be|has\s+been|goes|went|go(?:ing)?|(?:is|was|are|were|has\s+been)\s+(?:placed|put|sent))"
        r"\s+on\s+(?:a\s+|an\s+)?(?:[\w-]+\s+){0,3}?(?:sabbatical|leave(?:\s+of\s+absence)?|furlough)"
        r"|(?:tak(?:es|ing|en)|took|take)\s+(?:a\s+|an\s+)?(?:[\w-]+\s+){0,3}?(?:sabbatical|leave(?:\s+of\s+absence)?)"
        r"|(?:is|was|has\s+been|been)\s+suspended",
    ),
    (
        "subj",
        "found",
        r"co-?found(?:s|ed|ing)?|found(?:s|ed)?|launch(?:es|ed|ing)?|start(?:s|ed|ing)?|set(?:s|ting)?\s+up"
        r"|form(?:s|ed)|unveil(?:s|ed)|sp[iu]n(?:s)?\s+(?:up|out)",
    ),
    (
        "subj",
        "appoint",
        r"(?:is\s+|was\s+|has\s+been\s+|will\s+be\s+|to\s+be\s+|been\s+)?(?:named|appointed|tapped|promoted|elevated"
        r"|elected|announced\s+as)(?:\s+as|\s+to)?|becom(?:es|ing)|became|become"
        r"|(?:tak(?:es|ing)|took|take)\s+over\s+as|(?:tak(?:es|ing)|took|take)\s+on\s+the\s+role\s+of"
        r"|(?:will|to)\s+serve\s+as|(?:will|to)\s+chair|(?:will|would)\s+be(?=\s+(?:its|the|their)\s)"
        r"|(?:will|to|would)\s+(?:stay|remain)\s+(?:on\s+)?as"  # after a step down: a new role at the same company
        r"|(?:will|to|would)\s+(?:now\s+|jointly\s+)?(?:lead|head|run|oversee)"
        r"|succeed(?:s|ed|ing)?|replac(?:es|ed|ing|e)|tak(?:es|ing)\s+over\s+from",  # "X succeeds Y as CEO"
    ),
    ("poss", "leave", r"resignation|departure|exit|ouster|firing|dismissal|removal|retirement"),
    ("poss", "return", r"return\s+to|comeback"),
    ("poss", "appoint", r"appointment|promotion"),
    ("poss", "join", r"move\s+to|jump\s+to"),
    ("poss", "found", r"new\s+(?:AI\s+)?(?:company|startup|start-up|lab|venture)"),
    (
        "obj",
        "return",
        r"rehir(?:es|ed|ing)|reinstat(?:es|ed|ing)|br(?:ings?|ought|inging)\s+back|welcom(?:es|ed)\s+back",
    ),
    (
        "obj",
        "join",
        r"hir(?:es|ed|ing)|hire|poach(?:es|ed|ing)?|recruit(?:s|ed|ing)?|lur(?:es|ed|ing)|nab(?:s|bed)?"
        r"|snag(?:s|ged)?|acqui-?hir(?:es|ed)|br(?:ings?|ought)\s+(?:on|in|aboard)|welcom(?:es|ed)|lands",
    ),
    ("obj", "appoint", r"nam(?:es|ed|ing)|appoint(?:s|ed|ing)?|tap(?:s|ped|ping)|promot(?:es|ed|ing)|elevat(?:es|ed)"),
    (
        "obj",
        "leave",
        r"fir(?:es|ed|ing)|ous(?:ts|ted|ting|t)|remov(?:es|ed|ing)|sack(?:s|ed)|dismiss(?:es|ed)"
        r"|(?:push|forc)(?:es|ed)\s+out",
    ),
)
EN_VERBS: VerbTable = tuple((s, a, re.compile(rf"\b(?:{p})\b", re.I)) for s, a, p in _EN_VERBS)
EN_ANY_VERB = re.compile(r"\b(?:" + "|".join(f"(?:{p})" for _, _, p in _EN_VERBS) + r")\b", re.I)  # one scan

_ZH_VERBS: tuple[tuple[str, str, str], ...] = (
    ("obj", "join", "聘请|聘用|招募|挖走|挖来|挖角|招揽|延揽|收编"),
    ("obj", "appoint", "任命|委任|提拔"),
    ("obj", "leave", "解雇|开除|罢免|免去|炒掉|踢出"),
    (
        "subj",
        "leave",
        "被(?:公司|董事会|[A-Za-z]{2,12}\\s*)?(?:解雇|开除|罢免|免职|踢出|停职|辞退)|不再(?:担任|出任)|离职|离开|出走|辞职|辞任|辞去|卸任|退出|退休|停职"
        "|(?:开始|进入)?(?:为期[^,，。]{1,6})?(?:带薪|学术)?(?:行政)?(?:休假|休长假)",
    ),
    ("subj", "return", "回归|重返|重回|回到"),
    ("subj", "join", "加入|加盟|入职|投奔|转投|跳槽(?:至|到)?"),
    (
        "subj",
        "found",
        "联合创立|共同创立|联合创办|共同创办|联合创建|共同创建|共创|创立|创办|创建|成立(?!于|\\d)"
        "|创业(?!公司|者|团队|企业|项目|板块|之路|潮|圈|热|故事)",
    ),
    (
        "subj",
        "appoint",
        "被任命为|被提拔为|出任|担任|兼任|接任|转任|就任|履新|升任|晋升为|获任|领导(?![的下层人力者])|执掌|掌舵"
        "|任(?=\\s*(?:首席|CEO|CTO|COO|CFO|总裁|主席|董事|总经理|负责人|院长|所长|联席|联合|临时|新任|副))",
    ),
)
ZH_VERBS: VerbTable = tuple((s, a, re.compile(p)) for s, a, p in _ZH_VERBS)
ZH_ANY_VERB = re.compile("|".join(p for _, _, p in _ZH_VERBS))  # where a Chinese name ends: any move verb
ZH_OBJECT_VERB = re.compile("|".join(p for s, _, p in _ZH_VERBS if s == "obj"))  # 任命|聘请|…: a person follows
ZH_NEEDS_YOU = frozenset(("领导", "执掌", "掌舵"))  # only "由 X 领导" states an appointment

# Words that may stand between a Chinese subject and its verb (already, officially, announced, …).
ZH_FILLERS = (
    "已经|已于|已|将会|将要|将|或将|即将|正式|宣布|官宣|确认|证实|表示|透露|称|此前|近日|日前|今天|今日|昨天|昨日|本周|也|"
    "再次|重新|计划|拟|决定|选择|同时|共同|联合|均|都|先后|刚刚|突然|本人|还|则|就|于|一同|随后|临时|博士|教授|先生|女士|他|她|"
    "被曝|被传|据悉|据报道|并|本月|上月|上周|近期|今年"
)


def verb_hits(text: str, table: VerbTable) -> list[tuple[int, int, str, str]]:
    """Every verb of the table in the text as (start, end, structure, action): leftmost first, then longest,
    then in table order."""
    hits = sorted((m.start(), -m.end(), i) for i, (_, _, rx) in enumerate(table) for m in rx.finditer(text))
    return [(start, -neg_end, table[i][0], table[i][1]) for start, neg_end, i in hits]
