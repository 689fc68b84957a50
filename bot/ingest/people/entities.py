"""Who and what a sentence names: person and organisation spans in Latin and Han script.

Names are recognised by shape, not looked up: a run of capitalised Latin tokens is a person when
every token looks like part of a name (not a stop word, title or known organisation, not
"DeepMind"-shaped), otherwise an organisation; a Han name is a surname plus one or two characters
where a title, a clause start or a list puts one, or a run of transliteration characters, or a
name with a middle dot. Chinese text gets both kinds, since it names Latin-script people and
companies too. The helpers at the end relate spans to each other (lists of people, the company in
a person's descriptor) for the rules of both languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence, Set

from bot.ingest.people.lexicon import (
    DOUBLE_SURNAMES,
    HAN,
    KNOWN_ORGS,
    LATIN,
    NAME_PREFIXES,
    NOT_HAN_NAMES,
    NOT_IN_HAN_NAMES,
    ORG_WORDS,
    PARTICLES,
    ROLE_WORDS,
    STOP,
    SURNAMES,
    TRANSLIT,
    ZH_ANY_VERB,
    ZH_FILLERS,
    ZH_OBJECT_VERB,
    ZH_ORG_RE,
    ZH_ROLE_RE,
    ZH_ROLES,
)
from bot.ingest.people.model import Entities, Span

# Latin script: capitalised runs, split into people and organisations token by token.
_TOKEN = rf"(?:[A-Z0-9]|[a-z](?=[A-Z]))[{LATIN}0-9.&'’+\-]*"
_CAP_RUN = re.compile(rf"(?<![{LATIN}0-9]){_TOKEN}(?:[ ](?:(?:{'|'.join(PARTICLES)})[ ])?{_TOKEN})*")
_INSIDE_ORG_NAME = re.compile(r"\b[A-Z][\w.]*\s+(?:of|for)\s+(?:the\s+)?$")  # Centers for …, University of …
_POSSESSIVE = re.compile(r"['’]s?$")
_NON_SPACE = re.compile(r"\S+")
_INITIAL = re.compile(r"[A-Z]\.,?")  # the "M." of "Paul M. Nakasone"
_EX_PREFIX = re.compile(r"(?:Ex|ex|Former|Then)-(?=[A-Z])")  # "Ex-DeepMind researchers"
_ORG_THEN_PERSON = re.compile(r"(O+)(N[NP]*N)")  # token kinds of "OpenAI Maria Chen"
_TITLE_BEFORE = re.compile(
    r"(?:\b(?:C[A-Z]O|VP|founder|co-?founder|chief|scientist|researcher|engineer|pioneer|godfather|head|president"
    r"|chair\w*|director|lead|executive|professor|Dr\.?|Prof\.?)|" + ZH_ROLES + r")\s*['’]*\s*$",
    re.I,
)

# Han script: names where a title, a clause start or a list puts them; organisations by their suffix.
_DOTTED_NAME = re.compile(rf"[{HAN}]{{1,8}}(?:\s?[·•‧・]\s?[{HAN}]{{1,8}})+")
_HAN_RUN = re.compile(rf"[{HAN}]{{2,8}}")
_HAN_CHAR = re.compile(rf"[{HAN}]")
_ZH_NAME_SLOT = re.compile(r"(?:^|[,，:：;；|｜【】!?。由与和、及]|\s)")  # where a bare Han name may start
_ZH_NAME_END = re.compile(  # what may follow a Han name
    rf"(?:{ZH_FILLERS}|从|在|被|向|与|和|及|、|等|的|曾|或|再|又|因|为|回应|发文|发布|加入|加盟|入职|离职|离开|出走|辞职|"
    r"辞任|辞去|卸任|退出|回归|重返|出任|担任|接任|转任|任|创立|创办|成立|创业|共同|联合|领导|宣布|表示|透露)"
)
_BEFORE_GIVEN_NAME = "的人官老长妹弟兄姐者授士监裁席由和与及、"  # end a descriptor, never begin a transliterated name
_ZH_ANNOUNCES = re.compile(r"宣布|官宣|确认|证实|透露|获悉|消息称")
_COMPANY_NOUN_BEFORE = re.compile(r"(?:公司|企业|实验室|机构|平台|独角兽)\s*$")
_GLOSS_OPENING = re.compile(r"\s*\(\s*")
_GLOSS_CLOSING = re.compile(r"\s*\)")
_QUOTED_NAME = re.compile(r"「([^」]{2,20})」")
_ZH_SUFFIX_ORG = re.compile(
    rf"(?:(?<=^)|(?<=[\s,，、:：;；|｜(（「]))[{HAN}A-Za-z]{{1,8}}?(?:公司|实验室|研究院|研究所|集团|大学|学院|科技)"
    rf"(?![{HAN}])"
)

# Between spans: one list of people, a person's own descriptor, a former employer.
_LIST_GAP = re.compile(  # between two people of one list: ", and CTO ", " 与首席技术官 ", " (CFO) and ", " 与曾任…的 "
    r"(?:\s*\([^()]{1,30}\))?\s*(?:,\s*(?:and\s+)?|and\s+|&\s+|(?:along|together)\s+with\s+|as\s+well\s+as\s+|(?:、|与|和|及)\s*(?:[^,;。、()]{1,24}?(?:的|"
    + ZH_ROLES
    + r"))?)\s*(?:前)?"
    r"(?:(?:his|her|their|其|他的|她的)\s*)?(?:(?:sister|brother|wife|husband|妹妹|姐姐|哥哥|弟弟|妻子|丈夫)\s*)?"
    r"(?:(?:former|ex-|its|co-?founders?|[A-Z]{2,5}|chief|head|president|researcher|scientist|engineer|executive"
    r"|[\w-]+\s+officer|(?:[A-Z]{2,5}|head|director|chief)\s+of\s+[\w-]+"
    r"|(?:[A-Z][\w.-]*\s+){1,3}(?:researcher|scientist|engineer|executive|partner|co-?founder|founder))\s+"
    r"|(?:" + ZH_ROLES + r")\s*)*"
)
_TITLE_AFTER = re.compile(
    r"\s*(?:(?:co-?)?founder|partner|researcher|scientist|engineer|executive|C[A-Z]O|VP|president|chief|head|director)\b",
    re.I,
)
_DESCRIPTOR_BREAK = re.compile(r"[,;:.。，]|\b(?:and|said|says|to|as|with|by)\b")


_FORMER = re.compile(r"(?:\b(?:former|ex-?|from|previously\s+at)\s*|前|曾在|此前在|从)$", re.I)


def _is_name_token(token: str) -> bool:
    if len(token) < 2 or not token[0].isupper() or token.lower() in STOP or token in KNOWN_ORGS:
        return False
    if token in ORG_WORDS or token in ROLE_WORDS or any(ch.isdigit() for ch in token):
        return False
    if not any(ch.islower() for ch in token) or token[-1] in "-'’.":
        return False
    for i, ch in enumerate(token[1:], start=1):  # "DeepMind" is not a name; "McCarthy", "D'Angelo" are
        if ch.isupper() and token[i - 1] not in "-'’" and token[:i] not in NAME_PREFIXES:
            return False
    return True


def token_kind(token: str) -> str:
    """N: part of a person's name, O: part of an organisation, R: a title, S: a stop word."""
    bare = _POSSESSIVE.sub("", token)
    if bare in ROLE_WORDS:
        return "R"
    if bare.lower() in STOP:
        return "S"
    if bare in ORG_WORDS or bare in KNOWN_ORGS:
        return "O"
    return "N" if _is_name_token(bare) else "O"


