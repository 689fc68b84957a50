"""The records the people-moves rules pass between them, and the two ways a rule turns a match into one.

`Move` is what callers get. `Span` and `Entities` are what recognition found in one sentence (or
clause); a `Draft` is a move as one sentence states it, before the item decides whether a lone
name or a missing organisation can be filled in. Kept apart from the rules so that the English
and Chinese rule sets, the item-level assembly and the story-level resolution share one vocabulary
without importing one another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ACTIONS = ("join", "leave", "found", "return", "appoint")


@dataclass(frozen=True, slots=True)
class Move:
    person: str  # as written in the text, full name when the text gives it
    from_org: str  # "" when not stated
    to_org: str  # "" when not stated (e.g. a departure to nowhere named)
    role: str  # "" when not stated
    action: str  # "join" | "leave" | "found" | "return" | "appoint"


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    start: int
    end: int
    single: bool = False  # a lone Latin token with no title before it: perhaps not a person at all


@dataclass(slots=True)
class Entities:
    persons: list[Span]
    orgs: list[Span]


@dataclass(frozen=True, slots=True)
class Draft:
    move: Move
    single: bool  # the person is an untitled lone token: kept only if the item gives the full name
    needs_org: bool  # the organisation is left to context ("joins as chief scientist", "任 CEO")
    org_before: str  # nearest organisation earlier in the sentence that is not a former employer


def make_draft(person: Span, action: str, from_org: str, to_org: str, role: str, org_before: str) -> Draft:
    needs = not to_org and action in ("appoint", "join", "return")
    return Draft(Move(person.text, from_org, to_org, role.strip(), action), person.single, needs, org_before)


def subject_drafts(
    persons: Sequence[Span], action: str, from_org: str, org: str, role: str, org_before: str, towards: str = ""
) -> list[Draft]:
    """The person is the verb's subject and `org` fills the slot after it ("X joins Y", "X 离开 Y").

    For a departure that slot is the employer left; one that names where the person goes next
    ("leaves Google for Anthropic", given as `towards`) is a join.
    """
    if action == "leave":
        action = "join" if towards else "leave"
        return [make_draft(p, action, org or from_org, towards, role, org_before) for p in persons]
    return [make_draft(p, action, from_org, org, role, org_before) for p in persons]


def org_drafts(persons: Sequence[Span], action: str, org: str, role: str, from_org: str = "") -> list[Draft]:
    """The organisation acts on the person ("Meta hires X", "董事会解雇 X", "X 被 Meta 挖走")."""
    if action == "leave":
        return [make_draft(p, action, org, "", role, org) for p in persons]
    return [make_draft(p, action, from_org, org, role, org) for p in persons]
