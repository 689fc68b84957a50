"""The values of the topics package, its tunables, and the small rules every stage shares.

`Topic` and `TopicState` are what callers get back; `Cluster` is what the numeric core (`cluster`)
hands on before a cluster is a labelled topic. The tunables stay together here so that they read as
one table. Building a topic from a cluster, counting its weeks, ordering topics and the time helpers
are used by both the full recompute and the daily path, so they sit below both.

**Emerging**: stories first published in [now−7d, now) against [now−14d, now−7d); a topic is
emerging when this week has at least `EMERGING_MIN` stories and at least `EMERGING_RATIO` × (last
week + 1) — the +1 keeps "3 against 0" emerging but not "2 against 0", and asks 4 after a week of 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.core.models import OTHER_THEME as FALLBACK_THEME
from bot.core.words import word
from bot.storage import StorySummary

WEEK = timedelta(days=7)
DEFAULT_WINDOW = timedelta(days=14)

MIN_TOPIC = 3  # fewer stories are noise, not a topic
NEIGHBOURS = 10  # k of the neighbour graph
LINK = 0.55  # cosine of a mutual-neighbour edge
JOIN = 0.65  # cosine to a topic's centroid that makes a story a member
REFINE_STEPS = 2  # centroid steps after the components
EXACT_BELOW = 20_000  # stories of one theme up to which neighbours are exact (beyond: IVF)
IVF_PROBES = 8  # inverted lists searched per query (of about 2·√n)
IVF_TRAIN_PER_LIST = 40  # training points per inverted list
PAIR_CHUNK = 65_536  # (story, centroid) pairs scored per block: bounds the temporary

EMERGING_MIN = 3
EMERGING_RATIO = 2

RECENT = timedelta(days=7)  # the incremental path places and reclusters the unassigned stories this recent
RELABEL_GROWTH = 1.5  # the incremental path relabels a topic once its size is this factor off its label's
FULL_EVERY = timedelta(days=7)  # refresh_topics recomputes in full once the state is this old
STATE_KEY = "topics.state"
STATE_VERSION = 1
UNLIMITED = 1 << 62  # a row limit that is none

LABEL_TERMS = 3
NAME_BOOST = 1.5  # a name ("OpenAI", "GPT-4o", "可灵") outranks a common word of the same weight
DOMINANCE = 0.8  # a shorter term is dropped when a longer one containing it has this share of its stories

SUGGEST_MIN_STORIES = 5
SUGGEST_TIGHTNESS = 0.7  # mean cosine of the members to their centroid
SUGGEST_KEYWORDS = 6
SUGGEST_EXAMPLES = 4


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic of one theme: its stories (closest to the centre first), how it reads, how it moves."""

    theme: str
    story_ids: tuple[int, ...]
    representative_id: int
    label_terms: tuple[str, ...]
    this_week: int
    last_week: int
    emerging: bool
    tightness: float  # mean cosine of the members to their centroid
    label_size: int  # how many stories the label was computed from (the daily path relabels when this is stale)
    centroid: np.ndarray = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        return " · ".join(self.label_terms)

    def trend(self, lang: str = "en") -> str:
        """The numbers behind "emerging", as a sentence."""
        key = "topic.trend_one" if self.this_week == 1 else "topic.trend"
        return word(key, lang, n=self.this_week, last=self.last_week)


@dataclass(frozen=True, slots=True)
class TopicState:
    """Everything the next incremental run needs: the topics, the stories in none, the labels' term weights."""

    computed_at: datetime
    recomputed_at: datetime  # when the topics were last clustered in full
    window: timedelta
    topics: dict[str, list[Topic]]
    unassigned: dict[str, tuple[int, ...]]
    term_frequency: dict[str, dict[str, int]]  # theme → term → stories of it across the classes (≥ 2 kept)
    terms_per_class: dict[str, float]  # theme → the mean number of term occurrences per class
    published: dict[int, int]  # every story above → its first publication (POSIX seconds): weeks, expiry
    read_at: datetime | None = None  # when `refresh_topics` last read the store (wall clock)


@dataclass(frozen=True, slots=True)
class Cluster:
    """A group of rows of a story matrix (closest to the centroid first), before it is a labelled topic."""

    rows: np.ndarray
    centroid: np.ndarray
    tightness: float


def topic_line(topic: Topic, stories_by_id: Mapping[int, StorySummary], lang: str = "en") -> str:
    """One plain-text line for a report: label, the week's numbers, the representative headline."""
    story = stories_by_id.get(topic.representative_id)
    headline = f"“{story.title_in(lang)}”" if story else ""
    mark = "▲ " if topic.emerging else ""
    if lang == "zh":
        return f"{mark}{topic.label}：{topic.trend('zh')}" + (f"。例：{headline}" if headline else "")
    return f"{mark}{topic.label}: {topic.trend('en')}" + (f". E.g. {headline}" if headline else "")


def emerging(this_week: int, last_week: int) -> bool:
    """The documented rule (module docstring): ≥ EMERGING_MIN and ≥ EMERGING_RATIO × (last week + 1)."""
    return this_week >= EMERGING_MIN and this_week >= EMERGING_RATIO * (last_week + 1)


def _topic(theme: str, ids: Sequence[int], cluster: Cluster, terms: tuple[str, ...]) -> Topic:
    """A topic from a cluster (members closest to the centroid first: the first represents it); weeks come next."""
    return Topic(
        theme=theme,
        story_ids=tuple(ids),
        representative_id=ids[0],
        label_terms=terms,
        this_week=0,
        last_week=0,
        emerging=False,
        tightness=round(cluster.tightness, 4),
        label_size=len(ids) if terms else 0,
        centroid=cluster.centroid,
    )


def _with_weeks(topics: Sequence[Topic], published: Mapping[int, int], now: datetime) -> list[Topic]:
    """Each topic's stories first published in [now − 7d, now) and in [now − 14d, now − 7d), counted at once."""
    sizes = [len(topic.story_ids) for topic in topics]
    moments = np.fromiter((published[i] for t in topics for i in t.story_ids), dtype=np.int64, count=sum(sizes))
    owner = np.repeat(np.arange(len(topics)), sizes)
    week_start, end, last_start = _seconds(now - WEEK), _seconds(now), _seconds(now - 2 * WEEK)
    this = np.bincount(owner[(moments >= week_start) & (moments < end)], minlength=len(topics))
    last = np.bincount(owner[(moments >= last_start) & (moments < week_start)], minlength=len(topics))
    return [
        replace(topic, this_week=int(this[n]), last_week=int(last[n]), emerging=emerging(int(this[n]), int(last[n])))
        for n, topic in enumerate(topics)
    ]


def _sorted_topics(topics: Iterable[Topic]) -> list[Topic]:
    return sorted(topics, key=lambda t: (not t.emerging, -t.this_week, -len(t.story_ids), t.representative_id))


def _theme_of(story: StorySummary) -> str:
    return story.primary_theme or FALLBACK_THEME


def _seconds(moment: datetime) -> int:
    return int(_utc(moment).timestamp())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
