"""People moves: who joined, left, founded, returned to or was appointed at which company.

Why rules and not a model: news states a move in a few fixed ways in both languages ("X joins Y",
"Y hires X", "X steps down as CEO", "X 加盟 Y", "Y 任命 X 为…", "X 从 Y 离职"), names have
recognisable shapes (two or three capitalised Latin tokens; a Han surname plus one or two
characters after a title word; a transliteration with a middle dot), and a false move in a digest
costs more than a missed one. So: find a move verb, take the person from the side of the verb its
construction puts them on (subject, object, "by"/"被" agent), the organisation from the slot after
it (or, for "joins as chief scientist" / "任 CEO", from the item's context), and drop what is
stated as background ("who joined Google in 2013", "曾…"), negated, or not about a company.

Pure functions of text; no I/O and no model. The gazetteers hold only widely known companies and
labs (to tell organisations from people, and to map Chinese company names); everything else is
recognised by shape.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

ACTIONS = ("join", "leave", "found", "return", "appoint")


@dataclass(frozen=True, slots=True)
class Move:
    person: str  # as written in the text, full name when the text gives it
    from_org: str  # "" when not stated
    to_org: str  # "" when not stated (e.g. a departure to nowhere named)
    role: str  # "" when not stated
    action: str  # "join" | "leave" | "found" | "return" | "appoint"


@dataclass(frozen=True, slots=True)
class _Span:
    text: str
    start: int
    end: int
    single: bool = False  # a lone Latin token with no title before it: perhaps not a person at all


@dataclass(slots=True)
class _Entities:
    persons: list[_Span]
    orgs: list[_Span]


@dataclass(frozen=True, slots=True)
class _Draft:
    move: Move
    single: bool  # the person is an untitled lone token: kept only if the item gives the full name
    needs_org: bool  # the organisation is left to context ("joins as chief scientist", "任 CEO")
    org_before: str  # nearest organisation earlier in the sentence that is not a former employer


# --- lexicons: widely known organisations, titles, words that are never names -------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_KNOWN_ORGS = _words(
    "OpenAI Google DeepMind Alphabet Microsoft Meta Facebook Instagram WhatsApp Apple Amazon AWS Nvidia NVIDIA "
    "Anthropic xAI Tesla SpaceX Twitter Mistral Cohere Inflection Stability Adept Perplexity Midjourney Runway "
    "Databricks Salesforce Oracle IBM Intel AMD Qualcomm Samsung Sony Uber Netflix Baidu Alibaba Tencent "
    "ByteDance Huawei Xiaomi Meituan Kuaishou SenseTime iFlytek Zhipu DeepSeek MiniMax Baichuan Moonshot "
    "Stanford MIT Harvard Berkeley Princeton Yale Oxford Cambridge Tsinghua Mila EleutherAI LAION Wayve Bing "
    "Azure Copilot ChatGPT Gemini Claude Llama Sora Grok Bard Qwen Hugging Reuters Bloomberg Verge TechCrunch "
    "Wired Nature Science Axios Information"
)
_ZH_ORGS = {
    "谷歌": "Google", "微软": "Microsoft", "阿里巴巴": "Alibaba", "阿里云": "Alibaba Cloud", "阿里": "Alibaba",
    "腾讯": "Tencent", "百度": "Baidu", "字节跳动": "ByteDance", "字节": "ByteDance", "华为": "Huawei",
    "苹果": "Apple", "亚马逊": "Amazon", "英伟达": "Nvidia", "脸书": "Facebook", "特斯拉": "Tesla",
    "小米": "Xiaomi", "美团": "Meituan", "京东": "JD", "快手": "Kuaishou", "拼多多": "Pinduoduo",
    "网易": "NetEase", "商汤": "SenseTime", "旷视": "Megvii", "科大讯飞": "iFlytek", "智谱": "Zhipu",
    "月之暗面": "Moonshot AI", "深度求索": "DeepSeek", "百川智能": "Baichuan", "零一万物": "01.AI",
    "阶跃星辰": "StepFun", "三星": "Samsung", "英特尔": "Intel", "推特": "Twitter", "斯坦福": "Stanford",
    "麻省理工": "MIT", "清华大学": "Tsinghua University", "北京大学": "Peking University", "达摩院": "DAMO Academy",
}  # fmt: skip
_ORG_WORDS = _words(
    "AI Labs Lab Research Inc Inc. Corp Corp. Ltd Ltd. LLC Co. Technologies Technology Systems Group Holdings "
    "University Institute Intelligence Superintelligence Machines Robotics Dynamics Ventures Capital Partners "
    "Foundation Academy Studio Studios Networks Computing Software Cloud Brain Forum Alliance Council Commission "
    "Parliament Diffusion Transformer Models Model Five Bank Times Post Journal News Media Motors Energy Health "
    "Trust Fund Coalition Society Agency Office Department Ministry Bureau Committee Center Centre Hospital "
    "Museum Project Initiative Program Programme Association Club League Union"
)
_ROLE_WORDS = _words(
    "CEO CTO COO CFO CSO CPO CRO CMO VP SVP EVP Chief Head President Chair Chairman Chairwoman Director Founder "
    "Co-founder Cofounder Co-Founder Scientist Researcher Engineer Lead Leader Fellow Officer Executive Board "
    "Member Partner Adviser Advisor Manager General Architect Economist Professor Team Unit Division Co-CEO "
    "Co-CEOs Dr Dr. Prof Prof."
)
# Capitalised words that are never part of a person's name: sentence starters, headline words, verbs.
_STOP = _words(
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
_PARTICLES = _words("de van von der den da di del dos du le la bin ibn al")
_NAME_PREFIXES = ("Mc", "Mac", "De", "Di", "Le", "La", "Du", "Van", "Von", "Fitz", "O'", "D'", "O’", "D’")

_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施"
    "文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
    "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷"
    "晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_DOUBLE_SURNAMES = _words("欧阳 司马 上官 诸葛 东方 慕容 令狐 皇甫 尉迟 公孙 长孙 宇文 司徒 夏侯")
_TRANSLIT = frozenset(  # characters Chinese uses to transliterate foreign names (马斯克, 扎克伯格)
    "阿艾安奥巴贝本比波伯布查达戴德迪丁杜多厄恩法菲芬弗福盖冈戈格古哈汉豪赫亨霍基吉加贾杰金卡凯坎康柯科克肯库"
    "拉莱兰朗劳勒雷里利莉林琳隆卢鲁伦罗洛马麦曼梅蒙米明莫姆穆纳奈南尼涅纽诺欧帕佩彭皮普奇齐乔切琼丘萨塞桑瑟森沙"
    "莎舍什施斯松苏索塔泰坦汤特提图托瓦万威韦维温沃乌西希谢辛休雅亚扬耶伊因英尤约泽扎詹兹佐卓茨"
)
_NOT_HAN_NAMES = _words(
    "高管 高层 高级 方面 于是 任何 马上 金融 全员 向来 文章 周年 周期 明年 曾经 安全 程序 应用 石油 黄金 常年 "
    "毛利 宋体 余额 时间 时代 华人 华尔街 白宫 司机 师生 林业 钱包 谷歌 苹果 阿里 施工 沙特 关于 关注 成本 成员 "
    "成为 成立 和平 车企 路线 万亿 于此 向量 温度 梁上 包括 连续 解决 申请"
)
_NOT_IN_HAN_NAMES = "们司部队员户者界业会院室组网区厂器型据的了是在"
_ZH_ROLES = sorted(
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

# --- patterns: names and organisations ------------------------------------------------------------------

_L = "A-Za-zÀ-ÖØ-öø-ɏ"
_HAN = "\u4e00-\u9fff"
_TOKEN = rf"(?:[A-Z0-9]|[a-z](?=[A-Z]))[{_L}0-9.&'’+\-]*"
_CAP_RUN = re.compile(rf"(?<![{_L}0-9]){_TOKEN}(?:[ ](?:(?:{'|'.join(_PARTICLES)})[ ])?{_TOKEN})*")
_INSIDE_ORG_NAME = re.compile(r"\b[A-Z][\w.]*\s+(?:of|for)\s+(?:the\s+)?$")  # Centers for …, University of …
_POSSESSIVE = re.compile(r"['’]s?$")
_DOTTED_NAME = re.compile(rf"[{_HAN}]{{1,8}}(?:\s?[·•‧・]\s?[{_HAN}]{{1,8}})+")
_ZH_ROLE_RE = re.compile("|".join(sorted(map(re.escape, _ZH_ROLES), key=len, reverse=True)))
_ZH_ORG_RE = re.compile("|".join(sorted(map(re.escape, _ZH_ORGS), key=len, reverse=True)))
_ZH_SUFFIX_ORG = re.compile(
    rf"(?:(?<=^)|(?<=[\s,，、:：;；|｜(（「]))[{_HAN}A-Za-z]{{1,8}}?(?:公司|实验室|研究院|研究所|集团|大学|学院|科技)"
    rf"(?![{_HAN}])"
)
_ZH_SUFFIX_ORG_AT = re.compile(rf"[{_HAN}A-Za-z]{{1,8}}?(?:实验室|研究院|研究所|集团|大学|学院|科技)(?![{_HAN}])")
_ZH_NAMED_COMPANY = re.compile(  # 「安全超级智能」公司 SSI, 具身智能公司星河机器人
    rf"」?[{_HAN}A-Za-z ]{{0,10}}?(?:公司|实验室|初创企业|企业)\s*"
    rf"(「[^」]{{2,20}}」|[A-Z][{_L}0-9.&\- ]*[{_L}0-9.]|[{_HAN}]{{2,8}}(?=$|[\s,，。;；(（]))"
)
_TITLE_BEFORE = re.compile(
    r"(?:\b(?:C[A-Z]O|VP|founder|co-?founder|chief|scientist|researcher|engineer|pioneer|godfather|head|president"
    r"|chair\w*|director|lead|executive|professor|Dr\.?|Prof\.?)|" + "|".join(_ZH_ROLES) + r")\s*['’]*\s*$",
    re.I,
)
_FORMER = re.compile(r"(?:\b(?:former|ex-?|from|previously\s+at)\s*|前|曾在|此前在|从)$", re.I)
_LIST_GAP = re.compile(  # between two people of one list: ", and CTO ", " 与首席技术官 ", " (CFO) and "
    r"(?:\s*\([^()]{1,30}\))?\s*(?:,\s*(?:and\s+)?|and\s+|&\s+|、|与|和|及)\s*(?:前)?"
    r"(?:(?:former|ex-|its|co-?founders?|[A-Z]{2,5}|chief|head|president|researcher|scientist|engineer|executive"
    r"|[A-Z][\w.-]*\s+(?:researcher|scientist|engineer|executive))\s+|(?:" + "|".join(_ZH_ROLES) + r")\s*)*"
)

# --- patterns: English verbs ------------------------------------------------------------------------------
# (structure, action, pattern). "subj": person before the verb, org after it. "obj": org before, person
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
        r"|jump(?:s|ed|ing)?\s+(?:ship\s+)?to|(?:mov|switch|jump|defect)(?:es|ed|ing|s|e)?\s+from"
        r"|sign(?:s|ed)?\s+on\s+(?:with|at|to)|decamp(?:s|ed)?\s+to|(?:is|was)\s+headed\s+to",
    ),
    (
        "subj",
        "leave",
        r"(?:is|was|has\s+been|gets|got|been|being)\s+(?:fired|ousted|dismissed|sacked|pushed\s+out|forced\s+out"
        r"|let\s+go|removed)|(?:is|was|are)\s+out\s+(?:as|at|from)|out\s+as|lea(?:ves|ving|ve)|left"
        r"|depart(?:s|ed|ing)?|quit(?:s|ting)?|exit(?:s|ed|ing)?|step(?:s|ped|ping)?\s+(?:down|away|aside)"
        r"|resign(?:s|ed|ing)?|part(?:s|ed)?\s+ways\s+with",
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
        r"|(?:will|to)\s+serve\s+as|(?:will|to)\s+chair",
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
_EN_VERB_RES = tuple((s, a, re.compile(rf"\b(?:{p})\b", re.I)) for s, a, p in _EN_VERBS)

_EN_SUBJECT_GAP = re.compile(  # what may stand between a subject and its verb
    r"(?:\s*,\s*who\b)?\s*(?:(?:has|have|had|is|are|was|were|will|would|to|be|been|being|also|reportedly|officially"
    r"|formally|now|just|finally|quietly|abruptly|suddenly|soon|then|both|all|set|plans?|planning|expected|going"
    r"|about|himself|herself|says|said|say|confirms|confirmed|confirm|announces|announced|reveals|revealed|tells"
    r"|told|writes|wrote|posted|that|he|she|they)\s+)*",
    re.I,
)
_EN_APPOSITION = re.compile(r",\s+[^,;]{1,140},\s*")
_EN_OBJECT_BLOCK = re.compile(
    r"[,;:()\"“”]|\b(?:and|or|but|who|which|that|after|before|to|for|with|by|from|in|on|at|as|while|when|than)\b"
)
_EN_ORG_SUBJECT_GAP = re.compile(
    r"(?:['’]s?)?(?:\s+board(?:\s+of\s+directors)?|\s+team)?\s*(?:(?:has|have|is|will|reportedly|officially|also"
    r"|just|quietly|formally|abruptly|on\s+\w+day)\s+)*",
    re.I,
)
_EN_NEGATION = re.compile(
    r"\b(?:not|n't|never|no\s+longer|denies|denied|deny|rumou?red|won't|refus\w+|declin\w+)\b", re.I
)
_EN_BACKGROUND_AFTER = re.compile(
    r"\b(?:in\s+(?:19|20)\d\d|ago|last\s+year|back\s+in|years?\s+earlier|years?\s+before)\b", re.I
)
_EN_YEAR_OPENING = re.compile(r"\s*(?:In|By|Back\s+in|Since)\s+(?:19|20)\d\d\b")
_EN_RECENT = re.compile(r"\b(?:this|last)\s+(?:week|month)|today|yesterday|recently|earlier\s+this|on\s+\w+day\b", re.I)
_ORG_SLOT = re.compile(r"\s*(?i:(?:at|with|to|as)\s+)?(?i:the\s+(?:board\s+of\s+)?)?")
_LEAVE_SLOT = re.compile(r"\s*(?i:(?:from|as)\s+)?(?i:the\s+(?:board\s+of\s+)?)?")
_ROLE_OF_SLOT = re.compile(
    r"\s*(?i:as\s+)?(?i:(?:the|its|an?)\s+)?(?i:(?:new|interim)\s+)?(?:[\w-]+\s+){0,3}?of\s+(?i:the\s+)?"
)
_ANAPHOR_ORG = re.compile(r"^\s*the\s+(?:company|firm|startup|lab|group|organi[sz]ation|business)\b", re.I)
_JOIN_OBJECT_OK = re.compile(  # "joins Anthropic", "joins as", "rejoins board"; not "joins forces", "joins us"
    r"\s*(?:$|[,;.:)]|(?:the\s+)?(?:board|company|firm|startup|lab|team)\b|(?:as|at|to|from|after|alongside)\b"
    r"|(?:the\s+)?[A-Z0-9\"“'‘]|[a-z]+[A-Z])"
)
_ROLE_NOUN_EN = (
    r"(?i:(?:co-?)?CEOs?|C[A-Z]O|S?VP|EVP|(?:executive\s+|senior\s+)?vice\s+president|president|chief(?:\s+[\w-]+){1,2}"
    r"|head\s+of\s+[\w-]+(?:\s+[\w-]+)?|chair(?:man|woman|person)?|(?:managing\s+)?director|general\s+manager"
    r"|(?:co-?)?lead(?:er)?|(?:research\s+)?scientist|researcher|engineer|fellow|board\s+member|partner|advis[eo]r"
    r"|economist|architect|officer|member\s+of\s+(?:the|its)\s+board|to\s+(?:the\s+|its\s+|our\s+)?board\b"
    r"|to\s+(?:lead|head|run|oversee)(?:\s+[\w-]+){1,4})"
)
_ROLE_AFTER_EN = re.compile(
    r"^\s*(?i:as\s+)?(?:(?i:the\s+)?[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*)*['’]s?\s+)?(?i:(?:its|the|an?|their|his|her)\s+)?"
    r"(?i:(?:new|interim|first|acting|permanent|next|sole|temporary)\s+)?"
    rf"({_ROLE_NOUN_EN}(?:\s+of\s+(?:the\s+|an?\s+)?(?:[\w-]+\s+){{0,4}}?[A-Z][\w.]*(?:\s+[A-Z][\w.]*)*)?)"
)
_FOUND_NEEDS_MARKER = re.compile(r"^(?:launch|start|set|form|unveil|sp[iu]n)", re.I)
_COMPANY_NOUN = r"(?:company|startup|start-up|lab|laboratory|venture|firm|business)"
_COMPANY_BEFORE = re.compile(  # "launches a new AI startup called X"
    rf"^\s*(?:his|her|their|a|an)\s+(?:own\s+)?(?:new\s+)?(?:[\w-]+\s+){{0,3}}?{_COMPANY_NOUN}\b"
    r"(?:\s*,)?(?:\s+(?:called|named|dubbed))?\s*",
    re.I,
)
_COMPANY_AFTER = re.compile(rf"^\s*,?\s*(?:an?|the|his|her)\s+(?:new\s+)?(?:[\w-]+\s+){{0,3}}?{_COMPANY_NOUN}\b", re.I)
_ORG_ENDING = re.compile(r"\b(?:Inc\.?|Labs?|Corp\.?|Ltd\.?|Technologies|AI)$")

# --- patterns: Chinese verbs ------------------------------------------------------------------------------

_ZH_VERBS: tuple[tuple[str, str, str], ...] = (
    ("obj", "join", "聘请|聘用|招募|挖走|挖来|挖角|招揽|延揽|收编"),
    ("obj", "appoint", "任命|委任|提拔"),
    ("obj", "leave", "解雇|开除|罢免|免去|炒掉|踢出"),
    ("subj", "leave", "被解雇|被开除|被罢免|被免职|被踢出|离职|离开|出走|辞职|辞任|辞去|卸任|退出|退休"),
    ("subj", "return", "回归|重返|重回|回到"),
    ("subj", "join", "加入|加盟|入职|投奔|转投|跳槽(?:至|到)?"),
    (
        "subj",
        "found",
        "联合创立|共同创立|联合创办|共同创办|联合创建|共同创建|创立|创办|创建|成立(?!于|\\d)"
        "|创业(?!公司|者|团队|企业|项目|板块|之路|潮|圈|热|故事)",
    ),
    (
        "subj",
        "appoint",
        "被任命为|被提拔为|出任|担任|接任|转任|升任|晋升为|获任|领导(?![的下层人力者])|执掌|掌舵"
        "|任(?=\\s*(?:首席|CEO|CTO|COO|CFO|总裁|主席|董事|总经理|负责人|院长|所长|联席|联合|临时|新任|副))",
    ),
)
_ZH_VERB_RES = tuple((s, a, re.compile(p)) for s, a, p in _ZH_VERBS)
_ZH_NEEDS_YOU = frozenset(("领导", "执掌", "掌舵"))  # only "由 X 领导" states an appointment
_ZH_FILLERS = (
    "已经|已于|已|将会|将要|将|或将|即将|正式|宣布|官宣|确认|证实|表示|透露|称|此前|近日|日前|今天|今日|昨天|昨日|本周|也|"
    "再次|重新|计划|拟|决定|选择|同时|共同|联合|均|都|先后|刚刚|突然|本人|还|则|就|于|一同|随后|临时|博士|教授|先生|女士|他|她"
)
_ZH_NAME_END = re.compile(  # what may follow a Han name
    rf"(?:{_ZH_FILLERS}|从|在|被|向|与|和|及|、|等|的|曾|或|再|又|因|回应|发文|发布|加入|加盟|入职|离职|离开|出走|辞职|"
    r"辞任|辞去|卸任|退出|回归|重返|出任|担任|接任|转任|任|创立|创办|成立|创业|共同|联合|领导|宣布|表示|透露)"
)
_ZH_ORG_OR_LATIN = rf"(?:{_ZH_ORG_RE.pattern}|[A-Z][\w.&\- ]*?)"
_ZH_SUBJECT_GAP = re.compile(
    rf"(?:\s+|{_ZH_FILLERS}|(?:从|自|向|被|在|于)\s*{_ZH_ORG_OR_LATIN}\s*"
    rf"|在[{_HAN}]{{1,6}}|[{_HAN}]{{0,5}}(?:解释|宣布|确认|证实|透露|回应|发文称|表示)|的)*"
)
_ZH_ORG_SUBJECT_GAP = re.compile(rf"\s*(?:董事会|官方|{_ZH_FILLERS}|\s)*")
_ZH_BACKGROUND = re.compile(
    r"曾|早年|多年前|年前|(?:19|20)\d\d\s*年|当年|否认|并未|没有|不会|未曾|拒绝|传闻|传言|谣言|是否"
)
_ZH_ROLE_HINT = re.compile(
    r"首席|CEO|CTO|COO|CFO|C[A-Z]O|总裁|主席|董事|总经理|负责人|院长|所长|主任|科学家|官|总监|经理|合伙人|顾问|研究员|教授|VP"
)
_ZH_CLAUSE_SPLIT = re.compile(r"[,，:：;；|｜!！?？【】\n]")
_SENTENCE_SPLIT = {"en": re.compile(r"(?<=[.!?;])\s+(?=[A-Z\"“'‘(])"), "zh": re.compile(r"(?<=[。!?！？;；])")}


# --- small patterns used by the functions below -----------------------------------------------------------

_SPACES = re.compile(r"\s+")
_FOLD_PUNCT = re.compile(r"[\s.·\-'’,]+")  # as bot.metrics.NameCanon folds names
_NON_SPACE = re.compile(r"\S+")
_INITIAL = re.compile(r"[A-Z]\.,?")  # the "M." of "Paul M. Nakasone"
_EX_PREFIX = re.compile(r"(?:Ex|ex|Former|Then)-(?=[A-Z])")  # "Ex-DeepMind researchers"
_ORG_THEN_PERSON = re.compile(r"(O+)(N[NP]*N)")  # token kinds of "OpenAI Maria Chen"
_HAN_RUN = re.compile(rf"[{_HAN}]{{2,8}}")
_HAN_CHAR = re.compile(rf"[{_HAN}]")
_ZH_NAME_SLOT = re.compile(r"(?:^|[,，:：;；|｜【】!?。由与和、及]|\s)")  # where a bare Han name may start
_QUOTED_NAME = re.compile(r"「([^」]{2,20})」")
_DESCRIPTOR_BREAK = re.compile(r"[,;:.。，]|\b(?:and|said|says|to|as|with|by)\b")
_POSSESSIVE_GAP = re.compile(r"['’]s?\s+")
_RELATIVE_OBJECT = re.compile(r"\b(?:who|that|which)\s+[a-z]+\s+$")
_COMMA_GAP = re.compile(r",\s*")
_AFTER_NOUN_COMMA = re.compile(r"[a-z],\s*$")
_CHAINED_VERB = re.compile(r"\b(?:to|and|, and)\s+(?:will\s+)?$")
_PRONOUN = re.compile(r"\b(?:he|she)\b", re.I)
_INCLUDING = re.compile(r",?\s+including\s+")
_TO_PREFIX = re.compile(r"^to\s+")
_CLAUSE_END = re.compile(r"[,;.]")
_WHO_ENDING = re.compile(r"(?:\bwho|,\s+who)\s+(?:had\s+)?$")
_PAST_VERB = re.compile(r"(?:ed|left|quit|became|rejoined)$")
_CHAIR = re.compile(r"chair", re.I)
_TO_WORD = re.compile(r"\s*to\s+")
_FOR_WORD = re.compile(r"\s*for\s+")
_WITH_WORD = re.compile(r"\s*(?:with\s+)?")
_LIST_CONTINUES = re.compile(r"\s*(?:,|and)\s+[A-Z]")
_WS = re.compile(r"\s*")
_COFOUNDERS = re.compile(r"[^,;]{0,60}?\bwith\s+(?:(?:co-?founders?|former\s+[\w.]+\s+\w+)\s+)?", re.I)
_WITH_ENDING = re.compile(r"\bwith\s+$")
_AS_NEXT = re.compile(r"\s+as\s")
_CHAIRED_BY = re.compile(r"\bchaired\s+by\s+$")
_ZH_WORD_NEXT = re.compile(rf"\s*[{_HAN}A-Za-z]")
_ZH_CAME_FROM = re.compile(rf"(?:从|自)\s*({_ZH_ORG_OR_LATIN})\s*$")
_ZH_PASSIVE = re.compile(rf"被\s*({_ZH_ORG_OR_LATIN})\s*$")
_ZH_OBJECT_LEAD = re.compile(r"\s*了?\s*(?:在\s*)?")
_ZH_UNNAMED = re.compile(r"一家|一个|新的?")  # 创办一家…公司: a company not yet named
_LATIN_SEQUENCE = re.compile(r"\s*([A-Z][\w.&\-]*(?:\s+[A-Z][\w.&\-]*)*)")
_ZH_ROLE_TEXT = re.compile(rf"\s*(?:为)?\s*(?:的\s*)?([{_HAN}A-Za-z ]{{1,16}})")
_BLOCK_BREAK = re.compile(r"\n|\s{2,}")  # line breaks and wide gaps end a sentence too
_LATIN_LETTER = re.compile(rf"[{_L}]")
_LONG_WORD = re.compile(r"[A-Za-z][a-z]{3,}")
_ORG_SHAPE = re.compile(r"[a-z][A-Z]|^[A-Z]{2,}$|\.[A-Za-z]")  # "OpenAI", "IBM", "Character.AI"


# --- names and organisations -------------------------------------------------------------------------------


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", html.unescape(text or ""))
    return _SPACES.sub(" ", text).strip()


def _fold(name: str) -> str:
    return _FOLD_PUNCT.sub("", unicodedata.normalize("NFKC", name).lower())


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _is_name_token(token: str) -> bool:
    if len(token) < 2 or not token[0].isupper() or token.lower() in _STOP or token in _KNOWN_ORGS:
        return False
    if token in _ORG_WORDS or token in _ROLE_WORDS or any(ch.isdigit() for ch in token):
        return False
    if not any(ch.islower() for ch in token) or token[-1] in "-'’.":
        return False
    for i, ch in enumerate(token[1:], start=1):  # "DeepMind" is not a name; "McCarthy", "D'Angelo" are
        if ch.isupper() and token[i - 1] not in "-'’" and token[:i] not in _NAME_PREFIXES:
            return False
    return True


def _token_kind(token: str) -> str:
    """N: part of a person's name, O: part of an organisation, R: a title, S: a stop word."""
    bare = _POSSESSIVE.sub("", token)
    if bare in _ROLE_WORDS:
        return "R"
    if bare.lower() in _STOP:
        return "S"
    if bare in _ORG_WORDS or bare in _KNOWN_ORGS:
        return "O"
    return "N" if _is_name_token(bare) else "O"


