"""One item's moves: split it into sentences, apply the rules of its language, then settle what they left open.

The rules work one sentence at a time; what only the whole item knows is settled here: who a
later "he"/"他" is, the full name behind a lone surname ("Karpathy" when the item also says
"Andrej Karpathy"; a lone untitled word with no full name is dropped), and the company behind a
role given without one ("joins as chief scientist", "任 CEO"). The result is merged to one move
per person and destination.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace

from bot.ingest.people.chinese import zh_sentence
from bot.ingest.people.english import en_founders, en_launched_org, en_sentence
from bot.ingest.people.entities import find_entities
from bot.ingest.people.lexicon import EN_ANY_VERB, KNOWN_ORGS, ORG_WORDS, ZH_ANY_VERB, ZH_ORGS
from bot.ingest.people.model import Draft, Move, Span, make_draft
from bot.ingest.people.resolve import expand_single, merge

_SENTENCE_SPLIT = {"en": re.compile(r"(?<=[.!?;])\s+(?=[A-Z\"“'‘(])"), "zh": re.compile(r"(?<=[。!?！？;；])")}
_BLOCK_BREAK = re.compile(r"\n|\s{2,}")  # line breaks and wide gaps end a sentence too
_SPACES = re.compile(r"\s+")
_GLOSSED_NAME = re.compile(r"([\u4e00-\u9fff·]{2,12})\s*[（(]\s*([A-Z][A-Za-z.\-' ]{2,40}?)\s*[)）]")
_ORG_SHAPE = re.compile(r"[a-z][A-Z]|^[A-Z]{2,}$|\.[A-Za-z]")  # "OpenAI", "IBM", "Character.AI"


def extract_moves(title: str, text: str, lang: str) -> list[Move]:
    """Moves stated in one item (title + its summary/body; lang is 'zh' or 'en')."""
    lang = "zh" if lang == "zh" else "en"
    if not _may_state_a_move(title, text, lang):
        return []
    sentences = _sentences(title, text, lang)
    drafts: list[Draft] = []
    topic: list[Span] = []
    stepped_down: set[str] = set()
    for sent in sentences:
        found = zh_sentence(sent, topic, stepped_down) if lang == "zh" else en_sentence(sent, topic, stepped_down)
        drafts.extend(found)
        topic = _next_topic(found, topic)
        stepped_down |= {d.move.person for d in found if d.move.action == "leave"}
    if lang == "en":
        drafts += _launch_founders(sentences, drafts, f"{title}\n{text}")
    if not drafts:
        return []
    entities = [find_entities(s, lang) for s in sentences]
    full_names = [p.text for e in entities for p in e.persons if any(c in p.text for c in " ·•‧・")]
    item_org = next((o.text for e in entities for o in e.orgs if _looks_like_org(o.text)), "")
    moves = merge(_fill_orgs(_with_full_names(drafts, full_names), item_org))
    return merge(_latin_spellings(moves, f"{title}\n{text}")) if lang == "zh" else moves


def _launch_founders(sentences: Sequence[str], drafts: Sequence[Draft], item: str) -> list[Draft]:
    """An item that launches a company ("Adept launches with $65M", "… emerges from stealth", "X
    launches Inflection AI") founds it with the people it names as its founders or leaders ("led by
    CEO David Luan", "his co-founders are …"). Outside such an item "led by CEO X" describes an
    incumbent, not a move."""
    founded = next((d.move.to_org for d in drafts if d.move.action == "found" and d.move.to_org), "")
    launched = founded or next((org for sent in sentences if (org := en_launched_org(sent, item))), "")
    if not launched:
        return []
    return [make_draft(p, "found", "", launched, "", "") for sent in sentences for p in en_founders(sent)]


def _latin_spellings(moves: Sequence[Move], text: str) -> list[Move]:
    """A Chinese rendering the item itself glosses — "蒂姆尼特·格布鲁（Timnit Gebru）" — becomes the
    Latin name, so the story's English items and this one name one person."""
    glosses = {han: latin.strip() for han, latin in _GLOSSED_NAME.findall(_clean(text))}
    renamed = []
    for move in moves:
        latin = next((glosses[han] for han in glosses if move.person.endswith(han) or han.endswith(move.person)), "")
        renamed.append(replace(move, person=latin) if latin and len(move.person) >= 2 else move)
    return renamed


def _may_state_a_move(title: str, text: str, lang: str) -> bool:
    """A cheap gate: every rule starts from a move verb (or, in English, "… as <role>", "chaired by" or a
    launch "out of stealth"), so an item with none of them anywhere states no move and skips the costly
    entity search."""
    whole = _clean(f"{title}\n{text}")
    if (ZH_ANY_VERB if lang == "zh" else EN_ANY_VERB).search(whole):
        return True
    return lang == "en" and (" as " in whole or any(word in whole.lower() for word in ("chaired", "stealth")))


def _sentences(title: str, text: str, lang: str) -> list[str]:
    out = [_clean(title)]
    for block in _BLOCK_BREAK.split(html.unescape(text or "")):
        out += [s.strip() for s in _SENTENCE_SPLIT[lang].split(_clean(block)) if s.strip()]
    return [s for s in out if s]


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", html.unescape(text or ""))
    return _SPACES.sub(" ", text).strip()


def _next_topic(found: Sequence[Draft], topic: list[Span]) -> list[Span]:
    """Who a later 'he'/'she'/'他' means: the one person whose move this sentence stated, if only one."""
    movers = list(dict.fromkeys(d.move.person for d in found))
    if not movers:
        return topic
    return [Span(movers[0], 0, 0, found[0].single)] if len(movers) == 1 else []


def _with_full_names(drafts: Sequence[Draft], full_names: Sequence[str]) -> list[Draft]:
    """A lone surname or given name becomes the item's one full name for it; an untitled lone word
    with no full name in the item is dropped."""
    resolved: list[Draft] = []
    for d in drafts:
        name = expand_single(d.move.person, full_names)
        if name is None and d.single:
            continue  # a lone capitalised word with no title and no full name in the item
        resolved.append(replace(d, move=replace(d.move, person=name or d.move.person)))
    return resolved


def _looks_like_org(name: str) -> bool:
    """A name with an organisation's shape; generic words alone ("AI", "Research") name none."""
    words = name.split()
    if all(w in ORG_WORDS for w in words):
        return False
    return (
        name in ZH_ORGS
        or any(w in KNOWN_ORGS or w in ORG_WORDS for w in words)
        or any(_ORG_SHAPE.search(w) for w in words)
    )


def _fill_orgs(drafts: Sequence[Draft], item_org: str) -> list[Move]:
    """Give 'joins as chief scientist' / '任 CEO' the organisation the item is about, or drop it; a role
    given without one after another appointment in the item ("…卸任 CEO，转任顾问；A 和 B 出任联席 CEO") is at
    the company that one was filled with."""
    other_to = next((d.move.to_org for d in drafts if d.move.to_org), "")
    other_from = next((d.move.from_org for d in drafts if d.move.from_org and d.move.action != "join"), "")
    moves: list[Move] = []
    for d in drafts:
        m = d.move
        if d.needs_org:
            if m.action == "appoint":  # a role inside a company: the nearest company named first
                filled = next((k.to_org for k in reversed(moves) if k.action == "appoint" and k.to_org), "")
                order: tuple[str, ...] = (d.org_before, other_to, filled, other_from, item_org)
            else:
                order = (other_to, d.org_before, item_org)
            org = next((o for o in order if o), "")
            if not org:
                continue  # a hire or appointment with no company anywhere in the item states no move
            m = replace(m, to_org=org, from_org=m.from_org or (org if m.action == "appoint" else ""))
        moves.append(m)
    return moves