def _latin_groups(text: str) -> Iterable[tuple[str, int, bool]]:
    """(text, start, is_person) for each run of name-like or org-like capitalised tokens."""
    for run in _CAP_RUN.finditer(text):
        inside = _INSIDE_ORG_NAME.search(text[: run.start()])
        if inside and inside.group().split()[0] not in ROLE_WORDS:  # not "VP of AI Jerome Pesenti"
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
            kind = "P" if word in PARTICLES or initial else token_kind(word)
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
    if cand in NOT_HAN_NAMES or any(c in NOT_IN_HAN_NAMES for c in cand) or ZH_ORG_RE.match(cand):
        return False
    if translit and len(cand) >= 3 and all(c in TRANSLIT for c in cand):
        return True
    if len(cand) == 4:
        return cand[:2] in DOUBLE_SURNAMES
    return cand[0] in SURNAMES and len(cand) in (2, 3)


def _han_name_at(text: str, i: int, translit: bool = False) -> str | None:
    """A Han name starting at i: the shortest plausible one that ends where a verb or particle begins."""
    run = _HAN_RUN.match(text, i)
    if not run:
        return None
    for n in range(2, min(5, len(run.group())) + 1):
        rest = text[i + n :]
        ends = not rest or not _HAN_CHAR.match(rest) or bool(_ZH_NAME_END.match(rest))
        ends = ends or bool(ZH_ANY_VERB.match(rest))  # 霍夫曼共创
        if ends and _plausible_han_name(run.group()[:n], translit):
            return run.group()[:n]
    return None


