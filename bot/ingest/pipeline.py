"""ingest(entries): normalize → exact-duplicate check → embed → store + index.

This is the one path every entry takes, whether it comes from a live fetch, the demo or
the evaluation replay, so what we measure is what runs. Exact duplicates (same arXiv id,
canonical URL or GUID) become one item that remembers every source that carried it; an
item seen again with new wording from its own source (an edited post, a new arXiv
version) is updated in place, never stored twice. Only new or changed text is embedded,
in one batch, and the batch is written in one transaction before the index is touched.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from bot.core.config import EmbeddingConfig, Paths, Settings, SourceConfig
from bot.core.models import IngestReport, Item, RawEntry
from bot.ingest.dedup import (
    CROWD_NEIGHBOURS,
    DedupParams,
    NameStats,
    Profile,
    candidate_floor,
    choose_story,
    crowding,
    profile,
)
from bot.ingest.embed import Embedder, EmbeddingWorker, RememberedTexts, make_embedder
from bot.ingest.normalize import normalize
from bot.ingest.ownership import owns
from bot.ingest.themes import ThemeClassifier, ThemeScores, story_themes
from bot.storage import ItemVersion, Labels, NewItem, Sighting, Store
from bot.storage.layout import Repair

if TYPE_CHECKING:  # FAISS comes with the index, imported when one is first opened (see `Pipeline`)
    from bot.storage.index import VectorIndex

log = logging.getLogger(__name__)

NEIGHBOURS = 32  # stored items considered per new item (then filtered by time window and score)
MOVE_TEXT_CHARS = 4000  # long articles state a move in their second or third paragraph, past a preamble
PROFILES_KEPT = 4096  # stored items' dedup profiles kept between batches (the recent ones are the candidates)
# a second embedding process costs a spawn and a model load (~1.5 s, ~350 texts' worth) and ~180 MB:
# worth it for a feed that still has two chunks to come, not for one a few entries over a chunk
WIDE_BACKLOG = 1024
THEME_VECTORS = "theme-vectors.npz"  # the classifier's encoded theme texts, kept between commands


@dataclass(slots=True)
class _Plan:
    """What one batch will do, decided before anything is embedded or written."""

    new: list[Item] = field(default_factory=list)
    seen: list[tuple[int, int, Item, bool]] = field(default_factory=list)  # (item id, new ref, item, changed)
    reports: dict[str, IngestReport] = field(default_factory=lambda: defaultdict(IngestReport))


@dataclass(slots=True)
class Prepared:
    """A batch between `Pipeline.prepare` and `Pipeline.commit`: its items, its plan, its vectors by text."""

    items: list[Item]
    max_new: int | None
    plan: _Plan
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    generation: int = 0  # the pipeline's write count when planned: a commit after other writes re-plans

    @property
    def backlog(self) -> int:
        """How many items its plan left for later chunks (sources with more new items than `max_new`)."""
        return sum(report.deferred for report in self.plan.reports.values())

    def to_embed(self) -> list[Item]:
        """The items whose text will be stored with a vector: new ones, and seen ones with new wording."""
        return self.plan.new + [item for _, _, item, is_changed in self.plan.seen if is_changed]


class Pipeline:
    """Owns the store, the index, the embedder and the labellers for one data directory.

    The index, the theme classifier and the headline name counts are made on first use, and the
    embedder loads its model on its first encode: a pass where no entry is new (every feed answers
    304, or lists only what is stored) reads and writes the store and pays for none of them.
    `embedder` answers questions; `batch_embedder` embeds what is stored: the same model, in a
    worker process while `embedding_in_worker` is on (a pass over many sources).
    """

    def __init__(
        self,
        store: Store,
        index: Callable[[], VectorIndex],
        embedder: Embedder,
        paths: Paths,
        classifier: Callable[[Embedder], ThemeClassifier | None] = lambda embedder: None,
        params: DedupParams | None = None,
        retention: timedelta | None = None,
        sources: Callable[[], Sequence[SourceConfig]] = tuple,
    ) -> None:
        self.store = store
        self.sources = sources  # the sources configured now (they change on reload): who owns which item
        self.embedder = embedder
        self.batch_embedder = embedder
        self.paths = paths
        self.params = params or DedupParams.load()
        self.retention = retention
        self._open_index = index
        self._index: VectorIndex | None = None
        self._make_classifier = classifier
        self._classifier: ThemeClassifier | None = None
        self._classifier_made = False
        self._names: NameStats | None = None
        self._generation = 0  # batches committed and prunes done: a plan made before a change is stale
        self._profiles: OrderedDict[int, tuple[tuple[Any, ...], Profile]] = OrderedDict()  # see _stored_profile

    @property
    def index(self) -> VectorIndex:
        """The vector index, opened and brought in step with the store on first use."""
        if self._index is None:
            self._index = self._open_index()
        return self._index

    @property
    def index_open(self) -> bool:
        """Whether the index has been opened (a pass with nothing new never opens it)."""
        return self._index is not None

    @property
    def classifier(self) -> ThemeClassifier | None:
        """The theme classifier (None without themes), built on first use: reading back or encoding
        the theme texts and fitting its few-shot layer cost a third of a second per process."""
        if not self._classifier_made:
            self._classifier, self._classifier_made = self._make_classifier(self.batch_embedder), True
        return self._classifier

    @property
    def classifier_built(self) -> bool:
        return self._classifier_made

    @property
    def names(self) -> NameStats:
        """How many headlines name each entity (what shared names are worth), read on first use."""
        if self._names is None:
            self._names = NameStats(*self.store.name_counts())
        return self._names

    def ingest(self, entries: Sequence[RawEntry], max_new_per_source: int | None = None) -> dict[str, IngestReport]:
        """Store what is new in `entries`; idempotent, so feeding the same entries twice adds nothing.

        New items are taken in publication order, so a batch tells the same stories as the same
        entries fed one at a time. With `max_new_per_source`, a source's new items beyond that many
        (the newest) are left for a later call and counted as `deferred`: one huge feed is then
        stored in bounded chunks, and nothing is lost as long as the feed still lists them.
        """
        batch = self.prepare(entries, max_new_per_source)
        self.embed(batch)
        return self.commit(batch)

    def prepare(self, entries: Sequence[RawEntry], max_new_per_source: int | None = None) -> Prepared:
        """Normalize `entries` and decide what is new, seen or changed (reads the store, writes nothing)."""
        items = sorted((normalize(entry) for entry in entries), key=lambda item: item.published)
        batch = Prepared(items, max_new_per_source, self._plan(self._wanted_of(items), max_new_per_source))
        batch.generation = self._generation
        return batch

    def prepare_rest(self, batch: Prepared, leave: Collection[str] = ()) -> Prepared | None:
        """The next chunk of a capped batch: the items `batch` deferred, planned afresh (reads only).

        Only the deferred items are planned again, not the whole batch, so a 20k-entry feed taken
        in chunks costs one plan per entry, not one per entry and chunk. Sources in `leave` have had
        their share of this pass and keep their deferred items for the next. None when nothing is left.
        """
        rest = self._deferred(batch, leave)
        if not rest:
            return None
        chunk = Prepared(rest, batch.max_new, self._plan(rest, batch.max_new))
        chunk.generation = self._generation
        return chunk

    def embed_ahead(self, batch: Prepared) -> dict[str, np.ndarray]:
        """Vectors for what the chunk after `batch` will most likely store: the first `max_new` items of
        each source that `batch`'s plan deferred (they were not stored when it was planned).

        A caller runs this while `batch` is written, so one huge feed embeds its next chunk beside the
        write instead of after it (8,000 entries: 35.3 s before, the embedding alone 26.4 s). It touches
        neither store nor index. `prepare_rest` still plans that chunk after the write, and keeps these
        vectors: a text it plans differently is embedded then, one it drops was embedded for nothing.
        """
        per_source: Counter[str] = Counter()
        ahead = []
        for item in self._deferred(batch):
            per_source[item.source] += 1
            if batch.max_new is None or per_source[item.source] <= batch.max_new:
                ahead.append(item.embed_text)
        texts = [text for text in dict.fromkeys(ahead) if text not in batch.vectors]
        return dict(zip(texts, self._encode(texts, batch), strict=True)) if texts else {}

    def _deferred(self, batch: Prepared, leave: Collection[str] = ()) -> list[Item]:
        """The items of `batch` its plan left for a later chunk (every planned item is new or seen)."""
        planned = {id(item) for item in batch.plan.new} | {id(item) for _, _, item, _ in batch.plan.seen}
        return [
            item for item in batch.items if id(item) not in planned and item.source not in leave and self._wanted(item)
        ]

    def embed(self, batch: Prepared) -> None:
        """Embed what `batch` will store and has no vector for yet; touches neither store nor index,
        so a caller may run it without the lock that serializes store work."""
        texts = list(
            dict.fromkeys(item.embed_text for item in batch.to_embed() if item.embed_text not in batch.vectors)
        )
        if texts:
            batch.vectors.update(zip(texts, self._encode(texts, batch), strict=True))

    def _encode(self, texts: list[str], batch: Prepared) -> np.ndarray:
        """The texts' vectors; on both cores (`EmbeddingWorker.encode_wide`) while a huge feed leaves
        at least WIDE_BACKLOG items for later chunks."""
        if batch.backlog >= WIDE_BACKLOG and isinstance(self.batch_embedder, EmbeddingWorker):
            return self.batch_embedder.encode_wide(texts)
        return self.batch_embedder.encode(texts)

    def warm_embedder(self) -> None:
        """Have the embedding process load its model now, without waiting (see `EmbeddingWorker.start`);
        an in-process embedder loads at its first encode, as before."""
        if isinstance(self.batch_embedder, EmbeddingWorker):
            self.batch_embedder.start()

    @contextmanager
    def embedding_in_worker(self, config: EmbeddingConfig) -> Iterator[None]:
        """Embed batches (and theme texts, if the classifier is built meanwhile) in a worker process
        until the block ends: parsing, labelling and writing then run beside the model on the other
        core instead of taking turns with it (see `EmbeddingWorker`). Another model than `config`'s
        (a caller's own embedder) keeps embedding here."""
        if make_embedder(config).name != self.embedder.name:
            yield
            return
        worker = EmbeddingWorker(config, self.embedder)
        self.batch_embedder = worker
        try:
            yield
        finally:
            self.batch_embedder = self.embedder
            worker.close()

    def commit(self, batch: Prepared) -> dict[str, IngestReport]:
        """Label, assign stories and write `batch` in one transaction, then index it.

        If anything was written since `prepare`, the plan is made again (an item may have been stored
        meanwhile) and only text not yet embedded is embedded here.
        """
        if batch.generation != self._generation:
            batch.plan = self._plan(self._wanted_of(batch.items), batch.max_new)
        self.embed(batch)
        self._generation += 1
        plan = batch.plan
        for item in batch.items:
            report = plan.reports[item.source]  # every source gets a line, even with nothing new
            if not self._wanted(item):
                report.skipped += 1
        changed = [item for _, _, item, is_changed in plan.seen if is_changed]
        dim = self.batch_embedder.dim if plan.new or changed else 0  # nothing to embed: no model asked
        new_vectors = _rows([batch.vectors[item.embed_text] for item in plan.new], dim)
        changed_vectors = _rows([batch.vectors[item.embed_text] for item in changed], dim)
        new_labels = self._label(plan.new, new_vectors)
        changed_labels = iter(self._label(changed, changed_vectors))
        changed_vector_rows = iter(changed_vectors)
        sightings = [
            Sighting(item_id, item, ref, next(changed_vector_rows), next(changed_labels))
            if is_changed
            else Sighting(item_id, item, ref)
            for item_id, ref, item, is_changed in plan.seen
        ]
        stories, names = self._assign_stories(plan.new, new_vectors)
        story_labels = self._story_labels(stories, new_labels, sightings)
        written = self.store.write_batch(
            [
                NewItem(item, vector, story, labels)
                for item, vector, story, labels in zip(plan.new, new_vectors, stories, new_labels, strict=True)
            ],
            sightings,
            self.embedder.name,
            story_labels,
            names,
        )
        if written.items:
            self.index.add(np.asarray(written.items, dtype=np.int64), new_vectors)
        changed_ids = [s.item_id for s in sightings if s.vector is not None]
        if changed_ids:
            self.index.upsert(np.asarray(changed_ids, dtype=np.int64), changed_vectors)
        return dict(plan.reports)

    def _wanted_of(self, items: Sequence[Item]) -> list[Item]:
        return [item for item in items if self._wanted(item)]

    def _wanted(self, item: Item) -> bool:
        """Has text, and is not older than what retention keeps (a back catalogue would come back daily)."""
        if not (item.title or item.text):
            return False
        return self.retention is None or item.published >= item.fetched_at - self.retention

    def prune(self, cutoff: datetime) -> int:
        """Drop stories older than `cutoff` from the store and the index; returns the number of items."""
        removed = self.store.prune_stories(cutoff)
        self._generation += 1
        self.index.remove(np.asarray(removed, dtype=np.int64))
        return len(removed)

    def _label(self, items: Sequence[Item], vectors: np.ndarray) -> list[Labels]:
        """Each item's people moves and themes (a stated move is strong evidence for people_moves)."""
        if not items:
            return []
        from bot.ingest.people import extract_moves  # its lexicons load with the first new entry

        moves = [extract_moves(item.title, item.text[:MOVE_TEXT_CHARS], item.lang) for item in items]
        themes = self.classifier.classify(items, vectors, [bool(m) for m in moves]) if self.classifier else []
        return [
            Labels(themes=_theme_dict(themes[i]) if themes else {}, moves=[asdict(move) for move in moves[i]])
            for i in range(len(items))
        ]

    def _assign_stories(self, items: Sequence[Item], vectors: np.ndarray) -> tuple[list[int], list[frozenset[str]]]:
        """A story per new item: an existing story id, or a negative placeholder for a new story."""
        if not items:
            return [], []
        from bot.storage.index import earlier_neighbours, earlier_similarities

        params = self.params
        scores, ids = self._search_stored(vectors)
        seconds = np.array([item.published.timestamp() for item in items])
        stored_nearest = np.where(ids >= 0, scores, np.nan)
        crowds = crowding(np.hstack([stored_nearest, earlier_similarities(vectors, CROWD_NEIGHBOURS)])).tolist()
        floors = [candidate_floor(params, crowd) for crowd in crowds]
        lowest = min(floors, default=0.0)
        earlier = earlier_neighbours(vectors, seconds, NEIGHBOURS, lowest, params.window_days * 86400)
        stored = self._stored_candidates(scores, ids, floors)
        window = params.window_days * 86400
        profiles: list[Profile] = []
        stories: list[int] = []
        for i, item in enumerate(items):
            mine = profile(-(i + 1), 0, item.published, item.source, item.title, item.text, crowds[i])
            batch: list[tuple[Profile | _StoredRow, float]] = [
                (profiles[j], cosine) for j, cosine in earlier[i] if cosine >= floors[i]
            ]
            # a candidate outside the window scores -inf in `choose_story` and can never be chosen, so
            # only those inside it need a profile (most stored neighbours of an archive are older)
            scored = [
                (self._stored_profile(candidate.row) if isinstance(candidate, _StoredRow) else candidate, cosine)
                for candidate, cosine in _nearest([*stored[i], *batch], NEIGHBOURS)
                if abs((item.published - candidate.published).total_seconds()) <= window
            ]
            story, _ = choose_story(mine, scored, self.names.idf, params)
            if story is None:
                story = -(i + 1)
            stories.append(story)
            profiles.append(replace(mine, story=story))
            self.names.add([mine.title_names])
        while len(self._profiles) > PROFILES_KEPT:
            self._profiles.popitem(last=False)
        return stories, [p.title_names for p in profiles]

    def _search_stored(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cosines, ids) of each vector's nearest stored items; id -1 where there are fewer."""
        if not len(vectors) or not len(self.index):
            return np.zeros((len(vectors), 0), dtype=np.float32), np.zeros((len(vectors), 0), dtype=np.int64)
        return self.index.search(vectors, NEIGHBOURS)

    def _stored_candidates(
        self, scores: np.ndarray, ids: np.ndarray, floors: Sequence[float]
    ) -> list[list[tuple[Profile | _StoredRow, float]]]:
        """For each row of a search, the stored items close enough to matter, with their cosine
        (their profiles are made when one turns out to be near enough in time, see `_assign_stories`)."""
        wanted = {
            int(i)
            for id_row, score_row, floor in zip(ids, scores, floors, strict=True)
            for i, s in zip(id_row, score_row, strict=True)
            if i >= 0 and s >= floor
        }
        known: dict[int, Profile | _StoredRow] = {
            row["id"]: _StoredRow(datetime.fromisoformat(row["published"]), row)
            for row in self.store.dedup_rows(wanted)
        }
        return [
            [(known[int(i)], float(s)) for i, s in zip(id_row, score_row, strict=True) if int(i) in known]
            for id_row, score_row in zip(ids, scores, strict=True)
        ]

    def _stored_profile(self, row: Any) -> Profile:  # a `store.dedup_rows` row
        """A stored item's dedup profile, reused while its row is unchanged.

        Recent items are candidates of batch after batch; building a profile (headline names, versions,
        the move verb) and, for near-copies, its trigram shingles again each time was a fifth of story
        assignment. The row's values are the key, so a new wording or another story builds a new one.
        """
        stamp = (row["story_id"], row["published"], row["source"], row["title"], row["lead"])
        kept = self._profiles.get(row["id"])
        if kept is None or kept[0] != stamp:
            published = datetime.fromisoformat(row["published"])
            kept = (stamp, profile(row["id"], row["story_id"], published, row["source"], row["title"], row["lead"]))
            self._profiles[row["id"]] = kept
        self._profiles.move_to_end(row["id"])
        return kept[1]

    def _story_labels(
        self, stories: Sequence[int], new_labels: Sequence[Labels], sightings: Sequence[Sighting]
    ) -> dict[int, Labels]:
        """Themes and moves of every story this batch touches, from all of its items."""
        changed = {s.item_id: s.labels for s in sightings if s.labels is not None and s.item_id}
        existing = {story for story in stories if story > 0}
        existing |= set(self.store.story_of_items(changed).values()) - {None}
        members: dict[int, list[Labels]] = defaultdict(list)
        for story, story_members in self.store.story_members(existing).items():
            members[story] = [changed.get(m.item_id) or m.labels for m in story_members]
        for story, labels in zip(stories, new_labels, strict=True):
            members[story].append(labels)
        return {story: _story_labels(labels) for story, labels in members.items()}

    def _plan(self, items: list[Item], max_new_per_source: int | None = None) -> _Plan:
        plan = _Plan()
        stored = self.store.lookup_keys(key for item in items for key in item.identities())
        versions = self.store.item_versions(stored.values())
        configured = {source.name: source for source in self.sources()}

        def owned(source: str, url: str, arxiv_id: str) -> bool:
            return owns(configured.get(source), url, arxiv_id)

        batch: dict[str, int] = {}
        for item in items:
            report = plan.reports[item.source]
            item_id = next((stored[key] for key in item.identities() if key in stored), 0)
            if item_id:
                changed = _is_new_wording(item, versions[item_id], owned)
                plan.seen.append((item_id, -1, item, changed))
                if changed:
                    report.updated += 1
                    versions[item_id] = _version(item)
                else:
                    report.duplicate += 1
                continue
            ref = next((batch[key] for key in item.identities() if key in batch), -1)
            if ref >= 0:
                first = plan.new[ref]
                if owned(item.source, item.url, item.arxiv_id) and not owned(first.source, first.url, first.arxiv_id):
                    # the owner's entry, in the same batch as a feed that carried its link: the owner's is stored
                    plan.new[ref], item = item, first
                    plan.reports[first.source].new -= 1
                    plan.reports[first.source].duplicate += 1
                    report.new += 1
                    batch.update(dict.fromkeys(plan.new[ref].identities(), ref))
                else:
                    report.duplicate += 1
                plan.seen.append((0, ref, item, False))
                continue
            if max_new_per_source is not None and report.new >= max_new_per_source:
                report.deferred += 1
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
        if self._index is not None:  # an index never opened has nothing to save
            self._index.save(self.paths.index_dir)

    def close(self) -> None:
        self.save_index()
        self.store.close()


@dataclass(frozen=True, slots=True)
class _StoredRow:
    """A stored candidate before its profile is made: its time decides whether it needs one."""

    published: datetime
    row: Any  # a `store.dedup_rows` row


_Candidate = TypeVar("_Candidate")


def _nearest(candidates: list[tuple[_Candidate, float]], k: int) -> list[tuple[_Candidate, float]]:
    """The `k` most similar candidates, in their given order: what one search of an index holding
    the stored items and the batch's earlier ones would return, so a batch tells the same stories
    as its items fed one at a time, and scoring costs k pairs an item however alike the batch is."""
    if len(candidates) <= k:
        return candidates
    kept = sorted(heapq.nlargest(k, range(len(candidates)), key=lambda n: candidates[n][1]))
    return [candidates[n] for n in kept]


def _rows(vectors: Sequence[np.ndarray], dim: int) -> np.ndarray:
    return np.asarray(vectors, dtype=np.float32).reshape(len(vectors), dim)


def _theme_dict(scores: ThemeScores) -> dict[str, Any]:
    return {"primary": scores.primary, "labels": list(scores.labels), "scores": scores.scores}


def _story_labels(members: Sequence[Labels]) -> Labels:
    from bot.ingest.people import Move, resolve_story_moves

    voted = [
        ThemeScores(m.themes["primary"], tuple(m.themes["labels"]), m.themes["scores"]) for m in members if m.themes
    ]
    themes = _theme_dict(story_themes(voted)) if voted else {}
    moves = resolve_story_moves([[Move(**move) for move in m.moves] for m in members])
    return Labels(themes=themes, moves=[asdict(move) for move in moves])


def _is_new_wording(item: Item, stored: ItemVersion, owned: Callable[[str, str, str], bool]) -> bool:
    """Same item, text that may replace the stored one: only the item's owner (see `ownership`) changes it.

    The owner's entry replaces what a feed that carried the link first said; then the owner's own edit
    or newer arXiv version does. Another feed's wording never does. An item no configured source owns
    (a link to a site we do not follow) keeps the first carrier's text, which only that carrier edits.
    """
    mine, theirs = owned(item.source, item.url, item.arxiv_id), owned(stored.source, stored.url, stored.arxiv_id)
    if mine != theirs:
        return mine
    if stored.content_hash == item.content_hash:
        return False
    if item.arxiv_id:
        return item.arxiv_version > stored.arxiv_version and (mine or item.source == stored.source)
    return item.source == stored.source


def _version(item: Item) -> ItemVersion:
    return ItemVersion(item.source, item.url, item.content_hash, item.arxiv_id, item.arxiv_version)


def open_pipeline(
    settings: Settings,
    paths: Paths,
    embedder: Embedder | None = None,
    store: Store | None = None,
    sources: Callable[[], Sequence[SourceConfig]] | None = None,
    lazy: bool = False,
) -> tuple[Pipeline, Repair]:
    """Open the store (unless given) and a pipeline over it; with `lazy`, the index is opened (and repaired
    from the store if needed) on first use, else here, and the repair is returned.

    `sources` gives the sources configured at each ingest (an app's settings change on reload); by default
    those of `settings`. The model loads on the first encode and the theme classifier is built on first use
    either way.
    """
    store = store or Store.open(paths.db)
    embedder = embedder or make_embedder(settings.embedding)
    repairs: list[Repair] = []

    def index() -> VectorIndex:
        from bot.storage.index import follow_store, open_index

        opened, repair = open_index(paths.index_dir, store, embedder.name, embedder.dim, settings.index)
        follow_store(opened, store)
        if repair.reason:
            log.warning("index %s: added %d, removed %d vectors", repair.reason, repair.added, repair.removed)
        repairs.append(repair)
        return opened

    def classifier(encoder: Embedder) -> ThemeClassifier | None:
        remembered = RememberedTexts(encoder, paths.data_dir / THEME_VECTORS)
        return ThemeClassifier(settings.themes, remembered) if settings.themes else None

    pipeline = Pipeline(
        store,
        index,
        embedder,
        paths,
        classifier,
        retention=settings.storage.retention,
        sources=sources or (lambda: settings.sources),
    )
    if not lazy:
        pipeline.index  # noqa: B018 — opened now, so its repair is known to the caller
    backfilled = pipeline.backfill_vectors()
    repair = repairs[0] if repairs else Repair()
    if backfilled:
        repair = Repair(rebuilt=repair.rebuilt, added=repair.added, removed=repair.removed, reason="backfilled")
    return pipeline, repair
