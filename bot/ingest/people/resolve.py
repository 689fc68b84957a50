"""Settling moves that name the same person or organisation differently, for one item and for one story.

Several sentences or items state one move in different words: "Karpathy" and "Andrej Karpathy",
"DeepMind", "Google DeepMind" and "谷歌", a join beside the appointment to its role. `merge`
keeps one move per person and destination; `resolve_story_moves` first resolves the spellings
across a story's items; `move_signature` is the coarse key that tells a sequence of moves by one
person (fired, hired elsewhere, reinstated) apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace

from bot.ingest.people.lexicon import LATIN, ZH_ORGS
from bot.ingest.people.model import Move

_FOLD_PUNCT = re.compile(r"[\s.·\-'’,]+")  # as bot.eval.metrics.NameCanon folds names
_LATIN_LETTER = re.compile(rf"[{LATIN}]")
_DOT = re.compile(r"\s?[·•‧・]\s?")
_PRIORITY = {"join": 0, "return": 0, "found": 0, "appoint": 1, "leave": 2}  # which of one person's moves leads


def _fold(name: str) -> str:
    return _FOLD_PUNCT.sub("", unicodedata.normalize("NFKC", name).lower())


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def expand_single(name: str, full_names: Sequence[str]) -> str | None:
    """A surname or given name alone → the one full name that has it as first or last token; a Chinese
    rendering of a surname alone ("苏莱曼") → the one dotted rendering it ends ("穆斯塔法·苏莱曼")."""
    if not _LATIN_LETTER.match(name):
        if _DOT.search(name):
            return name
        dotted = {full for full in full_names if _DOT.search(full) and _DOT.split(full)[-1] == name}
        return dotted.pop() if len(dotted) == 1 else name
    if " " in name:
        return name
    key = _strip_accents(name).lower()
    ends = {
        full
        for full in full_names
        for part in (full.split()[0], full.split()[-1])
        if _strip_accents(part).lower() == key
    }
    return ends.pop() if len(ends) == 1 else None


def _org_key(org: str) -> str:
    return _fold(ZH_ORGS.get(org.split()[0], org)) if org else ""


def _same_org(a: str, b: str) -> bool:
    ka, kb = _org_key(a), _org_key(b)
    return ka == kb or bool(ka and kb and (ka in kb or kb in ka))


def _specificity(org: str) -> tuple[int, str]:
    return len(_org_key(org)), org


def merge(moves: Sequence[Move]) -> list[Move]:
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


def resolve_story_moves(per_item: Sequence[Sequence[Move]]) -> list[Move]:
    """One story's moves: the union over its items with one person's spellings resolved —
    a surname-only mention ("Karpathy", "Hinton", "Ilya") becomes the full name another item
    (or the same item) gives; duplicates collapse; when one item says to="" and another names the
    destination for the same person and action, keep the named one."""
    moves = [m for item in per_item for m in item]
    full_names = [m.person for m in moves if " " in m.person or _DOT.search(m.person)]
    resolved = [replace(m, person=expand_single(m.person, full_names) or m.person) for m in moves]
    return merge(_unify_orgs(_one_person_two_scripts(resolved)))


def _one_person_two_scripts(moves: Sequence[Move]) -> list[Move]:
    """A story whose items name exactly one person in Latin script and one in Han characters
    ("Wei-Ying Ma" and "马维英", each moving the same way) is about one person: the Latin name
    stands for both, as an English reader would write it."""
    latin = {m.person for m in moves if _LATIN_LETTER.match(m.person)}
    han = {m.person for m in moves if not _LATIN_LETTER.match(m.person)}
    if len(latin) != 1 or len(han) != 1:
        return list(moves)
    (latin_name,) = latin
    actions = {m.action for m in moves if m.person == latin_name}
    if not actions & {m.action for m in moves if m.person in han}:
        return list(moves)
    return [replace(m, person=latin_name) if m.person in han else m for m in moves]


def _unify_orgs(moves: Sequence[Move]) -> list[Move]:
    """Within one story, "DeepMind", "Google DeepMind" and "谷歌" name one destination.

    Spellings linked by containment form a group; the most specific spelling that contains or is
    contained in every other one of its group stands for all of them.
    """
    names = sorted({m.to_org for m in moves if m.to_org}, key=_specificity)
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
    return sorted(group, key=_specificity)


def move_signature(moves: Sequence[Move]) -> frozenset[tuple[str, str]]:
    """(folded person, action) pairs — to tell apart a sequence of moves by one
    person (fired → hired elsewhere → reinstated are three events). A Latin-script name folds to
    its last token, so "Brandt" and "Leo Brandt" agree."""
    return frozenset((_person_key(m.person), m.action) for m in moves)


def _person_key(person: str) -> str:
    if _LATIN_LETTER.match(person) and " " in person.strip():
        person = person.split()[-1]
    return _fold(_strip_accents(person))
