"""The topic state in the store, and the daily entry point: the only part of the package that touches the store.

Apart so that everything else stays pure functions over stories and vectors. `refresh_topics`
reads only the changed stories, those vectors and those headlines, and recomputes in full once
the state is `FULL_EVERY` old, which corrects what the incremental shortcuts drift. The state lives
in the store's meta table as JSON (centroids as int8 with a scale per row, ids and times packed),
under the embedding model's name.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.insight.topics.cluster import _unit
from bot.insight.topics.incremental import assign_new, placeable, relabel, stale_labels
from bot.insight.topics.model import (
    DEFAULT_WINDOW,
    FULL_EVERY,
    STATE_KEY,
    STATE_VERSION,
    UNLIMITED,
    Topic,
    TopicState,
    _utc,
    emerging,
)
from bot.insight.topics.recompute import recompute_topics
from bot.storage import Store, StorySummary


def load_topic_inputs(
    store: Store, model: str, dim: int, now: datetime, window: timedelta = DEFAULT_WINDOW
) -> tuple[list[StorySummary], dict[int, np.ndarray]]:
    """The window's stories and every one's item vectors (rows) under `model`."""
    now = _utc(now)
    stories = store.stories_published_between(now - window, now)
    return stories, store.story_vectors([story.id for story in stories], model, dim)


def refresh_topics(
    store: Store,
    model: str,
    dim: int,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    full_every: timedelta = FULL_EVERY,
) -> TopicState:
    """The daily entry point: incremental from the saved state when it is recent, a full recompute otherwise.

    The incremental run reads only what changed: stories published since the state's `now`, and stories
    stored or grown since its last read (late arrivals, such as arXiv papers dated a day back, and stories
    whose theme may have changed); then the vectors `placeable` names and the headlines `stale_labels`
    names. The state is saved back under the embedding model's name, so a model change starts afresh.
    """
    now = _utc(now)
    read_at = datetime.now(UTC)
    previous = load_state(store, model)
    if previous is None or not _can_advance(previous, now, window, full_every):
        stories, vectors = load_topic_inputs(store, model, dim, now, window)
        state = recompute_topics(stories, vectors, now, window)
    else:
        changed = _changed_stories(store, previous, now)
        state = assign_new(previous, changed, store.story_vectors(placeable(previous, changed, now), model, dim), now)
        state = relabel(state, store.stories(stale_labels(state)))
    state = replace(state, read_at=read_at)
    save_state(store, model, state)
    return state


def _changed_stories(store: Store, state: TopicState, now: datetime) -> list[StorySummary]:
    """Published since the state's `now`, or stored since its read (a second early: the store keeps whole seconds)."""
    published = store.stories_published_between(state.computed_at, now)
    stored = store.stories_updated_since(state.read_at - timedelta(seconds=1), limit=UNLIMITED) if state.read_at else []
    return list({story.id: story for story in [*published, *stored]}.values())


def load_state(store: Store, model: str) -> TopicState | None:
    text = store.get_meta(f"{STATE_KEY}.{model}")
    if not text:
        return None
    try:
        return state_from_json(text)
    except (ValueError, KeyError, TypeError, IndexError):
        return None  # an unreadable, truncated or older state is recomputed, not trusted


def save_state(store: Store, model: str, state: TopicState) -> None:
    store.set_meta(f"{STATE_KEY}.{model}", state_to_json(state))


def state_to_json(state: TopicState) -> str:
    themes = {}
    for theme in sorted(set(state.topics) | set(state.unassigned)):
        topics = state.topics.get(theme, [])
        centroids = np.stack([t.centroid for t in topics]) if topics else np.zeros((0, 0), dtype=np.float32)
        themes[theme] = {
            "topics": [
                [
                    list(t.story_ids),
                    t.representative_id,
                    list(t.label_terms),
                    t.this_week,
                    t.last_week,
                    t.tightness,
                    t.label_size,
                ]
                for t in topics
            ],
            "dim": int(centroids.shape[1]) if topics else 0,
            "centroids": _packed_rows(centroids),
            "unassigned": list(state.unassigned.get(theme, ())),
            "frequency": state.term_frequency.get(theme, {}),
            "per_class": state.terms_per_class.get(theme, 0.0),
        }
    document = {
        "version": STATE_VERSION,
        "computed_at": state.computed_at.isoformat(),
        "recomputed_at": state.recomputed_at.isoformat(),
        "read_at": state.read_at.isoformat() if state.read_at else None,
        "window": state.window.total_seconds(),
        "themes": themes,
        "published": [
            _packed(np.fromiter(state.published, dtype=np.int64, count=len(state.published))),
            _packed(np.fromiter(state.published.values(), dtype=np.int64, count=len(state.published))),
        ],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def state_from_json(text: str) -> TopicState:
    document = json.loads(text)
    if document["version"] != STATE_VERSION:
        raise ValueError(f"topic state version {document['version']}")
    topics: dict[str, list[Topic]] = {}
    for theme, saved in document["themes"].items():
        rows = saved["topics"]
        centroids = _unpacked_rows(saved["centroids"], len(rows), saved["dim"])
        topics[theme] = [
            Topic(theme, tuple(ids), rep, tuple(terms), this, last, emerging(this, last), tight, size, centroids[index])
            for index, (ids, rep, terms, this, last, tight, size) in enumerate(rows)
        ]
    themes = document["themes"]
    return TopicState(
        computed_at=datetime.fromisoformat(document["computed_at"]),
        recomputed_at=datetime.fromisoformat(document["recomputed_at"]),
        window=timedelta(seconds=document["window"]),
        topics=topics,
        unassigned={theme: tuple(saved["unassigned"]) for theme, saved in themes.items()},
        term_frequency={theme: saved["frequency"] for theme, saved in themes.items()},
        terms_per_class={theme: saved["per_class"] for theme, saved in themes.items()},
        published=dict(zip(*(_unpacked(column, np.int64).tolist() for column in document["published"]), strict=True)),
        read_at=datetime.fromisoformat(document["read_at"]) if document["read_at"] else None,
    )


def _packed_rows(rows: np.ndarray) -> list[str]:
    """Unit rows as int8 scaled by each row's largest component (and those scales): a quarter of float32."""
    scales = np.maximum(np.abs(rows).max(axis=1, initial=0.0), 1e-12).astype(np.float32)
    return [_packed(np.round(rows / scales[:, None] * 127).astype(np.int8)), _packed(scales.astype(np.float32))]


def _unpacked_rows(packed: list[str], count: int, dim: int) -> np.ndarray:
    rows = _unpacked(packed[0], np.int8).reshape(count, dim).astype(np.float32)
    return _unit(rows * _unpacked(packed[1], np.float32)[:, None] / 127)


def _packed(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _unpacked(text: str, dtype: type[np.generic]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def _can_advance(state: TopicState, now: datetime, window: timedelta, full_every: timedelta) -> bool:
    return state.window == window and state.computed_at <= now < state.recomputed_at + full_every
