"""ingest(entries): normalize → exact-duplicate check → embed → store + index.

This is the one path every entry takes, whether it comes from a live fetch, the demo or
the evaluation replay, so what we measure is what runs. Exact duplicates (same arXiv id,
canonical URL or GUID) become one item that remembers every source that carried it; an
item seen again with new wording from its own source (an edited post, a new arXiv
version) is updated in place, never stored twice. Only new or changed text is embedded,
in one batch, and the batch is written in one transaction before the index is touched.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.config import Paths, Settings
from bot.embed import Embedder, make_embedder
from bot.index import Repair, VectorIndex, open_index
from bot.models import IngestReport, Item, RawEntry
from bot.normalize import normalize
from bot.store import NewItem, Sighting, Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Plan:
    """What one batch will do, decided before anything is embedded or written."""

    new: list[Item] = field(default_factory=list)
    seen: list[tuple[int, int, Item, bool]] = field(default_factory=list)  # (item id, new ref, item, changed)
    reports: dict[str, IngestReport] = field(default_factory=lambda: defaultdict(IngestReport))


class Pipeline:
    """Owns the store, the index and the embedder for one data directory."""

    def __init__(self, store: Store, index: VectorIndex, embedder: Embedder, paths: Paths) -> None:
        self.store = store
        self.index = index
        self.embedder = embedder
        self.paths = paths

    def ingest(self, entries: Sequence[RawEntry]) -> dict[str, IngestReport]:
        """Store what is new in `entries`; idempotent, so feeding the same entries twice adds nothing."""
        items = [normalize(entry) for entry in entries]
        plan = self._plan([item for item in items if _has_content(item)])
        for item in items:
            report = plan.reports[item.source]  # every source gets a line, even with nothing new
            if not _has_content(item):
                report.skipped += 1
        changed = [item for _, _, item, is_changed in plan.seen if is_changed]
        vectors = self.embedder.encode([item.embed_text for item in plan.new + changed])
        new_vectors, changed_vectors = vectors[: len(plan.new)], vectors[len(plan.new) :]
        changed_iter = iter(changed_vectors)
        sightings = [
            Sighting(item_id=item_id, new_ref=ref, item=item, vector=next(changed_iter) if is_changed else None)
            for item_id, ref, item, is_changed in plan.seen
        ]
        new_ids = self.store.write_batch(
            [NewItem(item, vector) for item, vector in zip(plan.new, new_vectors, strict=True)],
            sightings,
            self.embedder.name,
        )
        self.index.add(np.asarray(new_ids, dtype=np.int64), new_vectors)
        changed_ids = [s.item_id for s in sightings if s.vector is not None]
        if changed_ids:
            self.index.upsert(np.asarray(changed_ids, dtype=np.int64), np.asarray(changed_vectors))
        return dict(plan.reports)

    def _plan(self, items: list[Item]) -> _Plan:
        plan = _Plan()
        stored = self.store.lookup_keys(key for item in items for key in item.identities())
        versions = self.store.item_versions(stored.values())
        batch: dict[str, int] = {}
        for item in items:
            report = plan.reports[item.source]
            item_id = next((stored[key] for key in item.identities() if key in stored), 0)
            if item_id:
                changed = _is_new_wording(item, versions[item_id])
                plan.seen.append((item_id, -1, item, changed))
                if changed:
                    report.updated += 1
                    versions[item_id] = (item.source, item.content_hash, item.arxiv_version)
                else:
                    report.duplicate += 1
                continue
            ref = next((batch[key] for key in item.identities() if key in batch), -1)
            if ref >= 0:
                plan.seen.append((0, ref, item, False))
                report.duplicate += 1
                continue
            for key in item.identities():
                batch[key] = len(plan.new)
            plan.new.append(item)
            report.new += 1
        return plan

    def backfill_vectors(self) -> int:
        """Embed items that have no vector for the current model (model changed, or a crash)."""
        missing = self.store.items_without_vector(self.embedder.name)
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            vectors = self.embedder.encode([item.embed_text for item in chunk])
            ids = [item.id for item in chunk]
            self.store.put_vectors(ids, vectors, self.embedder.name)
            self.index.upsert(np.asarray(ids, dtype=np.int64), vectors)
        return len(missing)

    def save_index(self) -> None:
        self.index.save(self.paths.index_dir)

    def close(self) -> None:
        self.save_index()
        self.store.close()


def _has_content(item: Item) -> bool:
    return bool(item.title or item.text)


def _is_new_wording(item: Item, stored: tuple[str, str, int]) -> bool:
    """Same item, new text: a newer arXiv version, or its own source edited it."""
    source, content_hash, arxiv_version = stored
    if content_hash == item.content_hash:
        return False
    if item.arxiv_id:
        return item.arxiv_version > arxiv_version
    return item.source == source


def open_pipeline(settings: Settings, paths: Paths, embedder: Embedder | None = None) -> tuple[Pipeline, Repair]:
    """Open the store, the embedder and the index, repairing the index from the store if needed."""
    store = Store.open(paths.db)
    embedder = embedder or make_embedder(settings.embedding)
    index, repair = open_index(paths.index_dir, store, embedder.name, embedder.dim)
    if repair.reason:
        log.warning("index %s: added %d, removed %d vectors", repair.reason, repair.added, repair.removed)
    pipeline = Pipeline(store, index, embedder, paths)
    if pipeline.backfill_vectors():
        repair = Repair(rebuilt=repair.rebuilt, added=repair.added, removed=repair.removed, reason="backfilled")
    return pipeline, repair
