"""Chinese move rules: the same four constructions as English, read clause by clause.

Chinese news drops a repeated subject ("X 离开谷歌，加入 OpenAI，担任首席科学家"), so each clause
that has no subject of its own continues the previous clause's; an organisation named in an
earlier clause is the context for a role given without one ("任 CEO"). Constructions: subject
verbs (加入, 离职, 创立, 出任), object verbs with the organisation first (任命, 聘请, 解雇),
the passive with 被, and 由 X 领导. Background (曾, 否认, a year, 加入…前) is not a move, nor is
继续担任 — unless the item just said the same person left another post (不再担任…；继续担任…: a role
change inside one company). The one who speaks ("X 称") is the subject of a later clause's 她/他.
"""

from __future__ import annotations

import re
from collections.abc import Set

from bot.ingest.people.entities import (
    context_org,
    descriptor_org,
    find_entities,
    list_left,
    list_right,
    nearest_before,
    org_like,
    span_at,
    stepped_down_before,
    token_kind,
)
from bot.ingest.people.lexicon import (
    HAN,
    LATIN,
    ROLE_WORDS,
    ZH_FILLERS,
    ZH_NEEDS_YOU,
    ZH_ORG_RE,
    ZH_ORGS,
    ZH_ROLE_RE,
    ZH_VERBS,
    verb_hits,
)
from bot.ingest.people.model import Draft, Entities, Span, org_drafts, subject_drafts

# Clauses and subjects: what may stand between a subject and its verb, where a person came from, background.
_ZH_CLAUSE_SPLIT = re.compile(r"[,，:：;；|｜!！?？【】\n]")
_ZH_ORG_OR_LATIN = rf"(?:{ZH_ORG_RE.pattern}|[A-Z][A-Za-z0-9_.&\- ]*?)"
_ZH_SUBJECT_GAP = re.compile(
    rf"(?:\s+|{ZH_FILLERS}|(?:从|自|向|被|在|于)\s*{_ZH_ORG_OR_LATIN}\s*"
    rf"|在[{HAN}]{{1,6}}|[{HAN}]{{0,5}}(?:解释|宣布|确认|证实|透露|回应|发文称|表示)|的|(?:从|自)公司"
    # 从公司离职, 以讲席教授身份加入, 张勇(花名逍遥子)接替, 将继续担任
    rf"|以[^,，]{{1,10}}?身份|\([^()]{{1,20}}\)|继续|仍将|仍然|依然|\s*\d{{1,2}}\s*月(?:\s*\d{{1,2}}\s*日)?|月初|月底|月中)*"
)
# "X 称，…她被解雇": the one who speaks is the subject of the clauses after
_ZH_SPEAKS = re.compile(r"\s*(?:称|表示|宣布|透露|说|回应|发文|确认|证实|坦言)")
_ZH_NEW_COMPANY = re.compile(r"\s*了?\s*(?:一家|一个|新的?)[^,，。]{0,12}?(?:公司|企业|实验室|创业公司|初创)")
_ZH_WITH_OPENING = re.compile(rf"\s*(?:与|和|同|携手|联手)[^,，]{{0,16}}?(?:{ZH_ROLE_RE.pattern})?\s*")
_ZH_UNIT_BEFORE_ROLE = re.compile(rf"\s*([{HAN}A-Za-z][{HAN}A-Za-z0-9 ]{{1,11}}?)\s*(?:{ZH_ROLE_RE.pattern})")
_ZH_UNIT_SHAPE = re.compile(r"(?:智能|科技|云|集团|实验室|研究院|研究所|公司|大学|学院|基金会)$")
_ZH_ANAPHOR = re.compile(r"该|其|本|公司|集团|团队|联席|联合|临时|新任|首席|副")
_ZH_TITLE_NEXT = re.compile(rf"\s*(?:{ZH_ROLE_RE.pattern})")
_ZH_OF = re.compile(r"\s*的\s*")
_ZH_DEBUT = re.compile(r"(?:\s*[A-Z][A-Za-z0-9.]*){0,2}\s*(?:正式|宣布|官宣|今日|日前)?\s*(?:亮相|成立|面世|问世|揭幕)")
# 挖走三名研究员：
_ZH_COUNTED = re.compile(rf"\s*(?:[两三四五六七八九十几多数\d]+)\s*(?:名|位|个)[{HAN}A-Za-z ]{{0,12}}")
_ZH_STAYS = re.compile(r"继续|仍将|仍然|依然")
_ZH_BEFORE_THAT = re.compile(r"\s*(?:之|以)?前(?!\s*[A-Za-z\d]|任)")
_ZH_ORG_SUBJECT_GAP = re.compile(  # Meta 从 OpenAI 挖走, 谷歌以 27 亿美元聘请
    rf"\s*(?:董事会|官方|{ZH_FILLERS}|以[^,，]{{1,16}}?(?:美元|元|的?代价|的?价格)|(?:从|自)\s*{_ZH_ORG_OR_LATIN}\s*|\s)*"
)
_ZH_CAME_FROM = re.compile(rf"(?:从|自)\s*({_ZH_ORG_OR_LATIN})\s*$")
_ZH_PASSIVE = re.compile(rf"被\s*({_ZH_ORG_OR_LATIN})\s*(?:以[^,，]{{1,16}}?)?\s*$")  # 被 Meta 以超 2 亿美元挖走
_ZH_BACKGROUND = re.compile(
    r"曾|早年|多年前|年前|(?:19|20)\d\d\s*年|当年|否认|并未|没有|不会|未曾|拒绝|传闻|传言|谣言|是否"
)

