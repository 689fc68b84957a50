"""A people move as one sentence in the reader's language: "Jan Leike left OpenAI for Anthropic, to lead
superalignment" / "Jan Leike离开OpenAI，加入Anthropic，任……".

Extraction fills what a story states and leaves the rest empty, so a move may lack its origin, its
destination or its role. A sentence is built from what is known only (never an empty arrow); a role
written in the other language is left out rather than mixed into the reader's sentence; organisation
names with a known spelling in the reader's language use it (微软 → Microsoft and back). The digest,
the weekly report and /who all read moves through `move_sentence`, and `same_person`/`richest` decide
which of one person's moves in a story is shown.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence

from bot.core.words import word
from bot.ingest.people.lexicon import ZH_ORGS

_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN_THEN_HAN = re.compile(r"([A-Za-z0-9.)](?:</\w+>)?)([\u4e00-\u9fff])")  # a bold name's end tag may sit between
_HAN_THEN_LATIN = re.compile(r"([\u4e00-\u9fff])((?:<\w+>)?[A-Za-z0-9(])")
_LOWER_WORD = re.compile(r"[a-z]{4,}")
_EN_ORGS = {english: chinese for chinese, english in reversed(ZH_ORGS.items())}  # the first Chinese spelling wins
# A role that begins with one of these is what the person will do ("to lead superalignment"), not a title.
_ROLE_VERBS = frozenset(
    [
        "lead",
        "co-lead",
        "head",
        "run",
        "build",
        "oversee",
        "manage",
        "direct",
        "develop",
        "work",
        "focus",
        "serve",
        "help",
        "start",
        "launch",
        "pursue",
        "drive",
    ]
)
_ACTIONS = ("join", "return", "appoint", "found")


def move_sentence(
    move: Mapping[str, str],
    lang: str,
    slot: Callable[[str], str] = str,
    person_slot: Callable[[str], str] | None = None,
) -> str:
    """The move told as a sentence in `lang`, or "" when nothing but the name is known.

    `slot` prepares every value for the output (e.g. HTML escaping); `person_slot` the person's name
    (e.g. escaped and bold), `slot` when not given.
    """
    person = (move.get("person") or "").strip()
    if not person:
        return ""
    action = move.get("action") or ""
    from_org = org_name((move.get("from_org") or "").strip(), lang)
    to_org = org_name((move.get("to_org") or "").strip(), lang)
    role = role_text((move.get("role") or "").strip(), lang)
    if from_org and to_org and _fold(from_org) == _fold(to_org):
        key, from_org = "internal", ""
    elif action == "found":
        key = "found_switch" if from_org and to_org else "found" if to_org else "found_from" if from_org else ""
    elif to_org:
        key = "switch" if from_org else action if action in _ACTIONS else "join"
    elif from_org:
        key = "leave"
    else:
        key = "role_only" if role else ""
    if not key:
        return ""
    values = {"person": (person_slot or slot)(person), "from_org": slot(from_org), "to_org": slot(to_org)}
    sentence = word(f"move.{key}", lang, **values, role=slot(role))
    if role and key != "role_only":
        words = role.casefold().split()
        verb = words[0] in _ROLE_VERBS and words[1:2] != ["of"]  # "head research", not "head of research"
        sentence += word("move.role_to" if verb else "move.role_as", lang, role=slot(role))
    return _spaced(sentence) if lang == "zh" else sentence


def _spaced(sentence: str) -> str:
    """A space where Chinese meets a Latin name ("Jan Leike 离开 OpenAI"), as Chinese tech media write it."""
    return _HAN_THEN_LATIN.sub(r"\1 \2", _LATIN_THEN_HAN.sub(r"\1 \2", sentence))


def org_name(org: str, lang: str) -> str:
    """The organisation's usual name in `lang` when the lexicon knows one, else as the story wrote it."""
    if lang == "zh":
        return _EN_ORGS.get(org, org)
    return ZH_ORGS.get(org, org)


def role_text(role: str, lang: str) -> str:
    """The role when it is written in the reader's language ("CEO" reads in both), else ""."""
    if lang == "zh":
        return role if _HAN.search(role) or not _LOWER_WORD.search(role) else ""
    return "" if _HAN.search(role) else role


def person_key(name: str) -> str:
    """A name folded for comparison: case, width, spaces and dots ignored."""
    return re.sub(r"[\s.·\-'’]+", "", unicodedata.normalize("NFKC", name).casefold())


def same_person(a: str, b: str) -> bool:
    """Two spellings of one person in one story: equal when folded, or one name's words all in the other's
    ("Altman", "Sam Altman")."""
    if person_key(a) == person_key(b):
        return True
    words_a, words_b = (set(re.findall(r"\w+", n.casefold())) for n in (a, b))
    return bool(words_a and words_b) and (words_a <= words_b or words_b <= words_a)


def richest(moves: Sequence[Mapping[str, str]]) -> Mapping[str, str]:
    """One person's moves in one story as one: the move that says most, under the fullest spelling of the name."""
    best = max(moves, key=lambda m: sum(bool(m.get(field)) for field in ("from_org", "to_org", "role")))
    return {**best, "person": max((m.get("person") or "" for m in moves), key=len)}


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())