def _latin_groups(text: str) -> Iterable[tuple[str, int, bool]]:
    """(text, start, is_person) for each run of name-like or org-like capitalised tokens."""
    for run in _CAP_RUN.finditer(text):
        if _INSIDE_ORG_NAME.search(text[: run.start()]):
            yield run.group().rstrip(".,"), run.start(), False
            continue
        group: list[tuple[str, int, str]] = []
        for tok in _NON_SPACE.finditer(run.group()):
            raw = tok.group()
            keep_dot = raw in ("Inc.", "Corp.", "Ltd.", "Co.") or _INITIAL.fullmatch(raw)
            word = raw.rstrip(",") if keep_dot else raw.rstrip(".,")
            prefix = _EX_PREFIX.match(word)  # "Ex-DeepMind researchers"
            if prefix:
                word, raw_start = word[prefix.end() :], tok.start() + prefix.end()
            else:
                raw_start = tok.start()
            initial = bool(_INITIAL.fullmatch(word)) and bool(group) and group[-1][2] == "N"
            kind = "P" if word in _PARTICLES or initial else _token_kind(word)
            if kind in "RS":
                yield from _close_group(group)
                group = []
                continue
            group.append((word, run.start() + raw_start, kind))
            if kind != "P" and _POSSESSIVE.search(word):
                yield from _close_group(group)
                group = []
        yield from _close_group(group)