# The slots after a verb: the organisation (named, unnamed, suffixed), the role.
_ZH_OBJECT_LEAD = re.compile(r"\s*了?\s*(?:在\s*)?")
_ZH_UNNAMED = re.compile(r"一家|一个|新的?")  # 创办一家…公司: a company not yet named
_ZH_NAMED_COMPANY = re.compile(  # 「安全超级智能」公司 SSI, 具身智能公司星河机器人
    rf"」?[{HAN}A-Za-z ]{{0,10}}?(?:公司|实验室|初创企业|企业)\s*"
    rf"(「[^」]{{2,20}}」|[A-Z][{LATIN}0-9.&\- ]*[{LATIN}0-9.]|[{HAN}]{{2,8}}(?=$|[\s,，。;；(（]))"
)
_ZH_SUFFIX_ORG_AT = re.compile(rf"[{HAN}A-Za-z]{{1,8}}?(?:实验室|研究院|研究所|集团|大学|学院|科技)(?![{HAN}])")
_LATIN_SEQUENCE = re.compile(r"\s*([A-Z][\w.&\-]*(?:\s+[A-Z][\w.&\-]*)*)")
_ZH_WORD_NEXT = re.compile(rf"\s*[{HAN}A-Za-z]")
_ZH_ROLE_TEXT = re.compile(rf"\s*(?:为)?\s*(?:的\s*)?([{HAN}A-Za-z ]{{1,16}})")
_ZH_ROLE_HINT = re.compile(
    r"首席|CEO|CTO|COO|CFO|C[A-Z]O|总裁|主席|董事|总经理|负责人|院长|所长|主任|科学家|官|总监|经理|合伙人|顾问|研究员|教授|VP"
)


def zh_sentence(sent: str, topic: list[Span], stepped_down: Set[str] = frozenset()) -> list[Draft]:
    """Clause by clause; a clause with no subject of its own continues the previous one's (zero anaphora).
    `stepped_down`: who the item said left a post before this sentence (then 继续担任 is a role change)."""
    drafts: list[Draft] = []
    carried = topic
    context = ""
    left = set(stepped_down)
    counted = None  # "Meta 从 OpenAI 挖走三名研究员：" — who they are comes in the next clause
    for clause in _ZH_CLAUSE_SPLIT.split(sent):
        ents = find_entities(clause, "zh")
        found, subject = _zh_clause(clause, ents, carried, context, left)
        if not found and counted and ents.persons and ents.persons[0].start == 0:
            named = list_right(clause, ents.persons[0], ents.persons)
            found, subject = org_drafts(named, counted[1], counted[0], ""), named
        counted = _zh_counted_hire(clause, ents)
        drafts.extend(found)
        left |= {d.move.person for d in found if d.move.action == "leave"}
        subject = subject or [p for p in ents.persons if p.start == 0 or _ZH_SPEAKS.match(clause, p.end)][:1]
        carried = [Span(p.text, 0, 0, p.single) for p in subject] or carried  # offsets belong to this clause
        context = ents.orgs[-1].text if ents.orgs else context
    return drafts


