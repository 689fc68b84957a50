"""What each page and feed shows, read from the store: plain functions of the pipeline, no HTTP.

Every function here runs in a worker thread under the app's lock (`App.run`), because they share
the one SQLite connection and vector index with the scheduler's fetches and the chat's commands;
the request handlers in `site.py` never touch the store on the event loop. They only read, apart
from the summary cache, which holds derived text and is what the digest reads too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from bot.core.config import Settings
from bot.core.models import OTHER_THEME, PEOPLE_THEME, Item
from bot.core.words import word
from bot.ingest.pipeline import Pipeline
from bot.insight.trends import Trends, load_trends, theme_of
from bot.query.search import MoveEvent, people_timeline
from bot.query.summary import summarize_stories
from bot.render.chart import render_chart
from bot.storage import Coverage, StorySummary

HOME_STORIES = 60  # the newest stories the home page groups by theme
THEME_STORIES = 40
FEED_ENTRIES = 50
RELATED_STORIES = 5
RELATED_POOL = 60  # items pulled from the index to find that many other stories
CHART_WEEKS = 12


@dataclass(frozen=True, slots=True)
class StoryCard:
    """A story as a listing shows it: its title in the reader's language, summary and outlets."""

    story: StorySummary
    title: str
    summary: str
    outlets: list[str]


@dataclass(frozen=True, slots=True)
class ItemLine:
    """One item of a story with every outlet that carried it (source, url)."""

    item: Item
    carried_by: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class StoryPage:
    card: StoryCard
    items: list[ItemLine]
    timeline: list[Coverage]
    related: list[StorySummary]


@dataclass(frozen=True, slots=True)
class FeedStory:
    """A feed entry's story with the links of its coverage, earliest first."""

    story: StorySummary
    links: list[tuple[str, str]]


def known_themes(settings: Settings) -> list[str]:
    """The themes a page or feed may be asked for: the configured ones, people moves and `other`."""
    return list(dict.fromkeys([*settings.themes, PEOPLE_THEME, OTHER_THEME]))


def outlets_text(count: int, lang: str) -> str:
    """ "7 outlets" / "1 outlet", in the digest's words."""
    return word("digest.outlets", lang, n=count) if count != 1 else word("digest.outlet", lang)


def home(pipeline: Pipeline, settings: Settings, lang: str) -> list[tuple[str, list[StoryCard]]]:
    """The newest stories grouped by primary theme (configured order), each group newest day first and,
    within a day, widest first (outlets × languages, as the digest ranks breadth)."""
    cards = story_cards(pipeline, pipeline.store.recent_stories(HOME_STORIES), lang)
    order = known_themes(settings)
    groups: dict[str, list[StoryCard]] = {}
    for card in sorted(cards, key=_newest_and_widest):
        groups.setdefault(theme_of(card.story), []).append(card)
    return sorted(groups.items(), key=lambda group: order.index(group[0]) if group[0] in order else len(order))


def theme_stories(pipeline: Pipeline, theme: str, lang: str) -> list[StoryCard]:
    return story_cards(pipeline, pipeline.store.recent_stories(THEME_STORIES, theme), lang)


def story_cards(pipeline: Pipeline, stories: Sequence[StorySummary], lang: str) -> list[StoryCard]:
    store = pipeline.store
    summaries = summarize_stories(store, stories, lang, pipeline.embedder, None) if stories else {}
    return [
        StoryCard(story, story.title_in(lang), summaries[story.id].text, store.story_outlets(story.id))
        for story in stories
    ]


class RelatedCache:
    """Related story ids per story, kept until the index changes size (an ingest or a prune).

    Finding them is one search of the whole vector index — the costliest part of a story page on a
    large archive (an exact index scans every vector) — while the answer only changes when the index does.
    """

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, int], list[int]] = OrderedDict()

    def get(self, pipeline: Pipeline, story_id: int, items: Sequence[Item]) -> list[int]:
        key = (story_id, len(pipeline.index))
        if key not in self._entries:
            self._entries[key] = related_story_ids(pipeline, story_id, items)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        return self._entries[key]


def story_page(pipeline: Pipeline, story_id: int, lang: str, related: RelatedCache) -> StoryPage | None:
    """Everything the story page shows, or None when there is no such story."""
    store = pipeline.store
    story = store.stories([story_id]).get(story_id)
    if story is None:
        return None
    members = store.story_items(story_id)
    items = [ItemLine(item, store.item_sources(item.id)) for item in members]
    timeline = sorted(store.story_coverage([story_id]).get(story_id, []), key=lambda seen: (seen.at, seen.outlet))
    nearest = related.get(pipeline, story_id, members)
    stories = store.stories(nearest)
    others = [stories[other] for other in nearest if other in stories]
    return StoryPage(story_cards(pipeline, [story], lang)[0], items, timeline, others)


def related_story_ids(
    pipeline: Pipeline, story_id: int, items: Sequence[Item], limit: int = RELATED_STORIES
) -> list[int]:
    """The stories nearest in meaning: the index's neighbours of the mean of this story's item vectors."""
    embedder = pipeline.embedder
    _, vectors = pipeline.store.vectors_of(embedder.name, embedder.dim, [item.id for item in items])
    if not len(vectors):
        return []
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    _, ids = pipeline.index.search(centre[None, :], RELATED_POOL)
    found = [int(item) for item in ids[0] if item >= 0]
    story_of = pipeline.store.story_of_items(found)
    nearest = dict.fromkeys(story_of[item] for item in found if item in story_of and story_of[item] != story_id)
    return list(nearest)[:limit]


def person(pipeline: Pipeline, name: str, lang: str) -> list[MoveEvent]:
    return people_timeline(pipeline, name, lang)


def feed_stories(pipeline: Pipeline, theme: str | None) -> list[FeedStory]:
    """The newest stories by when they last grew (what a feed reader must see as updated), with their links."""
    store = pipeline.store
    stories = store.recent_stories(FEED_ENTRIES, theme, by="updated")
    return [FeedStory(story, store.story_links(story.id)) for story in stories]


def theme_chart(pipeline: Pipeline, theme: str, lang: str) -> bytes:
    """The trend chart (PNG) of one theme over the weeks up to its newest story."""
    return render_chart(theme_trends(pipeline, theme), lang).png


def theme_trends(pipeline: Pipeline, theme: str) -> Trends:
    """Counted up to the newest stored story, not the clock: an archive (or a quiet spell) still shows its weeks."""
    newest = pipeline.store.recent_stories(1)
    end = newest[0].last_published + timedelta(seconds=1) if newest else datetime.now().astimezone()
    return load_trends(pipeline.store, end, CHART_WEEKS, themes=[theme])


def _newest_and_widest(card: StoryCard) -> tuple[float, int, float]:
    story = card.story
    day = story.last_published.date().toordinal()
    return (-day, -max(story.outlets, 1) * max(len(story.langs), 1), -story.last_published.timestamp())
