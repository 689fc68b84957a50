"""What a reader asked for, as tests on stories: the themes they chose and the topics they follow.

Shared by the digest, the weekly report and breaking alerts, so the three agree on what belongs
to a reader.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from bot.ingest.pipeline import Pipeline
from bot.storage import StorySummary


def in_themes(story: StorySummary, chosen: Collection[str]) -> bool:
    """Whether a story belongs to the chosen themes (by its primary theme or any other); none chosen = all."""
    return not chosen or story.primary_theme in chosen or any(theme in chosen for theme in story.themes)


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
