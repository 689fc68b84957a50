"""The values the store takes and gives back, beyond the plain models of `bot.core.models`.

They describe what a batch writes (`NewItem`, `Sighting`, `Labels`, `ItemVersion`) and what the readers get
(`Member`, `StoryView`, `StorySummary`, `BatchIds`). They live apart from the SQL so that the
pipeline, digests and search can name them without caring how they are stored; no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from bot.core.models import Item


@dataclass(frozen=True, slots=True)
class Labels:
    """What the pipeline learned about an item or a story beyond its text."""

    themes: dict[str, Any] = field(default_factory=dict)  # {"primary", "labels", "scores"}
    moves: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to insert with its vector, its story and its labels.

    `story` is an existing story id, or a negative placeholder for a story this batch creates
    (items of the batch that share a placeholder share the new story).
    """

    item: Item
    vector: np.ndarray
    story: int = 0
    labels: Labels = Labels()


@dataclass(frozen=True, slots=True)
class Sighting:
    """An item seen again, maybe from another source, maybe changed.

    `item_id` is 0 when the item is new in this same batch: `new_ref` then points at it.
    """

    item_id: int
    item: Item
    new_ref: int = -1
    vector: np.ndarray | None = None  # set when the wording changed: the new text replaces the old
    labels: Labels | None = None


@dataclass(frozen=True, slots=True)
class ItemVersion:
    """Whose text a stored item holds and which version of it: what decides whether an entry may replace it."""

    source: str
    url: str
    content_hash: str
    arxiv_id: str
    arxiv_version: int


@dataclass(frozen=True, slots=True)
class Member:
    """One item of a story, as story-level labelling needs it."""

    item_id: int
    lang: str
    labels: Labels


@dataclass(frozen=True, slots=True)
class StoryView:
    """An item's story and labels, as evaluation and digests read them."""

    item_id: int
    story_id: int
    item_moves: list[dict[str, str]]
    story_primary_theme: str
    story_themes: list[str]
    story_moves: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class StorySummary:
    """A story's aggregates: what a listing shows."""

    id: int
    items: int
    outlets: int
    langs: tuple[str, ...]
    title: str
    title_en: str
    title_zh: str
    primary_theme: str
    themes: tuple[str, ...]
    first_published: datetime
    last_published: datetime
    moves: tuple[dict[str, str], ...] = ()
    updated_at: datetime | None = None

    def title_in(self, lang: str) -> str:
        return {"en": self.title_en, "zh": self.title_zh}.get(lang) or self.title


@dataclass(frozen=True, slots=True)
class StoryRank:
    """What ranking search results needs of a story, and no more: when it last grew and its themes.

    Search weighs a few hundred candidate stories per question and shows five; reading the whole
    `StorySummary` of each (every column, moves and times decoded) was a third of a question's time.
    """

    id: int
    last_published: datetime
    primary_theme: str
    themes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Coverage:
    """An outlet carrying a story: its language, and when it published (or we first saw its copy)."""

    outlet: str
    lang: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BatchIds:
    items: list[int]
    stories: dict[int, int]  # placeholder → new story id
