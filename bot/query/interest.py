"""What a reader asked for, as tests on stories: the themes they chose, the topics they follow, and
what they muted (words, sources).

Shared by the digest, the weekly report and breaking alerts, so they agree on what belongs
to a reader.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from bot.core.models import OTHER_THEME, Subscriber
from bot.storage import Store, StoryRank, StorySummary

if TYPE_CHECKING:  # only its store and embedder are read: readers of stories need not load the index
    from bot.ingest.pipeline import Pipeline

MAX_MUTES = 50  # words per chat: a list the chat can still read in one /mute reply
MAX_MUTE_CHARS = 60  # per word or phrase
LEDE_CHARS = 400  # of each item's text matched against mutes: where a digest's one-line summary comes from


def in_themes(story: StorySummary | StoryRank, chosen: Collection[str]) -> bool:
    """Whether a story belongs to the chosen themes (by its primary theme or any other); none chosen = all.

    A story whose primary theme is `other` ("none of the named themes") is in no named theme, whatever
    weaker labels it carries: a lab's partnership post near `people_moves` in meaning is not a move.
    (Search's theme channel still reads those labels: there they only reorder, never admit.)
    """
    if not chosen:
        return True
    if story.primary_theme == OTHER_THEME:
        return OTHER_THEME in chosen
    return story.primary_theme in chosen or any(theme in chosen for theme in story.themes)


def follow_matches(
    pipeline: Pipeline, chat_id: int, story_ids: Sequence[int]
) -> tuple[dict[int, float], dict[int, str]]:
    """Per story, the best cosine between any of the chat's follows and any of its items, and that follow's text."""
    embedder = pipeline.embedder
    follows = pipeline.store.follows(chat_id, embedder.name, embedder.dim)
    if not follows or not story_ids:
        return {}, {}
    texts = [follow.text for follow, _ in follows]
    matrix = np.stack([vector for _, vector in follows])  # (follows, dim)
    scores: dict[int, float] = {}
    best: dict[int, str] = {}
    for story_id, items in pipeline.store.story_vectors(story_ids, embedder.name, embedder.dim).items():
        similarity = items @ matrix.T  # (items, follows)
        column = int(np.argmax(similarity.max(axis=0)))
        scores[story_id] = float(similarity[:, column].max())
        best[story_id] = texts[column]
    return scores, best


def mute_key(text: str) -> str:
    """A muted word as it is stored and compared: NFKC, case-folded, inner whitespace one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def mentions_muted(texts: Iterable[str], mutes: Collection[str]) -> bool:
    """Whether any text mentions a muted word or phrase, case-insensitively. A Latin word matches whole words
    ("AI" is not in "said", but is in "AI芯片"); Chinese has no spaces between words, so a Chinese end matches
    inside a word."""
    keys = [key for key in map(mute_key, mutes) if key]
    if not keys:
        return False
    pattern = re.compile("|".join(map(_mute_pattern, keys)))
    return any(pattern.search(mute_key(text)) for text in texts if text)


def _mute_pattern(mute: str) -> str:
    body = r"\s+".join(re.escape(part) for part in mute.split())
    left = r"(?<![0-9a-z])" if mute[0].isascii() and mute[0].isalnum() else ""
    right = r"(?![0-9a-z])" if mute[-1].isascii() and mute[-1].isalnum() else ""
    return f"{left}{body}{right}"


def muted_stories(store: Store, subscriber: Subscriber, stories: Sequence[StorySummary]) -> set[int]:
    """The ids of the stories this chat muted: one that mentions a muted word (in any item's title in either
    language, a source's title for it, an item's lede or a cached summary), or one carried only by muted sources.
    The digest and breaking alerts both ask this, so a muted story reaches the chat by neither."""
    words, sources = subscriber.mutes, subscriber.muted_sources
    if not stories or not (words or sources):
        return set()
    ids = [story.id for story in stories]
    texts = store.story_texts(ids, LEDE_CHARS) if words else {}
    outlets = store.story_coverage(ids) if sources else {}  # every carrier, muted or not
    hidden: set[int] = set()
    for story in stories:
        own = (story.title, story.title_en, story.title_zh, *texts.get(story.id, ()))
        carriers = {seen.outlet for seen in outlets.get(story.id, ())}
        if mentions_muted(own, words) or (carriers and not any(counted(subscriber, c) for c in carriers)):
            hidden.add(story.id)
    return hidden


def counted(subscriber: Subscriber, outlet: str) -> bool:
    """Whether a source's items count for this chat: not when it muted the source (/mute source NAME)."""
    return outlet not in subscriber.muted_sources


def as_counted(store: Store, subscriber: Subscriber, stories: Sequence[StorySummary]) -> list[StorySummary]:
    """The stories as this chat counts them: outlets and languages only from sources it did not mute, so a
    story's breadth (its rank, its "3 outlets · en/zh") is what the chat would read, not what it muted."""
    if not subscriber.muted_sources or not stories:
        return list(stories)
    coverage = store.story_coverage([story.id for story in stories])
    counted_stories = []
    for story in stories:
        kept = [seen for seen in coverage.get(story.id, ()) if counted(subscriber, seen.outlet)]
        langs = tuple(lang for lang in story.langs if any(seen.lang == lang for seen in kept))
        counted_stories.append(replace(story, outlets=len({seen.outlet for seen in kept}), langs=langs))
    return counted_stories