def _close_group(group: list[tuple[str, int, str]]) -> Iterable[tuple[str, int, bool]]:
    while group and group[-1][2] == "P":
        group = group[:-1]
    if not group:
        return
    kinds = "".join(k for *_, k in group)
    split = _ORG_THEN_PERSON.fullmatch(kinds)  # "OpenAI Maria Chen": an org, then a person
    if split and len(split.group(2)) <= 4:
        yield from _close_group(group[: len(split.group(1))])
        yield from _close_group(group[len(split.group(1)) :])
        return
    text = " ".join(_POSSESSIVE.sub("", w) for w, *_ in group)
    yield text, group[0][1], set(kinds) <= {"N", "P"} and kinds.count("N") <= 3


def _plausible_han_name(cand: str, translit: bool) -> bool:
    if cand in _NOT_HAN_NAMES or any(c in _NOT_IN_HAN_NAMES for c in cand) or _ZH_ORG_RE.match(cand):
        return False
    if translit and len(cand) >= 3 and all(c in _TRANSLIT for c in cand):
        return True
    if len(cand) == 4:
        return cand[:2] in _DOUBLE_SURNAMES
    return cand[0] in _SURNAMES and len(cand) in (2, 3)


def _han_name_at(text: str, i: int, translit: bool = False) -> str | None:
    """A Han name starting at i: the shortest plausible one that ends where a verb or particle begins."""
    run = _HAN_RUN.match(text, i)
    if not run:
        return None
    for n in range(2, min(5, len(run.group())) + 1):
        rest = text[i + n :]
        ends = not rest or not _HAN_CHAR.match(rest) or bool(_ZH_NAME_END.match(rest))
        if ends and _plausible_han_name(run.group()[:n], translit):
            return run.group()[:n]
    return None


