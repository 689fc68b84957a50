"""The daily path: move the previous `TopicState` forward with only what changed, without reclustering.

Apart from the full recompute because it works from a saved state and a handful of stories: it
must stay cheap (seconds at 100k stories in the window) and read only what it names.

**Incremental**: `assign_new` moves the previous `TopicState` forward with only what changed: members
that left the window (or their theme) leave, a topic left with fewer than `MIN_TOPIC` stories
dissolves, arrivals join the nearest centroid of their theme within `JOIN`, and the arrivals that
join none are clustered with the recent (`RECENT`) unassigned stories around them. Centroids stay
exact under additions (the unit centroid, the size and the tightness give the sum back:
|Σx| = size × tightness) and are left as they were when members age out; `relabel` labels new
topics, and topics whose size moved by `RELABEL_GROWTH` since their label, against the term
frequencies of the last full recompute. `placeable` and `stale_labels` name the vectors and
headlines those steps need, so the caller (`state.refresh_topics`) reads nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np
from threadpoolctl import threadpool_limits

from bot.insight.topics.cluster import _story_matrix, cluster_vectors
from bot.insight.topics.labels import _Labeller
from bot.insight.topics.model import (
    JOIN,
    LINK,
    MIN_TOPIC,
    NEIGHBOURS,
    RECENT,
    RELABEL_GROWTH,
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
from bot.storage.index import nearest_neighbours


def assign_new(
    state: TopicState,
    changed: Sequence[StorySummary],
    vectors: Mapping[int, np.ndarray],
    now: datetime,
) -> TopicState:
    """The daily path: bring `state` forward to `now` without reclustering the window.

    `changed` are the stories published or stored (or grown) since the state was computed;
    `vectors` must hold those `placeable` names. Stories that left the window leave their topics,
    a changed story whose theme changed moves, a topic left with fewer than `MIN_TOPIC` stories
    dissolves, arrivals join the nearest centroid of their theme within `JOIN`, and the others are
    clustered with the recent unassigned stories near them into new topics. New and much changed
    topics are left with stale labels: `relabel` gives them new ones from their headlines
    (`stale_labels` names the stories it needs).
    """
    now = _utc(now)
    start, end = _seconds(now - state.window), _seconds(now)
    published = {i: moment for i, moment in state.published.items() if moment >= start}
    arrived = {story.id: story for story in changed if start <= _seconds(story.first_published) < end}
    published.update((i, _seconds(story.first_published)) for i, story in arrived.items())
    moved = {i: _theme_of(story) for i, story in arrived.items()}
    topics: dict[str, list[Topic]] = {}
    unassigned: dict[str, tuple[int, ...]] = {}
    for theme in sorted(set(state.topics) | set(state.unassigned) | set(moved.values())):
        kept, waiting = _kept_and_waiting(state, theme, published, moved)
        theme_topics, rest = _place(kept, waiting, set(moved), vectors, published, theme, now)
        if theme_topics or rest:
            topics[theme], unassigned[theme] = theme_topics, rest
    return replace(state, computed_at=now, topics=topics, unassigned=unassigned, published=published)


def placeable(state: TopicState, changed: Iterable[StorySummary], now: datetime) -> list[int]:
    """The stories whose vectors `assign_new` needs: changed ones not staying in their topic, and the recent
    unassigned ones (older unassigned stories wait for the next full recompute)."""
    now = _utc(now)
    theme_of_member = {i: theme for theme, topics in state.topics.items() for topic in topics for i in topic.story_ids}
    recent = _seconds(now - RECENT)
    fresh = [
        story.id
        for story in changed
        if _seconds(story.first_published) >= recent and theme_of_member.get(story.id) != _theme_of(story)
    ]
    waiting = [i for ids in state.unassigned.values() for i in ids if state.published.get(i, 0) >= recent]
    return list(dict.fromkeys(fresh + waiting))


def stale_labels(state: TopicState) -> list[int]:
    """The stories whose headlines `relabel` needs: the members of topics whose label is missing or stale."""
    return [
        i for topics in state.topics.values() for topic in topics if _label_is_stale(topic) for i in topic.story_ids
    ]


def relabel(state: TopicState, stories: Mapping[int, StorySummary]) -> TopicState:
    """New labels for the topics `assign_new` left stale, against the term weights of the last full recompute."""
    topics = {}
    for theme, theme_topics in state.topics.items():
        labeller = _Labeller(state.term_frequency.get(theme, {}), state.terms_per_class.get(theme, 0.0))
        topics[theme] = [
            _relabelled(topic, stories, labeller) if _label_is_stale(topic) else topic for topic in theme_topics
        ]
    return replace(state, topics=topics)


def _kept_and_waiting(
    state: TopicState, theme: str, published: Mapping[int, int], moved: Mapping[int, str]
) -> tuple[list[Topic], list[int]]:
    """The theme's topics without members that left the window or the theme (too small ones dissolve), and the
    stories in no topic: the unassigned still here, those of dissolved topics, and changed ones new to the theme."""
    kept: list[Topic] = []
    waiting = [i for i in state.unassigned.get(theme, ()) if i in published and moved.get(i, theme) == theme]
    for topic in state.topics.get(theme, []):
        ids = tuple(i for i in topic.story_ids if i in published and moved.get(i, theme) == theme)
        if len(ids) >= MIN_TOPIC:
            representative = topic.representative_id if topic.representative_id in ids else ids[0]
            kept.append(replace(topic, story_ids=ids, representative_id=representative))
        else:
            waiting.extend(ids)
    members = {i for topic in kept for i in topic.story_ids}
    waiting += [i for i, new_theme in moved.items() if new_theme == theme and i not in members]
    return kept, list(dict.fromkeys(waiting))


def _place(
    kept: list[Topic],
    waiting: list[int],
    arrived: Collection[int],
    vectors: Mapping[int, np.ndarray],
    published: Mapping[int, int],
    theme: str,
    now: datetime,
) -> tuple[list[Topic], tuple[int, ...]]:
    """Recent arrivals join the nearest kept topic; the others cluster with the recent waiting stories near them.

    Stories that were already waiting joined no centroid and formed no topic last time, so they are
    not tried against the centroids again, and a new topic has an arrival in it: only the arrivals
    and their close neighbours are clustered, which costs arrivals × waiting rather than waiting².
    """
    recent = _seconds(now - RECENT)
    usable = [i for i in waiting if i in vectors and published[i] >= recent]
    candidates = [i for i in usable if i in arrived] + [i for i in usable if i not in arrived]
    arrivals = sum(1 for i in usable if i in arrived)
    matrix = _story_matrix([vectors[i] for i in candidates])
    with threadpool_limits(1):
        joined, unjoined = _join_nearest(kept, matrix[:arrivals])
        leftovers = _around(unjoined, unjoined + list(range(arrivals, len(candidates))), matrix)
    topics = []
    for index, topic in enumerate(kept):
        rows = joined.get(index, [])
        topics.append(_grow(topic, [candidates[row] for row in rows], matrix[rows]))
    for cluster in cluster_vectors(matrix[leftovers]) if leftovers else []:
        topics.append(_topic(theme, [candidates[leftovers[int(row)]] for row in cluster.rows], cluster, ()))
    clustered = {i for topic in topics for i in topic.story_ids}
    return _sorted_topics(_with_weeks(topics, published, now)), tuple(i for i in waiting if i not in clustered)


def _around(seeds: list[int], rows: list[int], matrix: np.ndarray) -> list[int]:
    """`seeds` and those of `rows` among a seed's nearest neighbours with a cosine of LINK or more."""
    if not seeds:
        return []
    similarity, neighbours = nearest_neighbours(matrix[rows], matrix[seeds], min(NEIGHBOURS + 1, len(rows)))
    near = {rows[int(column)] for column in neighbours[(similarity >= LINK) & (neighbours >= 0)]}
    return sorted(near | set(seeds))