def find_entities(sent: str, lang: str) -> Entities:
    """The people and organisations one sentence names, each in order of position."""
    persons: list[Span] = []
    orgs: list[Span] = []
    for text, start, is_person in _latin_groups(sent):
        if is_person:
            titled = bool(_TITLE_BEFORE.search(sent[max(0, start - 24) : start]))
            persons.append(Span(text, start, start + len(text), single=" " not in text and not titled))
        else:
            orgs.append(Span(text, start, start + len(text)))
    if lang == "zh":
        named = [p for p in persons if p.single and _COMPANY_NOUN_BEFORE.search(sent[: p.start])]
        orgs += named  # "自动驾驶公司 Waymo": the word after a company noun names the company
        persons = [p for p in persons if p not in named]
        _add_chinese_entities(sent, persons, orgs)
        persons = _glossed(sent, persons)
    return Entities(sorted(persons, key=lambda s: s.start), sorted(orgs, key=lambda s: s.start))


def _glossed(sent: str, persons: list[Span]) -> list[Span]:
    """A Chinese rendering glossed with the original — "达里奥·阿莫迪（Dario Amodei）" — is one person,
    named as the gloss names them, so the rules see one subject and the story one spelling."""
    by_start = {p.start: p for p in persons}
    merged: list[Span] = []
    for han in sorted(persons, key=lambda s: s.start):
        opening = _GLOSS_OPENING.match(sent, han.end)
        latin = by_start.get(opening.end()) if opening and _HAN_CHAR.match(han.text) else None
        closing = _GLOSS_CLOSING.match(sent, latin.end) if latin and not latin.single else None
        if latin and closing:
            merged.append(Span(latin.text, han.start, closing.end()))
    if not merged:
        return persons
    return merged + [p for p in persons if not any(m.start <= p.start < m.end for m in merged)]


def _add_chinese_entities(sent: str, persons: list[Span], orgs: list[Span]) -> None:
    def add(name: str | None, start: int) -> None:
        if name and not any(p.start < start + len(name) and start < p.end for p in persons):
            persons.append(Span(name, start, start + len(name)))

    pos = 0
    while m := _DOTTED_NAME.search(sent, pos):  # 萨拉·奥康纳, cut before a verb that follows it
        name = _cut_after_surname(m.group(), sent[m.end() : m.end() + 12])
        skip = _given_name_start(name)
        add(name[skip:], m.start() + skip)
        pos = m.start() + len(name)  # what follows the cut may begin the next name: "…阿莫迪与妹妹丹妮拉·阿莫迪"
    for m in ZH_ROLE_RE.finditer(sent):  # 副总裁王磊
        j = m.end() + (1 if sent[m.end() : m.end() + 1] == " " else 0)
        add(_han_name_at(sent, j), j)
    for m in _ZH_NAME_SLOT.finditer(sent):  # clause-initial, or in a list
        add(_han_name_at(sent, m.end(), translit=True), m.end())
    for m in ZH_OBJECT_VERB.finditer(sent):  # 任命王海峰为…: the object of a verb that acts on a person
        add(_han_name_at(sent, m.end()), m.end())
    for m in _ZH_ANNOUNCES.finditer(sent):  # 宣布张建锋不再担任…
        add(_han_name_at(sent, m.end()), m.end())
    orgs.extend(Span(m.group(), m.start(), m.end()) for m in ZH_ORG_RE.finditer(sent))
    orgs.extend(Span(m.group(1), m.start(1), m.end(1)) for m in _QUOTED_NAME.finditer(sent))
    for m in _ZH_SUFFIX_ORG.finditer(sent):
        if not any(o.start <= m.start() < o.end for o in orgs):
            orgs.append(Span(m.group(), m.start(), m.end()))