def _entities(sent: str, lang: str) -> _Entities:
    persons: list[_Span] = []
    orgs: list[_Span] = []
    for text, start, is_person in _latin_groups(sent):
        if is_person:
            titled = bool(_TITLE_BEFORE.search(sent[max(0, start - 24) : start]))
            persons.append(_Span(text, start, start + len(text), single=" " not in text and not titled))
        else:
            orgs.append(_Span(text, start, start + len(text)))
    if lang == "zh":
        _add_chinese_entities(sent, persons, orgs)
    return _Entities(sorted(persons, key=lambda s: s.start), sorted(orgs, key=lambda s: s.start))


def _add_chinese_entities(sent: str, persons: list[_Span], orgs: list[_Span]) -> None:
    def add(name: str | None, start: int) -> None:
        if name and not any(p.start < start + len(name) and start < p.end for p in persons):
            persons.append(_Span(name, start, start + len(name)))

    for m in _DOTTED_NAME.finditer(sent):  # 萨拉·奥康纳, cut before a verb that follows it
        last = max(m.group().rfind(dot) for dot in "·•‧・") + 1
        cut = _ZH_NAME_END.search(m.group(), last + 1)
        add(m.group()[: cut.start()] if cut else m.group(), m.start())
    for m in _ZH_ROLE_RE.finditer(sent):  # 副总裁王磊
        j = m.end() + (1 if sent[m.end() : m.end() + 1] == " " else 0)
        add(_han_name_at(sent, j), j)
    for m in _ZH_NAME_SLOT.finditer(sent):  # clause-initial, or in a list
        add(_han_name_at(sent, m.end(), translit=True), m.end())
    orgs.extend(_Span(m.group(), m.start(), m.end()) for m in _ZH_ORG_RE.finditer(sent))
    orgs.extend(_Span(m.group(1), m.start(1), m.end(1)) for m in _QUOTED_NAME.finditer(sent))
    for m in _ZH_SUFFIX_ORG.finditer(sent):
        if not any(o.start <= m.start() < o.end for o in orgs):
            orgs.append(_Span(m.group(), m.start(), m.end()))


