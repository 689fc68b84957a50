"""The full recompute: per primary theme, cluster the window's stories (`cluster`), label (`labels`), count weeks.

What `bot topics` runs for any moment, and what the daily path (`incremental`) starts from and
`state.refresh_topics` falls back to once the saved state is `FULL_EVERY` old.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np

from bot.insight.topics.cluster import _story_matrix, cluster_vectors
from bot.insight.topics.labels import _Labeller
from bot.insight.topics.model import (
    DEFAULT_WINDOW,
    Topic,
    TopicState,
    _seconds,
    _sorted_topics,
    _theme_of,
    _topic,
    _utc,
    _with_weeks,
)
from bot.storage import StorySummary


def find_topics(
    stories: Sequence[StorySummary],
    vectors: Mapping[int, np.ndarray],
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> dict[str, list[Topic]]:
    """Every theme's topics over the window ending at `now`, emerging first, then the largest.

    `vectors` maps a story id to its items' vectors (rows) or one vector; stories without one are left out.
    """
    return recompute_topics(stories, vectors, now, window).topics


def recompute_topics(
    stories: Sequence[StorySummary],
    vectors: Mapping[int, np.ndarray],
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> TopicState:
    """The full recompute, with what the incremental path needs next time."""
    now = _utc(now)
    in_window = _in_window(stories, now, window)
    published = {story.id: _seconds(story.first_published) for story in in_window}
    topics: dict[str, list[Topic]] = {}
    unassigned: dict[str, tuple[int, ...]] = {}
    frequency: dict[str, dict[str, int]] = {}
    per_class: dict[str, float] = {}
    for theme, members in _by_theme(in_window).items():
        known = [story for story in members if story.id in vectors]
        matrix = _story_matrix([vectors[story.id] for story in known])
        clusters = cluster_vectors(matrix)
        clustered = {int(row) for cluster in clusters for row in cluster.rows}
        noise = [story for row, story in enumerate(known) if row not in clustered]
        labeller = _Labeller.fit([[known[row] for row in cluster.rows] for cluster in clusters], noise)
        found = [
            _topic(theme, [known[row].id for row in cluster.rows], cluster, labeller.label(index))
            for index, cluster in enumerate(clusters)
        ]
        topics[theme] = _sorted_topics(_with_weeks(found, published, now))
        unassigned[theme] = tuple(story.id for story in noise) + tuple(s.id for s in members if s.id not in vectors)
        frequency[theme], per_class[theme] = labeller.frequency_to_keep(), labeller.terms_per_class
    return TopicState(now, now, window, topics, unassigned, frequency, per_class, published)


def _in_window(stories: Iterable[StorySummary], now: datetime, window: timedelta) -> list[StorySummary]:
    return [story for story in stories if now - window <= _utc(story.first_published) < now]


def _by_theme(stories: Iterable[StorySummary]) -> dict[str, list[StorySummary]]:
    grouped: dict[str, list[StorySummary]] = defaultdict(list)
    for story in stories:
        grouped[_theme_of(story)].append(story)
    return dict(sorted(grouped.items()))