def _join_nearest(kept: Sequence[Topic], matrix: np.ndarray) -> tuple[dict[int, list[int]], list[int]]:
    """Rows that join a kept topic (topic index → rows), and the rows that join none."""
    if not kept or not len(matrix):
        return {}, list(range(len(matrix)))
    cosine = matrix @ np.stack([topic.centroid for topic in kept]).T
    best = cosine.argmax(axis=1)
    joins = cosine[np.arange(len(matrix)), best] >= JOIN
    joined: dict[int, list[int]] = defaultdict(list)
    for row in np.flatnonzero(joins):
        joined[int(best[row])].append(int(row))
    return joined, [int(row) for row in np.flatnonzero(~joins)]


def _grow(topic: Topic, ids: Sequence[int], rows: np.ndarray) -> Topic:
    """Add members and move the centroid exactly: the old sum of unit rows is centroid × size × tightness."""
    if not ids:
        return topic
    total = topic.centroid * (len(topic.story_ids) * topic.tightness) + rows.sum(axis=0)
    size = len(topic.story_ids) + len(ids)
    norm = float(np.linalg.norm(total))
    return replace(topic, story_ids=(*topic.story_ids, *ids), centroid=total / norm, tightness=round(norm / size, 4))


def _label_is_stale(topic: Topic) -> bool:
    """No label yet, or the topic grew or shrank by RELABEL_GROWTH since it was labelled."""
    size = len(topic.story_ids)
    return size >= RELABEL_GROWTH * topic.label_size or size * RELABEL_GROWTH <= topic.label_size


def _relabelled(topic: Topic, stories: Mapping[int, StorySummary], labeller: _Labeller) -> Topic:
    members = [stories[i] for i in topic.story_ids if i in stories]
    return replace(topic, label_terms=labeller.label_members(members), label_size=len(topic.story_ids))