def _org_like(ents: _Entities) -> list[_Span]:
    """Organisations, plus lone capitalised words ("Covariant"), which in an org slot name an org."""
    return [*ents.orgs, *(p for p in ents.persons if p.single)]


def _span_at(spans: Iterable[_Span], pos: int) -> str:
    return next((s.text for s in spans if s.start == pos), "")


def _nearest_before(spans: Sequence[_Span], pos: int) -> _Span | None:
    before = [s for s in spans if s.end <= pos]
    return before[-1] if before else None


def _list_left(sent: str, first: _Span, persons: Sequence[_Span]) -> list[_Span]:
    group = [first]
    for p in reversed([p for p in persons if p.end <= first.start]):
        if not _LIST_GAP.fullmatch(sent[p.end : group[0].start]):
            break
        group.insert(0, p)
    return group


def _list_right(sent: str, first: _Span, persons: Sequence[_Span]) -> list[_Span]:
    group = [first]
    for p in [p for p in persons if p.start >= first.end]:
        if not _LIST_GAP.fullmatch(sent[group[-1].end : p.start]):
            break
        group.append(p)
    return group


def _descriptor_org(sent: str, person: _Span, orgs: Sequence[_Span]) -> _Span | None:
    """The org in a person's own descriptor ("Former Tesla AI chief X", "阿里副总裁X")."""
    org = _nearest_before(orgs, person.start)
    if org is None:
        return None
    gap = sent[org.end : person.start]
    if len(gap) <= 40 and not _DESCRIPTOR_BREAK.search(gap):
        return org
    return None


def _context_org(sent: str, person: _Span, orgs: Sequence[_Span]) -> str:
    """The nearest org before the person that is neither their own descriptor nor a former employer."""
    own = _descriptor_org(sent, person, orgs)
    candidates = [o for o in orgs if o.end <= person.start and o != own and not _FORMER.search(sent[: o.start])]
    return candidates[-1].text if candidates else ""


def _draft(person: _Span, action: str, from_org: str, to_org: str, role: str, org_before: str) -> _Draft:
    needs = not to_org and action in ("appoint", "join", "return")
    return _Draft(Move(person.text, from_org, to_org, role.strip(), action), person.single, needs, org_before)


# --- English -------------------------------------------------------------------------------------------------


def _en_sentence(sent: str, topic: list[_Span]) -> list[_Draft]:
    """Moves in one English sentence; `topic` is who 'he'/'she' refers to (the item's last mover)."""
    ents = _entities(sent, "en")
    hits = sorted((m.start(), -m.end(), i) for i, (_, _, rx) in enumerate(_EN_VERB_RES) for m in rx.finditer(sent))
    title_case = _is_title_case(sent)
    drafts: list[_Draft] = []
    used_until = -1
    for start, neg_end, index in hits:
        if start < used_until or (start > 0 and sent[start].isupper() and not title_case):
            continue  # "Left 4 Dead", "Return to Castle Wolfenstein": a capitalised verb mid-sentence is a name
        structure, action, _ = _EN_VERBS[index]
        found = _en_verb(sent, start, -neg_end, structure, action, ents, drafts, topic)
        if found:
            drafts.extend(found)
            used_until = -neg_end
    return drafts + _en_with_as(sent, ents)


def _is_title_case(sent: str) -> bool:
    words = _LONG_WORD.findall(sent)
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _en_verb(
    sent: str,
    start: int,
    end: int,
    structure: str,
    action: str,
    ents: _Entities,
    earlier: Sequence[_Draft],
    topic: list[_Span],
) -> list[_Draft]:
    if structure == "obj":
        return _en_object_verb(sent, start, end, action, ents)
    if structure == "poss":
        persons = [p for p in ents.persons if p.end <= start and _POSSESSIVE_GAP.fullmatch(sent[p.end : start])]
        gap = ""
    else:
        persons, gap = _en_subject(sent, start, ents)
    persons = persons or _en_chained_subject(sent, start, earlier) or _en_pronoun_subject(sent, start, ents, topic)
    if not persons or _en_is_background(sent, start, end, gap):
        return []
    return _en_subject_moves(sent, start, end, structure, action, persons, ents)


def _en_object_verb(sent: str, start: int, end: int, action: str, ents: _Entities) -> list[_Draft]:
    """'Lumen hires ousted Vexa CEO Carla Nunez', 'Quanta board removes X as CEO'."""
    org = _en_org_subject(sent, start, ents)
    persons, from_org = _en_object(sent, end, ents)
    if not org or not persons or _EN_NEGATION.search(sent[max(0, start - 20) : start]):
        return []
    role = _en_role(sent, persons[-1].end)
    if action == "appoint" and not role:
        return []  # "Time names X person of the year"
    if action == "leave":
        return [_draft(p, action, org, "", role, org) for p in persons]
    return [_draft(p, action, from_org, org, role, org) for p in persons]


