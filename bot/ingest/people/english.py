"""English move rules: find a move verb, then the person and the organisation its construction puts around it.

Four constructions: the person as subject ("X joins Y", "X steps down as CEO of Y"), the
organisation as subject ("Y hires X", "Y's board removes X"), the passive ("X was poached by Y")
and the possessive noun ("X's departure from Y"). Around them: a subject shared by a chained verb
("leaves OpenAI to join Anthropic"), "he"/"she" meaning the item's mover, a list of people moving
together, and what makes a clause background rather than news ("who joined Google in 2013",
"denies leaving", "left Google in January to join Greylock" beside a launch). A step down followed
by "stays on as adviser" is a role change at the same company; a company's launch ("launches with
$65M", "emerges from stealth") names its founders as its leaders ("led by CEO X", "co-founded by").
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set

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
)
from bot.ingest.people.lexicon import EN_VERBS, KNOWN_ORGS, verb_hits
from bot.ingest.people.model import Draft, Entities, Span, make_draft, org_drafts, subject_drafts

# Who the subject is: what may stand between a person and their verb, and what makes a name an object.
_EN_SUBJECT_GAP = re.compile(  # what may stand between a subject and its verb
    r"(?:\s*,\s*who\b)?\s*(?:(?:has|have|had|is|are|was|were|will|would|to|be|been|being|also|reportedly|officially"
    r"|formally|now|just|finally|quietly|abruptly|suddenly|soon|then|both|all|set|plans?|planning|expected|going"
    r"|about|himself|herself|says|said|say|confirms|confirmed|confirm|announces|announced|reveals|revealed|tells"
    r"|told|writes|wrote|posted|that|he|she|they)\s+)*",
    re.I,
)
_EN_APPOSITION = re.compile(r",\s+[^,;]{1,140},\s*")
_COMMA_GAP = re.compile(r",\s*")
_AFTER_NOUN_COMMA = re.compile(r"[a-z],\s*$")
_RELATIVE_OBJECT = re.compile(r"\b(?:who|that|which)\s+[a-z]+\s+$")
_POSSESSIVE_GAP = re.compile(r"['’]s?\s+")
_CHAINED_VERB = re.compile(r"\b(?:to|and|, and)\s+(?:will\s+)?$")
_PRONOUN = re.compile(r"\b(?:he|she)\b", re.I)

# Object verbs: the organisation before the verb, the person after it.
_EN_ORG_SUBJECT_GAP = re.compile(
    r"(?:['’]s?)?(?:\s+board(?:\s+of\s+directors)?|\s+team)?\s*(?:(?:has|have|is|will|reportedly|officially|also"
    r"|just|quietly|formally|abruptly|on\s+\w+day)\s+)*"
    r"(?:(?:pays?|paid|spends?|spent)\s+(?:about\s+|nearly\s+|over\s+)?(?:US)?\$[\d.,]+\s*(?:[mb]illion|[MB]n?)?\s+to\s+)?",
    re.I,
)
_EN_OBJECT_BLOCK = re.compile(
    r"[,;:()\"“”]|\b(?:and|or|but|who|which|that|after|before|to|for|with|by|from|in|on|at|as|while|when|than)\b"
)
_INCLUDING = re.compile(r",?\s+including\s+")
_COUNTED_LIST = re.compile(  # "poaches three OpenAI researchers: X, Y and Z"
    r"\s*(?:two|three|four|five|six|\d+)\s+(?:[\w.-]+\s+){0,3}?(?:researchers|engineers|executives|scientists|leaders)\s*:\s*",
    re.I,
)

# Background, not news: negated, dated, or told in a relative clause.
_EN_NEGATION = re.compile(
    r"\b(?:not|n't|never|no\s+longer|denies|denied|deny|rumou?red|won't|refus\w+|declin\w+)\b", re.I
)
_EN_BACKGROUND_AFTER = re.compile(
    r"\b(?:in\s+(?:19|20)\d\d|ago|last\s+year|back\s+in|years?\s+earlier|years?\s+before)\b", re.I
)
_EN_MONTH_AFTER = re.compile(
    r"^\s*(?:\S+\s+){0,3}?in\s+(?:January|February|March|April|May|June|July|August|September|October|November"
    r"|December)\b"
)
_EN_YEAR_OPENING = re.compile(r"\s*(?:In|By|Back\s+in|Since)\s+(?:19|20)\d\d\b")
_EN_RECENT = re.compile(r"\b(?:this|last)\s+(?:week|month)|today|yesterday|recently|earlier\s+this|on\s+\w+day\b", re.I)
_CLAUSE_END = re.compile(r"[,;.]")
_WHO_ENDING = re.compile(r"(?:\bwho|,\s+who)\s+(?:had\s+)?$")
_PAST_VERB = re.compile(r"(?:ed|left|quit|became|rejoined)$")

# The slots after a verb: the organisation, the role.
_ORG_SLOT = re.compile(r"\s*(?i:(?:at|with|to|as)\s+)?(?i:the\s+(?:board\s+of\s+)?)?")
_LEAVE_SLOT = re.compile(r"\s*(?i:(?:from|as)\s+)?(?i:the\s+(?:board\s+of\s+)?)?")
_ROLE_OF_SLOT = re.compile(
    r"\s*(?i:as\s+)?(?i:(?:the|its|an?)\s+)?(?i:(?:new|interim)\s+)?(?:[\w-]+\s+){0,3}?of\s+(?i:the\s+)?"
    r"(?:[a-z][\w-]*\s+){0,2}"  # "CEO of rocket startup Relativity Space"
)
_ANAPHOR_ORG = re.compile(r"^\s*the\s+(?:company|firm|startup|lab|group|organi[sz]ation|business)\b", re.I)
_JOIN_OBJECT_OK = re.compile(  # "joins Anthropic", "joins as", "rejoins board"; not "joins forces", "joins us"
    r"\s*(?:$|[,;.:)]|(?:the\s+)?(?:board|company|firm|startup|lab|team)\b|(?:as|at|to|from|after|alongside)\b"
    r"|(?:the\s+)?[A-Z0-9\"“'‘]|[a-z]+[A-Z])"
)
_SUCCEEDS = re.compile(r"^(?:succeed|replac)|over\s+from$", re.I)
_HEADS = re.compile(r"head", re.I)
_STAYS = re.compile(r"\b(?:stay|remain)", re.I)
_LEADS_NEW = re.compile(r"\s+(?:a|an|the)\s+(?:new|newly[\s-]\w+|combined|merged)\b", re.I)  # "will lead a new center"
_WITH_WORD = re.compile(r"\s*(?:with\s+)?")
_LIST_CONTINUES = re.compile(r"\s*(?:,|and)\s+[A-Z]")
_TO_WORD = re.compile(r"\s*to\s+")
# "leaves Google for Anthropic", "leaving for rival Anthropic"
_FOR_WORD = re.compile(r"\s*for\s+(?:(?:rival|competitor|(?:AI\s+)?startup|fellow)\s+)?")
_ROLE_NOUN_EN = (
    r"(?i:(?:co-?)?CEOs?|C[A-Z]O|S?VP|EVP|(?:executive\s+|senior\s+)?vice\s+president|president|chief(?:\s+[\w-]+){1,2}"
    r"|head\s+of\s+[\w-]+(?:\s+[\w-]+)?|chair(?:man|woman|person)?|(?:managing\s+)?director|general\s+manager"
    r"|(?:co-?)?lead(?:er)?|(?:research\s+)?scientist|researcher|engineer|fellow|board\s+member|partner|advis[eo]r"
    r"|economist|architect|officer|member\s+of\s+(?:the|its)\s+board|to\s+(?:the\s+|its\s+|our\s+)?board\b"
    r"|to\s+(?:lead|head|run|oversee)(?:\s+[\w-]+){1,4})"
)
_ROLE_AFTER_EN = re.compile(
    r"^\s*(?:(?i:as\s+)?(?:(?i:the\s+)?[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*)*['’]s?\s+)?|(?i:to\s+)(?!(?:lead|head|run|oversee)\b))"
    r"(?i:(?:its|the|an?|their|his|her)\s+)?"
    r"(?i:(?:new|interim|first|acting|permanent|next|sole|temporary)\s+)?"
    r"(?i:(?:technical|research|engineering|product|executive|senior|principal|distinguished|founding)\s+)?"
    rf"({_ROLE_NOUN_EN}(?:\s+of\s+(?:the\s+|an?\s+)?(?:[\w-]+\s+){{0,4}}?[A-Z][\w.]*(?:\s+[A-Z][\w.]*)*)?)"
)
_TO_PREFIX = re.compile(r"^to\s+")
_CHAIR = re.compile(r"chair", re.I)

# Founding: what marks the thing founded as a company, and who founded it with them.
_FOUND_NEEDS_MARKER = re.compile(r"^(?:launch|start|set|form|unveil|sp[iu]n)", re.I)
_COMPANY_NOUN = r"(?:company|startup|start-up|lab|laboratory|venture|firm|business)"
_COMPANY_BEFORE = re.compile(  # "launches a new AI startup called X"
    rf"^\s*(?:his|her|their|a|an)\s+(?:own\s+)?(?:new\s+)?(?:[\w-]+\s+){{0,3}}?{_COMPANY_NOUN}\b"
    r"(?:\s*,)?(?:\s+(?:called|named|dubbed))?\s*",
    re.I,
)
_COMPANY_AFTER = re.compile(rf"^\s*,?\s*(?:an?|the|his|her)\s+(?:new\s+)?(?:[\w-]+\s+){{0,3}}?{_COMPANY_NOUN}\b", re.I)
_ORG_ENDING = re.compile(r"\b(?:Inc\.?|Labs?|Corp\.?|Ltd\.?|Technologies|AI)$")
_WS = re.compile(r"\s*")
_COFOUNDERS = re.compile(r"[^,;]{0,60}?\bwith\s+(?:(?:co-?founders?|former\s+[\w.]+\s+\w+)\s+)?", re.I)

# Appointments stated as a circumstance, and headline case.
_WITH_ENDING = re.compile(r"\bwith\s+$")
_AS_NEXT = re.compile(r"\s+as\s")
_CHAIRED_BY = re.compile(r"\bchaired\s+by\s+$")
_LONG_WORD = re.compile(r"[A-Za-z][a-z]{3,}")


# A company launched by the item (its founders are then named as its leaders), and how they are named.
_LAUNCH = re.compile(  # "Adept launches with $65M", "Reka emerges from stealth"
    r"\s*(?:(?:officially|formally|publicly)\s+)?(?:launch(?:es|ed)\s+with\s+(?:a\s+)?(?:US)?\$\s?\d"
    r"|(?:emerges?|emerged|comes?|came|exits?|exited|steps?|stepped)\s+(?:out\s+of|from)\s+stealth)",
    re.I,
)
_DEBUT = re.compile(  # "Thinking Machines Lab officially launches", "… debuts": a company only if the item says startup
    r"(?:\s+[A-Z][\w.]*){0,2}\s+(?:(?:officially|formally|publicly)\s+)?(?:launch(?:es|ed)|debut(?:s|ed)?)"
    r"\s*(?:$|[,.;:—–]|with\b|in\b)",
    re.I,
)
_STARTUP = re.compile(r"\b(?:startup|start-up|new\s+(?:AI\s+)?(?:company|lab|venture))\b", re.I)
_LAUNCH_HINT = re.compile(r"launch(?:es|ed)|debut|stealth", re.I)
_OWN_STARTUP = re.compile(r"['’]s?\s+(?:new\s+)?(?:AI\s+)?(?:startup|start-up|company|venture|lab)\b", re.I)
_FOUNDERS_MARK = re.compile(  # what puts the founders after it; a funding round "led by" an investor does not
    r"(?<!round\s)(?<!Series\s[A-Z]\s)(?<!funding\s)(?<!investment\s)\b(?:(?:led|run|headed)\s+by\s+(?:its\s+)?"
    r"(?:co-?founders?\s+and\s+)?(?:CEO|chief\s+executive|president|co-?founders?|founders?|chief\s+[\w-]+\s+officer"
    r"|C[TEO]O)|(?:co-?)?founded\s+by|(?:its|the|his|her|their)\s+co-?founders?\s+(?:are|were|include))\s+",
    re.I,
)
_FOUNDER_DESCRIPTOR = re.compile(r"[^,;.()]{0,60}")  # "LinkedIn co-founder and Greylock partner "


def en_launched_org(sent: str, item: str) -> str:
    """The company this sentence says is launching as a company: with money raised, out of stealth, or
    "debuts" / "officially launches" in an item that calls it a startup (a product launch is none)."""
    if not _LAUNCH_HINT.search(sent):
        return ""  # most sentences: no entity search
    for org in org_like(find_entities(sent, "en")):
        if _LAUNCH.match(sent, org.end):
            return org.text
        if _DEBUT.match(sent, org.end) and org.text.split()[0] not in KNOWN_ORGS and _STARTUP.search(item):
            return org.text
    return ""


def en_founders(sent: str) -> list[Span]:
    """People a launch item names as the new company's founders or leaders: "led by CEO X and president
    Y", "co-founded by X and Y", "its co-founders are X and Y" (a descriptor perhaps before each
    name), "X's startup"."""
    ents = find_entities(sent, "en")
    named = [p for p in ents.persons if not p.single]
    founders = [p for p in named if _OWN_STARTUP.match(sent, p.end)]  # "Mira Murati's startup …"
    for mark in _FOUNDERS_MARK.finditer(sent):
        first = next((p for p in named if p.start >= mark.end()), None)
        if first and _FOUNDER_DESCRIPTOR.fullmatch(sent[mark.end() : first.start]):
            founders += [p for p in list_right(sent, first, named) if p not in founders]
    return founders


def en_sentence(sent: str, topic: list[Span], stepped_down: Set[str] = frozenset()) -> list[Draft]:
    """Moves in one English sentence; `topic` is who 'he'/'she' refers to (the item's last mover),
    `stepped_down` who the item said left a post before this sentence."""
    ents = find_entities(sent, "en")
    title_case = _is_title_case(sent)
    drafts: list[Draft] = []
    used_until = -1
    for start, end, structure, action in verb_hits(sent, EN_VERBS):
        if start < used_until or (start > 0 and sent[start].isupper() and not title_case):
            continue  # "Left 4 Dead", "Return to Castle Wolfenstein": a capitalised verb mid-sentence is a name
        found = _en_verb(sent, start, end, structure, action, ents, drafts, topic, stepped_down)
        if found:
            drafts.extend(found)
            used_until = end
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
    ents: Entities,
    earlier: Sequence[Draft],
    topic: list[Span],
    stepped_down: Set[str],
) -> list[Draft]:
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
    return _en_subject_moves(sent, start, end, structure, action, persons, ents, stepped_down)


def _en_object_verb(sent: str, start: int, end: int, action: str, ents: Entities) -> list[Draft]:
    """'Lumen hires ousted Vexa CEO Carla Nunez', 'Quanta board removes X as CEO'."""
    org = _en_org_subject(sent, start, ents)
    persons, from_org = _en_object(sent, end, ents)
    if not org or not persons or _EN_NEGATION.search(sent[max(0, start - 20) : start]):
        return []
    role = _en_role(sent, persons[-1].end)
    if action == "appoint" and not role:
        return []  # "Time names X person of the year"
    return org_drafts(persons, action, org, role, from_org)


def _en_subject(sent: str, pos: int, ents: Entities) -> tuple[list[Span], str]:
    """The person(s) just before a verb, allowing auxiliaries, 'says he' and an apposition in between."""
    person = nearest_before(ents.persons, pos)
    if person is None:
        return [], ""
    gap = sent[person.end : pos]
    if person.single and (gap.startswith(("'", "’")) or not _EN_SUBJECT_GAP.fullmatch(gap)):
        named = nearest_before([p for p in ents.persons if not p.single], pos)  # "X, who led Lumen's team, was"
        apposed = _EN_APPOSITION.match(sent, named.end) if named else None
        inside = [p for p in ents.persons if named and named.end < p.start < pos]
        owners = all(_POSSESSIVE_GAP.match(sent, p.end) for p in inside)  # "Lumen's", not a list "Braid, Left"
        if named and apposed and owners and _EN_SUBJECT_GAP.fullmatch(sent[apposed.end() : pos]):
            return [named], sent[named.end : pos]
    if gap.startswith(("'", "’")) or _RELATIVE_OBJECT.search(sent[: person.start]):
        return [], gap  # "the DJ who groped X was hired": X is an object inside a relative clause
    if _EN_SUBJECT_GAP.fullmatch(gap):
        return list_left(sent, person, ents.persons), gap
    if _COMMA_GAP.fullmatch(gap):  # "Two researchers, A and B, leave xAI"
        group = list_left(sent, person, ents.persons)
        return (group, gap) if _AFTER_NOUN_COMMA.search(sent[: group[0].start]) else ([], gap)
    m = _EN_APPOSITION.match(gap)
    if m and _EN_SUBJECT_GAP.fullmatch(gap[m.end() :]) and not any(person.end < p.start < pos for p in ents.persons):
        return [person], gap
    return [], gap


def _en_chained_subject(sent: str, start: int, earlier: Sequence[Draft]) -> list[Span]:
    """'X leaves OpenAI to join Anthropic': the second verb shares the first one's subject."""
    if not earlier or not _CHAINED_VERB.search(sent[:start]):
        return []
    return [Span(earlier[-1].move.person, 0, 0, single=earlier[-1].single)]


def _en_pronoun_subject(sent: str, start: int, ents: Entities, topic: list[Span]) -> list[Span]:
    """'he'/'she' before the verb: the one person named earlier in the sentence, else the item's mover."""
    pronouns = list(_PRONOUN.finditer(sent[:start]))
    if not pronouns or not _EN_SUBJECT_GAP.fullmatch(sent[pronouns[-1].end() : start]):
        return []
    named = {p.text for p in ents.persons if p.end <= pronouns[-1].start() and not p.single}
    if len(named) > 1:
        return []
    return [Span(named.pop(), 0, 0)] if named else topic


def _en_object(sent: str, pos: int, ents: Entities) -> tuple[list[Span], str]:
    """The person(s) after an object verb, and the org in their descriptor ("ousted OpenAI CEO X")."""
    after = [p for p in ents.persons if p.start >= pos and not p.single]
    if not after:
        return [], ""
    gap = sent[pos : after[0].start]
    including = _INCLUDING.search(gap) or _COUNTED_LIST.fullmatch(gap)  # "the team behind X, including CEO Y"
    checked = gap[including.end() :] if including and len(gap) <= 90 else gap
    if len(checked) > 60 or _EN_OBJECT_BLOCK.search(checked):
        return [], ""
    orgs_in_gap = [o.text for o in org_like(ents) if pos <= o.start and o.end <= after[0].start]
    return list_right(sent, after[0], ents.persons), orgs_in_gap[-1] if orgs_in_gap else ""


def _en_org_subject(sent: str, pos: int, ents: Entities) -> str:
    spans = sorted((s for s in org_like(ents) if s.end <= pos), key=lambda s: s.end, reverse=True)
    # the nearest one whose gap to the verb is allowed: "Google pays $2.7 billion to bring back" is Google's
    return next((s.text for s in spans if _EN_ORG_SUBJECT_GAP.fullmatch(sent[s.end : pos])), "")


def _en_org_after(sent: str, pos: int, ents: Entities, action: str) -> str:
    """The organisation in the slot after a verb ("joins Anthropic", "leaves the board of X")."""
    rest = sent[pos:]
    if _ANAPHOR_ORG.match(rest):
        return ""
    for slot in (_LEAVE_SLOT if action == "leave" else _ORG_SLOT, _ROLE_OF_SLOT):
        m = slot.match(rest)
        if not m:
            continue
        # "returns to the Giant Bombcast", "CEO of rocket startup Relativity Space": a name there is a company's
        any_name = slot is _ROLE_OF_SLOT or m.group().rstrip().lower().endswith("the")
        org = span_at([*ents.persons, *ents.orgs] if any_name else org_like(ents), pos + m.end())
        if org:
            return org
    return ""


def _en_role(sent: str, pos: int) -> str:
    m = _ROLE_AFTER_EN.match(sent[pos:])
    return _TO_PREFIX.sub("", m.group(1)) if m else ""


def _en_is_background(sent: str, start: int, end: int, gap: str) -> bool:
    """Negated, dated or told in a past relative clause: background, not this item's news."""
    clause_end = _CLAUSE_END.search(sent[end:])
    after = sent[end : end + clause_end.start()] if clause_end else sent[end:]
    before = sent[max(0, start - 30) : start]
    if _EN_NEGATION.search(before.split(",")[-1]) or _EN_YEAR_OPENING.match(sent):
        return True
    if _EN_BACKGROUND_AFTER.search(after):
        return True
    past = _PAST_VERB.search(sent[start:end].lower())
    if past and _EN_MONTH_AFTER.search(after):
        return True  # "left Google in January": an earlier step told beside this item's news
    relative = _WHO_ENDING.search(gap) or _WHO_ENDING.search(before)
    return bool(relative and past and not _EN_RECENT.search(after))


def _en_subject_moves(
    sent: str,
    start: int,
    end: int,
    structure: str,
    action: str,
    persons: list[Span],
    ents: Entities,
    stepped_down: Set[str],
) -> list[Draft]:
    """A verb whose subject is the person(s): the organisation and role from the slots after it."""
    verb = sent[start:end]
    own = descriptor_org(sent, persons[0], ents.orgs)
    from_org = own.text if own else ""
    before = context_org(sent, persons[0], ents.orgs)
    role = _en_role(sent, end)
    if action == "found":
        org, is_company = _en_found_org(sent, end, verb, ents)
        if not is_company:
            return []
        persons = persons + [p for p in _en_cofounders(sent, end, ents) if p not in persons]
        return subject_drafts(persons, action, from_org, org, role, before)
    if action == "appoint" and _STAYS.search(verb) and not stepped_down_before(persons, stepped_down):
        return []  # "stays on as CEO" is a move only right after the same person's step down
    if _SUCCEEDS.search(verb):  # "X succeeds Y as CEO of Z": the role and company follow the one succeeded
        predecessor = _en_predecessor(sent, end, ents)
        if predecessor is None:
            return []  # "succeeded in raising", "replaces the old model"
        role, end = _en_role(sent, predecessor.end), predecessor.end
    if action == "appoint" and not role:
        role = _en_role_after_org(sent, end, ents) or ("lead" if _LEADS_NEW.match(sent, end) else "")
    if action == "appoint" and not role and not _CHAIR.search(verb):
        return []  # "named as 'person of interest'", "became the NFL's wokest team"
    if action in ("join", "return") and structure != "passive" and not _plain_object(sent, end, ents):
        return []
    org = _en_org_after(sent, end, ents, action)
    if _HEADS.match(verb) and org not in [o.text for o in ents.orgs]:
        return []  # "heads to Washington", "heads to Kidsylvania": a place unless the name is a company's
    after_org = sent.find(org, end) + len(org) if org else end
    role = role or _en_role(sent, after_org)
    if verb.lower().endswith("from"):  # "moves from Meta to OpenAI"
        arrow = _TO_WORD.match(sent, after_org) if org else None
        dest = span_at(org_like(ents), arrow.end()) if arrow else ""
        return [make_draft(p, action, org, dest, role, before) for p in persons] if dest else []
    if structure == "poss" and not org and action == "leave":
        org = _en_org_subject(sent, persons[0].start, ents)
    towards = _FOR_WORD.match(sent, after_org) if action == "leave" else None  # "leaves Google for Anthropic"
    to = span_at(ents.orgs, towards.end()) if towards else ""
    return subject_drafts(persons, action, from_org, org, role, before, towards=to)


def _en_predecessor(sent: str, pos: int, ents: Entities) -> Span | None:
    """The person right after "succeeds"/"replaces"/"takes over from"."""
    return next((p for p in ents.persons if p.start >= pos and not sent[pos : p.start].strip()), None)


def _en_role_after_org(sent: str, pos: int, ents: Entities) -> str:
    """'will run Waymo as co-CEOs': the role after the organisation the verb takes."""
    org = _en_org_after(sent, pos, ents, "appoint")
    return _en_role(sent, sent.find(org, pos) + len(org)) if org else ""


def _plain_object(sent: str, pos: int, ents: Entities) -> bool:
    """What follows a join verb can be an employer: not 'joins forces', 'joins us', 'joins Ryan and Vinny'."""
    if not _JOIN_OBJECT_OK.match(sent[pos:]):
        return False
    m = _WITH_WORD.match(sent, pos)
    start = m.end() if m else pos
    first = next((p for p in ents.persons if p.start == start), None)
    if first is None:
        return True
    return first.single and not _LIST_CONTINUES.match(sent, first.end)


def _en_found_org(sent: str, pos: int, verb: str, ents: Entities) -> tuple[str, bool]:
    """(org, is a company): what was founded, and whether the text marks it as a company."""
    m = _COMPANY_BEFORE.match(sent[pos:])
    if m:
        return span_at(org_like(ents), pos + m.end()), True
    m = _WS.match(sent, pos)
    start = m.end() if m else pos
    org = span_at(org_like(ents), start)
    if not org:
        return "", False
    marked = bool(_COMPANY_AFTER.match(sent[start + len(org) :]) or _ORG_ENDING.search(org))
    return org, marked or not _FOUND_NEEDS_MARKER.match(verb)


def _en_cofounders(sent: str, pos: int, ents: Entities) -> list[Span]:
    """'co-founded Corvid Labs with Jun Park and former Meta researcher Ella Ross'."""
    m = _COFOUNDERS.match(sent, pos)
    first = [p for p in ents.persons if m and p.start == m.end() and not p.single]
    return list_right(sent, first[0], ents.persons) if first else []


def _en_with_as(sent: str, ents: Entities) -> list[Draft]:
    """'…, with Duarte as CEO' / 'a board chaired by X': an appointment stated as a circumstance."""
    drafts = []
    for p in ents.persons:
        with_as = _WITH_ENDING.search(sent[: p.start]) and _AS_NEXT.match(sent, p.end)
        chaired = _CHAIRED_BY.search(sent[: p.start])
        role = _en_role(sent, p.end) if with_as else "chair" if chaired else ""
        if role:
            drafts.append(make_draft(p, "appoint", "", "", role, context_org(sent, p, ents.orgs)))
    return drafts
