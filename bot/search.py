"""Retrieval over the stored items: semantic (FAISS) search across languages.

A query is embedded with the same model as the items, so an English question finds Chinese
coverage and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Item
from bot.pipeline import Pipeline


@dataclass(frozen=True, slots=True)
class Hit:
    item: Item
    score: float


def semantic_items(pipeline: Pipeline, query: str, k: int = 5) -> list[Hit]:
    """The `k` stories closest in meaning to `query`, each by its closest item, best first."""
    vector = pipeline.embedder.encode([query])
    scores, ids = pipeline.index.search(vector, k * 4)
    found = [(int(item_id), float(score)) for item_id, score in zip(ids[0], scores[0], strict=True) if item_id >= 0]
    stories = pipeline.store.story_of_items(item_id for item_id, _ in found)
    best: dict[int, tuple[int, float]] = {}
    for item_id, score in found:
        best.setdefault(stories.get(item_id) or -item_id, (item_id, score))
    chosen = list(best.values())[:k]
    items = {item.id: item for item in pipeline.store.get_items([item_id for item_id, _ in chosen])}
    return [Hit(items[item_id], score) for item_id, score in chosen if item_id in items]