def _en_subject(sent: str, pos: int, ents: _Entities) -> tuple[list[_Span], str]:
    """The person(s) just before a verb, allowing auxiliaries, 'says he' and an apposition in between."""
    person = _nearest_before(ents.persons, pos)
    if person is None:
        return [], ""
    gap = sent[person.end : pos]
    if gap.startswith(("'", "’")) or _RELATIVE_OBJECT.search(sent[: person.start]):
        return [], gap  # "the DJ who groped X was hired": X is an object inside a relative clause
    if _EN_SUBJECT_GAP.fullmatch(gap):
        return _list_left(sent, person, ents.persons), gap
    if _COMMA_GAP.fullmatch(gap):  # "Two researchers, A and B, leave xAI"
        group = _list_left(sent, person, ents.persons)
        return (group, gap) if _AFTER_NOUN_COMMA.search(sent[: group[0].start]) else ([], gap)
    m = _EN_APPOSITION.match(gap)
    if m and _EN_SUBJECT_GAP.fullmatch(gap[m.end() :]) and not any(person.end < p.start < pos for p in ents.persons):
        return [person], gap
    return [], gap


def _en_chained_subject(sent: str, start: int, earlier: Sequence[_Draft]) -> list[_Span]:
    """'X leaves OpenAI to join Anthropic': the second verb shares the first one's subject."""
    if not earlier or not _CHAINED_VERB.search(sent[:start]):
        return []
    return [_Span(earlier[-1].move.person, 0, 0, single=earlier[-1].single)]


def _en_pronoun_subject(sent: str, start: int, ents: _Entities, topic: list[_Span]) -> list[_Span]:
    """'he'/'she' before the verb: the one person named earlier in the sentence, else the item's mover."""
    pronouns = list(_PRONOUN.finditer(sent[:start]))
    if not pronouns or not _EN_SUBJECT_GAP.fullmatch(sent[pronouns[-1].end() : start]):
        return []
    named = {p.text for p in ents.persons if p.end <= pronouns[-1].start() and not p.single}
    if len(named) > 1:
        return []
    return [_Span(named.pop(), 0, 0)] if named else topic


def _en_object(sent: str, pos: int, ents: _Entities) -> tuple[list[_Span], str]:
    """The person(s) after an object verb, and the org in their descriptor ("ousted OpenAI CEO X")."""
    after = [p for p in ents.persons if p.start >= pos and not p.single]
    if not after:
        return [], ""
    gap = sent[pos : after[0].start]
    including = _INCLUDING.search(gap)  # "the team behind X, including CEO Y"
    checked = gap[including.end() :] if including and len(gap) <= 90 else gap
    if len(checked) > 60 or _EN_OBJECT_BLOCK.search(checked):
        return [], ""
    orgs_in_gap = [o.text for o in _org_like(ents) if pos <= o.start and o.end <= after[0].start]
    return _list_right(sent, after[0], ents.persons), orgs_in_gap[-1] if orgs_in_gap else ""


def _en_org_subject(sent: str, pos: int, ents: _Entities) -> str:
    spans = [s for s in _org_like(ents) if s.end <= pos]
    if not spans:
        return ""
    org = max(spans, key=lambda s: s.end)
    return org.text if _EN_ORG_SUBJECT_GAP.fullmatch(sent[org.end : pos]) else ""


def _en_org_after(sent: str, pos: int, ents: _Entities, action: str) -> str:
    rest = sent[pos:]
    if _ANAPHOR_ORG.match(rest):
        return ""
    for slot in (_LEAVE_SLOT if action == "leave" else _ORG_SLOT, _ROLE_OF_SLOT):
        m = slot.match(rest)
        if not m:
            continue
        after_the = m.group().rstrip().lower().endswith("the")  # "returns to the Giant Bombcast"
        org = _span_at(ents.persons if after_the else _org_like(ents), pos + m.end()) or _span_at(
            ents.orgs, pos + m.end()
        )
        if org:
            return org
    return ""


def _en_role(sent: str, pos: int) -> str:
    m = _ROLE_AFTER_EN.match(sent[pos:])
    return _TO_PREFIX.sub("", m.group(1)) if m else ""


def _en_is_background(sent: str, start: int, end: int, gap: str) -> bool:
    clause_end = _CLAUSE_END.search(sent[end:])
    after = sent[end : end + clause_end.start()] if clause_end else sent[end:]
    before = sent[max(0, start - 30) : start]
    if _EN_NEGATION.search(before.split(",")[-1]) or _EN_YEAR_OPENING.match(sent):
        return True
    if _EN_BACKGROUND_AFTER.search(after):
        return True
    relative = _WHO_ENDING.search(gap) or _WHO_ENDING.search(before)
    past = _PAST_VERB.search(sent[start:end].lower())
    return bool(relative and past and not _EN_RECENT.search(after))


def _en_subject_moves(
    sent: str, start: int, end: int, structure: str, action: str, persons: list[_Span], ents: _Entities
) -> list[_Draft]:
    verb = sent[start:end]
    own = _descriptor_org(sent, persons[0], ents.orgs) if persons[0].end else None
    from_org = own.text if own else ""
    before = _context_org(sent, persons[0], ents.orgs)
    role = _en_role(sent, end)
    if action == "found":
        org, is_company = _en_found_org(sent, end, verb, ents)
        if not is_company:
            return []
        persons = persons + [p for p in _en_cofounders(sent, end, ents) if p not in persons]
        return [_draft(p, "found", from_org, org, role, before) for p in persons]
    if action == "appoint" and not role and not _CHAIR.search(verb):
        return []  # "named as 'person of interest'", "became the NFL's wokest team"
    if action in ("join", "return") and structure != "passive" and not _plain_object(sent, end, ents):
        return []
    org = _en_org_after(sent, end, ents, action)
    after_org = sent.find(org, end) + len(org) if org else end
    role = role or _en_role(sent, after_org)
    if verb.lower().endswith("from"):  # "moves from Meta to OpenAI"
        arrow = _TO_WORD.match(sent, after_org) if org else None
        dest = _span_at(_org_like(ents), arrow.end()) if arrow else ""
        return [_draft(p, action, org, dest, role, before) for p in persons] if dest else []
    if structure == "poss" and not org and action == "leave":
        org = _en_org_subject(sent, persons[0].start, ents)
    if action == "leave":  # "leaves Google for Anthropic" is a join
        towards = _FOR_WORD.match(sent, after_org)
        to = _span_at(ents.orgs, towards.end()) if towards else ""
        return [_draft(p, "join" if to else "leave", org or from_org, to, role, before) for p in persons]
    return [_draft(p, action, from_org, org, role, before) for p in persons]


def _plain_object(sent: str, pos: int, ents: _Entities) -> bool:
    """What follows a join verb can be an employer: not 'joins forces', 'joins us', 'joins Ryan and Vinny'."""
    if not _JOIN_OBJECT_OK.match(sent[pos:]):
        return False
    m = _WITH_WORD.match(sent, pos)
    start = m.end() if m else pos
    first = next((p for p in ents.persons if p.start == start), None)
    if first is None:
        return True
    return first.single and not _LIST_CONTINUES.match(sent, first.end)


def _en_found_org(sent: str, pos: int, verb: str, ents: _Entities) -> tuple[str, bool]:
    """(org, is a company): what was founded, and whether the text marks it as a company."""
    m = _COMPANY_BEFORE.match(sent[pos:])
    if m:
        return _span_at(_org_like(ents), pos + m.end()), True
    m = _WS.match(sent, pos)
    start = m.end() if m else pos
    org = _span_at(_org_like(ents), start)
    if not org:
        return "", False
    marked = bool(_COMPANY_AFTER.match(sent[start + len(org) :]) or _ORG_ENDING.search(org))
    return org, marked or not _FOUND_NEEDS_MARKER.match(verb)