def _zh_counted_hire(clause: str, ents: Entities) -> tuple[str, str] | None:
    """(org, action) of a clause that hires a number of people it names only after a colon."""
    for start, end, structure, action in verb_hits(clause, ZH_VERBS):
        if structure == "obj" and _ZH_COUNTED.fullmatch(clause, end):
            org = _zh_org_subject(clause, start, ents)
            return (org, action) if org else None
    return None


def _zh_clause(
    clause: str, ents: Entities, carried: list[Span], context: str, stepped_down: Set[str]
) -> tuple[list[Draft], list[Span]]:
    """Drafts of one clause, and the subject it gives the clauses after it."""
    drafts: list[Draft] = []
    subject: list[Span] = []
    used_until = -1
    for start, end, structure, action in verb_hits(clause, ZH_VERBS):
        if start < used_until:
            continue
        if structure == "obj":
            found, persons = _zh_object_verb(clause, start, end, action, ents)
        else:
            found, persons = _zh_subject_verb(
                clause, (start, end), action, ents, subject or carried, context, stepped_down
            )
        if found:
            drafts.extend(found)
            subject = persons
            used_until = end
    return drafts, subject


def _zh_subject_verb(
    clause: str,
    verb_span: tuple[int, int],
    action: str,
    ents: Entities,
    carried: list[Span],
    context: str,
    stepped_down: Set[str],
) -> tuple[list[Draft], list[Span]]:
    start, end = verb_span
    verb = clause[start:end]
    persons, gap = _zh_subject(clause, start, ents)
    if (
        not persons
        and carried
        and not any(p.start < start for p in ents.persons)
        and _ZH_SUBJECT_GAP.fullmatch(clause[:start])
    ):
        persons, gap = carried, clause[:start]
    if not persons or _ZH_BACKGROUND.search(gap):
        return [], []
    if _ZH_STAYS.search(gap) and not (action == "appoint" and stepped_down_before(persons, stepped_down)):
        return [], []  # 继续担任院长: no move, unless the item just said this person left another post
    if verb in ZH_NEEDS_YOU and not clause[: persons[0].start].rstrip().endswith("由"):
        return [], []
    org = _zh_org_after(clause, end, ents)
    if action == "found" and (of := _ZH_OF.match(clause, end)):  # 穆拉蒂创办的 Thinking Machines 正式亮相
        debuting = _zh_org_after(clause, of.end(), ents)
        if not debuting or not _ZH_DEBUT.match(clause, clause.find(debuting, of.end()) + len(debuting)):
            return [], []  # 创办的公司完成融资: the founding is background to other news
        org = debuting
    if not org and action == "appoint" and (unit := _ZH_UNIT_BEFORE_ROLE.match(clause, end)):
        unit_named = _ZH_UNIT_SHAPE.search(unit.group(1)) and not _ZH_ANAPHOR.match(unit.group(1))
        org = unit.group(1).strip() if unit_named else ""  # 兼任灵犀云智能总裁; not 担任技术副总裁
    if org and _ZH_BEFORE_THAT.match(clause, clause.find(org, end) + len(org)):
        return [], []  # 他加入字节跳动前曾任…: the time before a move, told as background
    role = _zh_role(clause, end, org) if action == "appoint" else ""
    if action == "appoint" and verb not in ZH_NEEDS_YOU and not _ZH_ROLE_HINT.search(role):
        return [], []  # 担任评委 is not a job
    if action == "found" and not org and not verb.startswith("创业") and not _ZH_NEW_COMPANY.match(clause, end):
        return [], []  # 项目创建完成, 创建多页画布: what is founded without a name must at least be a company
    if action in ("join", "return") and not org and _ZH_WORD_NEXT.match(clause, end):
        return [], []  # 加入等待名单, 加入讨论
    if action == "found" and carried and persons[0].start and _ZH_WITH_OPENING.fullmatch(clause[: persons[0].start]):
        persons = [*carried, *persons]  # "A 创业，与领英创始人霍夫曼共创 Inflection AI": A founds it too
    own = descriptor_org(clause, persons[0], ents.orgs)
    came_from = _ZH_CAME_FROM.search(gap)
    from_org = came_from.group(1).strip() if came_from else own.text if own else ""
    before = context_org(clause, persons[0], ents.orgs) or context
    return subject_drafts(persons, action, from_org, org, role, before), persons