def _cut_after_surname(dotted: str, rest: str) -> str:
    """A dotted rendering up to the word that follows it ("勒莫因被解雇" → "勒莫因"). A lone character
    that transliterations use ("因" of 勒莫因) does not end a name there; a word such as 被, 加入 or any
    move verb ("开始为期四个月的休假") does."""
    first = min(i for i in map(dotted.find, "·•‧・") if i >= 0) + 1  # "…伊托与妹妹丽莎·伊托": cut after the first part
    verb = ZH_ANY_VERB.search(dotted + rest, first + 1)
    ends = (
        c.start() for c in _ZH_NAME_END.finditer(dotted, first + 1) if len(c.group()) > 1 or c.group() not in TRANSLIT
    )
    return dotted[: min(verb.start() if verb else len(dotted), next(ends, len(dotted)), len(dotted))]


def _given_name_start(name: str) -> int:
    """Where a dotted transliteration really starts: "团队负责人蒂姆尼特·格布鲁" → at 蒂, "五年多的约翰·…"
    → at 约. The run before the first dot is cut after a role word or a character no name uses,
    and a transliterated given name is at most four characters."""
    first = re.split("[·•‧・]", name, maxsplit=1)[0].rstrip()
    start = 0
    for role in ZH_ROLE_RE.finditer(first):
        start = max(start, role.end())
    for index, char in enumerate(first):
        if char in NOT_IN_HAN_NAMES or char in _BEFORE_GIVEN_NAME:
            start = max(start, index + 1)
    return max(start, len(first) - 4)


def org_like(ents: Entities) -> list[Span]:
    """Organisations, plus lone capitalised words ("Covariant"), which in an org slot name an org."""
    return [*ents.orgs, *(p for p in ents.persons if p.single)]


def span_at(spans: Iterable[Span], pos: int) -> str:
    """The text of the span that starts exactly at pos, or ""."""
    return next((s.text for s in spans if s.start == pos), "")


def nearest_before(spans: Sequence[Span], pos: int) -> Span | None:
    before = [s for s in spans if s.end <= pos]
    return before[-1] if before else None


def _peers(first: Span, persons: Sequence[Span]) -> list[Span]:
    """Who may share a list with `first`: beside a full name, a lone capitalised word in a descriptor
    ("曾任 Lumen 安全副总裁的…") is a company, not a listed person."""
    return list(persons) if first.single else [p for p in persons if not p.single]


def list_left(sent: str, first: Span, persons: Sequence[Span]) -> list[Span]:
    """`first` and the people listed just before it ("A, B and C"), in order."""
    group = [first]
    for p in reversed([p for p in _peers(first, persons) if p.end <= first.start]):
        if not _LIST_GAP.fullmatch(sent[p.end : group[0].start]):
            break
        group.insert(0, p)
    return group


def list_right(sent: str, first: Span, persons: Sequence[Span]) -> list[Span]:
    """`first` and the people listed just after it, in order."""
    group = [first]
    for p in [p for p in _peers(first, persons) if p.start >= first.end]:
        if not _LIST_GAP.fullmatch(sent[group[-1].end : p.start]):
            break
        group.append(p)
    return group


def descriptor_org(sent: str, person: Span, orgs: Sequence[Span]) -> Span | None:
    """The org in a person's own descriptor ("Former Tesla AI chief X", "阿里副总裁X")."""
    org = nearest_before(orgs, person.start)
    if org is None:
        return None
    gap = sent[org.end : person.start]
    if len(gap) <= 40 and not _DESCRIPTOR_BREAK.search(gap):
        return org
    return None


def context_org(sent: str, person: Span, orgs: Sequence[Span]) -> str:
    """The nearest org before the person that is neither their own descriptor nor a former employer."""
    own = descriptor_org(sent, person, orgs)
    candidates = [
        o
        for o in orgs
        if o.end <= person.start
        and o != own
        and not _FORMER.search(sent[: o.start])
        and not _TITLE_AFTER.match(sent, o.end)
    ]  # not "Northgate Capital" of "Northgate Capital partner Jun Park": another person's descriptor
    return candidates[-1].text if candidates else ""


def stepped_down_before(persons: Sequence[Span], stepped_down: Set[str]) -> bool:
    """Whether the subject is someone the item already said left a post, by full name or by one part
    of it ("Conrad" for "Andrew Conrad"): then "stays on as adviser" / "继续担任院长" is a role change."""
    return any(p.text == name or p.text in name.split() for name in stepped_down for p in persons)