def _en_cofounders(sent: str, pos: int, ents: _Entities) -> list[_Span]:
    """'co-founded Corvid Labs with Jun Park and former Meta researcher Ella Ross'."""
    m = _COFOUNDERS.match(sent, pos)
    first = [p for p in ents.persons if m and p.start == m.end() and not p.single]
    return _list_right(sent, first[0], ents.persons) if first else []


def _en_with_as(sent: str, ents: _Entities) -> list[_Draft]:
    """'…, with Duarte as CEO' / 'a board chaired by X': an appointment stated as a circumstance."""
    drafts = []
    for p in ents.persons:
        with_as = _WITH_ENDING.search(sent[: p.start]) and _AS_NEXT.match(sent, p.end)
        chaired = _CHAIRED_BY.search(sent[: p.start])
        role = _en_role(sent, p.end) if with_as else "chair" if chaired else ""
        if role:
            drafts.append(_draft(p, "appoint", "", "", role, _context_org(sent, p, ents.orgs)))
    return drafts


# --- Chinese -------------------------------------------------------------------------------------------------


def _zh_sentence(sent: str, topic: list[_Span]) -> list[_Draft]:
    """Clause by clause; a clause with no subject of its own continues the previous one's (zero anaphora)."""
    drafts: list[_Draft] = []
    carried = topic
    context = ""
    for clause in _ZH_CLAUSE_SPLIT.split(sent):
        ents = _entities(clause, "zh")
        found, subject = _zh_clause(clause, ents, carried, context)
        drafts.extend(found)
        subject = subject or [p for p in ents.persons if p.start == 0]
        carried = [_Span(p.text, 0, 0, p.single) for p in subject] or carried  # offsets belong to this clause
        context = ents.orgs[-1].text if ents.orgs else context
    return drafts


def _zh_clause(clause: str, ents: _Entities, carried: list[_Span], context: str) -> tuple[list[_Draft], list[_Span]]:
    hits = sorted((m.start(), -m.end(), i) for i, (_, _, rx) in enumerate(_ZH_VERB_RES) for m in rx.finditer(clause))
    drafts: list[_Draft] = []
    subject: list[_Span] = []
    used_until = -1
    for start, neg_end, index in hits:
        if start < used_until:
            continue
        structure, action, _ = _ZH_VERBS[index]
        if structure == "obj":
            found, persons = _zh_object_verb(clause, start, -neg_end, action, ents)
        else:
            found, persons = _zh_subject_verb(clause, start, -neg_end, action, ents, subject or carried, context)
        if found:
            drafts.extend(found)
            subject = persons
            used_until = -neg_end
    return drafts, subject


def _zh_subject_verb(
    clause: str, start: int, end: int, action: str, ents: _Entities, carried: list[_Span], context: str
) -> tuple[list[_Draft], list[_Span]]:
    verb = clause[start:end]
    persons, gap = _zh_subject(clause, start, ents)
    if not persons and carried and not ents.persons and _ZH_SUBJECT_GAP.fullmatch(clause[:start]):
        persons, gap = carried, clause[:start]
    if not persons or _ZH_BACKGROUND.search(gap):
        return [], []
    if verb in _ZH_NEEDS_YOU and not clause[: persons[0].start].rstrip().endswith("由"):
        return [], []
    org = _zh_org_after(clause, end, ents)
    role = _zh_role(clause, end, org) if action == "appoint" else ""
    if action == "appoint" and verb not in _ZH_NEEDS_YOU and not _ZH_ROLE_HINT.search(role):
        return [], []  # 担任评委 is not a job
    if action in ("join", "return") and not org and _ZH_WORD_NEXT.match(clause, end):
        return [], []  # 加入等待名单, 加入讨论
    own = _descriptor_org(clause, persons[0], ents.orgs) if persons[0].end else None
    came_from = _ZH_CAME_FROM.search(gap)
    from_org = came_from.group(1).strip() if came_from else own.text if own else ""
    before = (_context_org(clause, persons[0], ents.orgs) if persons[0].end else "") or context
    if action == "leave":
        return [_draft(p, "leave", org or from_org, "", role, before) for p in persons], persons
    return [_draft(p, action, from_org, org, role, before) for p in persons], persons


def _zh_subject(clause: str, pos: int, ents: _Entities) -> tuple[list[_Span], str]:
    person = _nearest_before(ents.persons, pos)
    if person is None:
        return [], ""
    gap = clause[person.end : pos]
    return (_list_left(clause, person, ents.persons), gap) if _ZH_SUBJECT_GAP.fullmatch(gap) else ([], gap)


def _zh_object_verb(
    clause: str, start: int, end: int, action: str, ents: _Entities
) -> tuple[list[_Draft], list[_Span]]:
    """'Quanta 董事会解雇 CEO Leo Brandt', 'Meta 挖走苹果负责人X', and the passive 'X 被 Meta 挖走'."""
    passive = _ZH_PASSIVE.search(clause[:start])
    if passive:
        person = _nearest_before(ents.persons, passive.start())
        if person is None or not _ZH_SUBJECT_GAP.fullmatch(clause[person.end : passive.start()]):
            return [], []
        org = passive.group(1).strip()
        to, source = ("", org) if action == "leave" else (org, "")
        return [_draft(person, action, source, to, "", org)], [person]
    orgs = [o for o in ents.orgs if o.end <= start]
    if not orgs or not _ZH_ORG_SUBJECT_GAP.fullmatch(clause[orgs[-1].end : start]):
        return [], []
    org = orgs[-1].text
    after = [p for p in ents.persons if p.start >= end and len(clause[end : p.start]) <= 25]
    if not after:
        return [], []
    persons = _list_right(clause, after[0], ents.persons)
    role = _zh_role(clause, persons[-1].end, "")
    to, source = ("", org) if action == "leave" else (org, "")
    return [_draft(p, action, source, to, role, org) for p in persons], persons


def _zh_org_after(clause: str, pos: int, ents: _Entities) -> str:
    m = _ZH_OBJECT_LEAD.match(clause, pos)
    start = m.end() if m else pos
    if _ZH_UNNAMED.match(clause, start):
        return ""  # 创办一家 AI 基础设施公司: a company not yet named
    org = _span_at(_org_like(ents), start)
    named = _ZH_NAMED_COMPANY.match(clause, start + len(org))
    if named and not _ZH_ROLE_RE.search(named.group(1)):
        return named.group(1).strip("「」 ")
    if not org and (suffixed := _ZH_SUFFIX_ORG_AT.match(clause, start)):
        return suffixed.group()
    latin = _LATIN_SEQUENCE.match(clause, start + len(org)) if org else None
    if org in _ZH_ORGS and latin and _token_kind(latin.group(1).split()[0]) == "O":
        org = f"{org} {latin.group(1)}"  # 谷歌 DeepMind
    words = org.split()
    while words and words[-1] in _ROLE_WORDS:  # "Microsoft AI CEO" → "Microsoft AI"
        words.pop()
    return " ".join(words)


def _zh_role(clause: str, pos: int, org: str) -> str:
    rest = clause[pos:].lstrip()
    if org and rest.startswith(org):
        rest = rest[len(org) :]
    m = _ZH_ROLE_TEXT.match(rest)
    return m.group(1).strip() if m else ""


# --- one item ------------------------------------------------------------------------------------------------