def _zh_subject(clause: str, pos: int, ents: Entities) -> tuple[list[Span], str]:
    person = nearest_before(ents.persons, pos)
    if person is None:
        return [], ""
    gap = clause[person.end : pos]
    return (list_left(clause, person, ents.persons), gap) if _ZH_SUBJECT_GAP.fullmatch(gap) else ([], gap)


def _zh_object_verb(clause: str, start: int, end: int, action: str, ents: Entities) -> tuple[list[Draft], list[Span]]:
    """'Quanta 董事会解雇 CEO Leo Brandt', 'Meta 挖走苹果负责人X', and the passive 'X 被 Meta 挖走'."""
    passive = _ZH_PASSIVE.search(clause[:start])
    if passive:
        person = nearest_before(ents.persons, passive.start())
        if person is None or not _ZH_SUBJECT_GAP.fullmatch(clause[person.end : passive.start()]):
            return [], []
        return org_drafts([person], action, passive.group(1).strip(), ""), [person]
    org = _zh_org_subject(clause, start, ents)
    if not org:
        return [], []
    after = [  # not "Vexa" of "聘请 Vexa 创始人诺姆·沙泽尔": a lone word before a title is the company
        p
        for p in ents.persons
        if p.start >= end
        and len(clause[end : p.start]) <= 25
        and not (p.single and _ZH_TITLE_NEXT.match(clause, p.end))
    ]
    if not after:
        return [], []
    persons = list_right(clause, after[0], ents.persons)
    return org_drafts(persons, action, org, _zh_role(clause, persons[-1].end, "")), persons


def _zh_org_subject(clause: str, start: int, ents: Entities) -> str:
    """The nearest organisation before an object verb whose gap to it is allowed (谷歌以 27 亿美元聘请:
    not "27"; Meta 从 OpenAI 挖走: not OpenAI)."""
    before = [
        o for o in reversed(ents.orgs) if o.end <= start and not clause[: o.start].rstrip().endswith(("从", "自"))
    ]
    return next((o.text for o in before if _ZH_ORG_SUBJECT_GAP.fullmatch(clause[o.end : start])), "")


def _zh_org_after(clause: str, pos: int, ents: Entities) -> str:
    """The organisation after a verb: a gazetteer or Latin name, 「」-quoted or suffixed (…实验室)."""
    m = _ZH_OBJECT_LEAD.match(clause, pos)
    start = m.end() if m else pos
    org = "" if _ZH_UNNAMED.match(clause, start) else span_at(org_like(ents), start)
    named = _ZH_NAMED_COMPANY.match(clause, start + len(org))
    if named and not ZH_ROLE_RE.search(named.group(1)):
        return named.group(1).strip("「」 ")  # 创办新公司 Inflection AI
    if _ZH_UNNAMED.match(clause, start):
        return ""  # 创办一家 AI 基础设施公司: a company not yet named
    if not org and (suffixed := _ZH_SUFFIX_ORG_AT.match(clause, start)):
        return suffixed.group()
    latin = _LATIN_SEQUENCE.match(clause, start + len(org)) if org else None
    if org in ZH_ORGS and latin and token_kind(latin.group(1).split()[0]) == "O":
        org = f"{org} {latin.group(1)}"  # 谷歌 DeepMind
    words = org.split()
    while words and words[-1] in ROLE_WORDS:  # "Microsoft AI CEO" → "Microsoft AI"
        words.pop()
    return " ".join(words)


def _zh_role(clause: str, pos: int, org: str) -> str:
    rest = clause[pos:].lstrip()
    if org and rest.startswith(org):
        rest = rest[len(org) :]
    m = _ZH_ROLE_TEXT.match(rest)
    return m.group(1).strip() if m else ""