def extract_moves(title: str, text: str, lang: str) -> list[Move]:
    """Moves stated in one item (title + its summary/body; lang is 'zh' or 'en')."""
    lang = "zh" if lang == "zh" else "en"
    sentences = _sentences(title, text, lang)
    drafts: list[_Draft] = []
    topic: list[_Span] = []
    for sent in sentences:
        found = _zh_sentence(sent, topic) if lang == "zh" else _en_sentence(sent, topic)
        drafts.extend(found)
        topic = _next_topic(found, topic)
    if not drafts:
        return []
    full_names = [p.text for s in sentences for p in _entities(s, lang).persons if " " in p.text]
    resolved: list[_Draft] = []
    for d in drafts:
        name = _expand_single(d.move.person, full_names)
        if name is None and d.single:
            continue  # a lone capitalised word with no title and no full name in the item
        resolved.append(replace(d, move=replace(d.move, person=name or d.move.person)))
    orgs = [o.text for s in sentences for o in _entities(s, lang).orgs]
    item_org = next((o for o in orgs if _looks_like_org(o)), "")
    return _merge(_fill_orgs(resolved, item_org))


def _next_topic(found: Sequence[_Draft], topic: list[_Span]) -> list[_Span]:
    """Who a later 'he'/'she'/'他' means: the one person whose move this sentence stated, if only one."""
    movers = list(dict.fromkeys(d.move.person for d in found))
    if not movers:
        return topic
    return [_Span(movers[0], 0, 0, found[0].single)] if len(movers) == 1 else []


def _sentences(title: str, text: str, lang: str) -> list[str]:
    out = [_clean(title)]
    for block in _BLOCK_BREAK.split(html.unescape(text or "")):  # line breaks end a sentence too
        out += [s.strip() for s in _SENTENCE_SPLIT[lang].split(_clean(block)) if s.strip()]
    return [s for s in out if s]


def _expand_single(name: str, full_names: Sequence[str]) -> str | None:
    """A surname or given name alone → the one full name that has it as first or last token."""
    if " " in name or not _LATIN_LETTER.match(name):
        return name
    key = _strip_accents(name).lower()
    ends = {
        full
        for full in full_names
        for part in (full.split()[0], full.split()[-1])
        if _strip_accents(part).lower() == key
    }
    return ends.pop() if len(ends) == 1 else None


def _looks_like_org(name: str) -> bool:
    words = name.split()
    return (
        name in _ZH_ORGS
        or any(w in _KNOWN_ORGS or w in _ORG_WORDS for w in words)
        or any(_ORG_SHAPE.search(w) for w in words)
    )


def _fill_orgs(drafts: Sequence[_Draft], item_org: str) -> list[Move]:
    """Give 'joins as chief scientist' / '任 CEO' the organisation the item is about, or drop it."""
    other_to = next((d.move.to_org for d in drafts if d.move.to_org), "")
    other_from = next((d.move.from_org for d in drafts if d.move.from_org and d.move.action != "join"), "")
    moves = []
    for d in drafts:
        m = d.move
        if d.needs_org:
            if m.action == "appoint":  # a role inside a company: the nearest company named first
                order: tuple[str, ...] = (d.org_before, other_to, other_from, item_org)
            else:
                order = (other_to, d.org_before, item_org)
            org = next((o for o in order if o), "")
            if not org:
                continue  # a hire or appointment with no company anywhere in the item states no move
            m = replace(m, to_org=org, from_org=m.from_org or (org if m.action == "appoint" else ""))
        moves.append(m)
    return moves


def _org_key(org: str) -> str:
    return _fold(_ZH_ORGS.get(org.split()[0], org)) if org else ""


def _same_org(a: str, b: str) -> bool:
    ka, kb = _org_key(a), _org_key(b)
    return ka == kb or bool(ka and kb and (ka in kb or kb in ka))


_PRIORITY = {"join": 0, "return": 0, "found": 0, "appoint": 1, "leave": 2}


def _merge(moves: Sequence[Move]) -> list[Move]:
    """One person, one move per destination: collapse duplicates and drop the vaguer statements.

    A named destination beats an unnamed one; an appointment beside a join is the role at the new
    employer; spellings of one org ("Microsoft", "微软", "Microsoft AI") count as one.
    """
    by_person: dict[str, list[Move]] = {}
    for m in moves:
        by_person.setdefault(_fold(m.person), []).append(m)
    out: list[Move] = []
    for group in by_person.values():
        named = [m for m in group if m.to_org]
        if any(m.action in ("join", "return", "found") for m in named):
            role = next((m.role for m in named if m.action == "appoint" and m.role), "")
            named = [replace(m, role=m.role or role) for m in named if m.action != "appoint"]
            group = [m for m in group if m.action != "appoint"]
        kept: list[Move] = []
        for m in sorted(named or group, key=lambda m: _PRIORITY[m.action]):
            twin = next((k for k in kept if _same_org(k.to_org, m.to_org) and (named or k.action == m.action)), None)
            if twin is None:
                kept.append(m)
            else:
                kept[kept.index(twin)] = _combine(twin, m)
        source = next((m.from_org for m in group if m.from_org), "")
        role = next((m.role for m in group if m.role), "")
        out.extend(replace(k, from_org=k.from_org or source, role=k.role or role) for k in kept)
    return out


def _combine(kept: Move, other: Move) -> Move:
    orgs = [o for o in (kept.to_org, other.to_org) if o]
    return replace(
        kept,
        to_org=min(orgs, key=len) if orgs else "",
        from_org=kept.from_org or other.from_org,
        role=kept.role or other.role,
    )


# --- one story -----------------------------------------------------------------------------------------------


def resolve_story_moves(per_item: Sequence[Sequence[Move]]) -> list[Move]:
    """One story's moves: the union over its items with one person's spellings resolved —
    a surname-only mention ("Karpathy", "Hinton", "Ilya") becomes the full name another item
    (or the same item) gives; duplicates collapse; when one item says to="" and another names the
    destination for the same person and action, keep the named one."""
    moves = [m for item in per_item for m in item]
    full_names = [m.person for m in moves if " " in m.person]
    resolved = [replace(m, person=_expand_single(m.person, full_names) or m.person) for m in moves]
    return _merge(_unify_orgs(resolved))


def _unify_orgs(moves: Sequence[Move]) -> list[Move]:
    """Within one story, "DeepMind", "Google DeepMind" and "谷歌" name one destination.

    Spellings linked by containment form a group; the most specific spelling that contains or is
    contained in every other one of its group stands for all of them.
    """
    names = sorted({m.to_org for m in moves if m.to_org}, key=lambda o: (len(_org_key(o)), o))
    canonical: dict[str, str] = {}
    for name in names:
        if name not in canonical:
            group = _linked(name, names)
            hubs = [c for c in group if all(_same_org(c, other) for other in group)]
            hub = hubs[-1] if hubs else None
            canonical.update({member: hub or member for member in group})
    return [replace(m, to_org=canonical.get(m.to_org, m.to_org)) for m in moves]


def _linked(start: str, names: Sequence[str]) -> list[str]:
    group, frontier = [start], [start]
    while frontier:
        current = frontier.pop()
        for other in names:
            if other not in group and _same_org(current, other):
                group.append(other)
                frontier.append(other)
    return sorted(group, key=lambda o: (len(_org_key(o)), o))


def move_signature(moves: Sequence[Move]) -> frozenset[tuple[str, str]]:
    """(folded person, action) pairs — used by dedup to tell apart a sequence of moves by one
    person (fired → hired elsewhere → reinstated are three events). A Latin-script name folds to
    its last token, so "Brandt" and "Leo Brandt" agree."""
    return frozenset((_person_key(m.person), m.action) for m in moves)


def _person_key(person: str) -> str:
    if _LATIN_LETTER.match(person) and " " in person.strip():
        person = person.split()[-1]
    return _fold(_strip_accents(person))
