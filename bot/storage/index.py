"""FAISS index of item vectors, keyed by item id; `faiss` is imported only here.

The index is derived data: SQLite holds every vector, so the index can always be rebuilt.
It is saved atomically (temp file + rename) beside a small JSON file naming the model,
dimension and structure, with a checksum of the index bytes; on open, anything that does not
match the store — a missing, truncated or rotten file, another model, ids the store lacks or has
beyond the index (a crash between commit and save) — is repaired from the store rather than trusted.

**The structure follows the size.** Below `IndexConfig.exact_below` vectors search is exact (flat
inner product over float32). A year of news is about a million vectors, and flat float32 at dim 512
is 2 GB on its own, so above the threshold the vectors live in an inverted file with 8-bit scalar
quantization (IVF-SQ8: 512 bytes a vector, about 4·√n lists, `IndexConfig.nprobe` of them scanned
per query; a build allocates each list once at its final size, see `_fill_presized`). IVF rather
than HNSW because items leave the index every day (retention, new wording): IVF removes ids natively
where HNSW cannot remove at all, and on two cores IVF trains k-means on a sample in well under a
minute where an HNSW graph over a million vectors takes far longer to build. The IVF is retrained
once as many vectors have been added or removed since it was built as it then held (growth, or a
year's turnover, unbalances its lists), and goes back to flat only below half the threshold, so a
store hovering at the threshold does not flap between structures.

**Rebuilds never stop ingest or queries.** A rebuild runs on a background thread: it snapshots the
indexed ids, streams their vectors from the store a chunk at a time (never all of them as float32)
and builds the new structure, while the old one keeps answering `search` and taking `add`/`remove`.
The ids those changes touch are also written to a journal, which the builder replays onto the new
structure — most of it outside the lock, the tail under it — and then swaps. Replaying reads the
vectors of added ids back from the store by id (the pipeline commits a vector before it indexes it),
so the journal costs 8 bytes a change however fast ingest runs during a rebuild, and it is
idempotent (an add replaces, removing an absent id does nothing), so a change the snapshot had
already seen does no harm. Building from the store is also what keeps vectors exact: re-encoding an
index's own SQ8 codes would lose a little precision at every rebuild. The builder leaves one core to the serving
side, and while it runs both structures are in memory (bench/search.py --during-rebuild measures it).
A finished rebuild saves the new structure itself, before the swap, where the index was loaded or
last saved. Its thread is not a daemon: a process that ends mid-rebuild (a one-shot command that
crossed the threshold) waits for it rather than abandon the work, or die inside faiss at exit.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from bot.core.config import IndexConfig
from bot.storage import Store
from bot.storage.layout import INDEX_FILE, INDEX_META_FILE, Repair

log = logging.getLogger(__name__)

FORMAT = 1
FLAT = "flat"
IVF_SQ8 = "ivf-sq8"
READ_CHUNK = 10_000  # vectors read from the store at a time: 20 MB at dim 512
TRAIN_PER_LIST = 40  # k-means sample per IVF list (faiss wants at least 39)
_CRC_BLOCK = 1 << 24


class VectorSource(Protocol):
    """Where the index reads vectors back from: the store (`StoreVectors`), or anything shaped like it."""

    def chunks(self) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """Every (ids, vectors) it holds, a chunk at a time; asked once per pass over the data."""
        ...

    def fetch(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of `ids` it holds."""
        ...


class StoreVectors:
    """One model's vectors in a store, read through a `Store` of their own on the same file.

    Rebuilds read on a background thread, and one SQLite connection must not serve two threads at
    once; a connection of its own also gives each pass one committed snapshot, never half a batch.
    """

    def __init__(self, store: Store, model: str, dim: int) -> None:
        self.model, self.dim = model, dim
        self._file = store.database_file()  # asked here, on the thread that owns `store`
        if not self._file:
            raise ValueError("the index is rebuilt from a database file; this store is in memory")

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        with self._reader() as reader:
            yield from reader.iter_vectors(self.model, self.dim, READ_CHUNK)

    def fetch(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self._reader() as reader:
            return reader.vectors_of(self.model, self.dim, ids.tolist())

    @contextmanager
    def _reader(self) -> Iterator[Store]:
        reader = Store.open(Path(self._file))
        try:
            yield reader
        finally:
            reader.close()


@dataclass(frozen=True, slots=True)
class Layout:
    """The structure holding the vectors: exact (flat), or IVF-SQ8 with `lists` inverted lists."""

    structure: str = FLAT
    lists: int = 0


@dataclass(slots=True)
class _Rebuild:
    """One rebuild in flight: its target and the changes made to the serving index since it began."""

    layout: Layout
    journal: list[tuple[np.ndarray, bool]] = field(default_factory=list)  # (ids, added) in order


def planned_layout(count: int, config: IndexConfig) -> Layout:
    """The structure a build of `count` vectors gets: exact below the threshold, IVF-SQ8 from it on."""
    if count < max(config.exact_below, TRAIN_PER_LIST):
        return Layout()
    return Layout(IVF_SQ8, list_count(count))


def list_count(count: int) -> int:
    """About 4·√n lists, as a power of two, but never so many that a list gets under TRAIN_PER_LIST samples."""
    wanted = 2 ** round(math.log2(4 * math.sqrt(max(count, 1))))
    affordable = 2 ** int(math.log2(max(count // TRAIN_PER_LIST, 1)))
    return min(wanted, affordable)


class VectorIndex:
    """Inner-product search over unit vectors (= cosine), ids are item ids; exact or IVF-SQ8 by size.

    `source` is where rebuilds read vectors: a vector given to `add` must be the one `source` holds
    for that id by the time the call returns (the pipeline commits to SQLite first). Without a
    source the index cannot rebuild itself and keeps the structure it has. Any thread may call.
    """

    _follow: Callable[[], None] | None = None  # set by `follow_store`: catch up before each search

    def __init__(
        self, dim: int, model: str, config: IndexConfig | None = None, source: VectorSource | None = None
    ) -> None:
        self.dim = dim
        self.model = model
        self.config = config or IndexConfig()
        self._source = source
        self._index: faiss.Index = _empty_flat(dim)
        self._layout = Layout()
        self._built_for = 0  # vectors the structure was built from
        self._changed = 0  # vectors added or removed since
        self._dirty = True  # differs from what `_home` holds: a read-only command must not rewrite the file
        self._lock = threading.RLock()
        self._save_lock = threading.Lock()  # the serving side and a finished rebuild both write the same files
        self._home: Path | None = None  # where it was loaded from or last saved: where a rebuild saves itself
        self._rebuild: _Rebuild | None = None
        self._thread: threading.Thread | None = None
        self._rebuild_failed = False

    @classmethod
    def build(
        cls, dim: int, model: str, source: VectorSource, ids: np.ndarray, config: IndexConfig | None = None
    ) -> VectorIndex:
        """The vectors of `ids` from `source`, built here and now in the structure their number calls for."""
        index = cls(dim, model, config, source)
        layout = planned_layout(len(ids), index.config)
        index._install(_build(layout, dim, source, ids), layout, changed=0)
        return index

    @property
    def structure(self) -> str:
        """FLAT or IVF_SQ8: what answers `search` right now."""
        return self._layout.structure

    @property
    def rebuilding(self) -> bool:
        return self._rebuild is not None

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            return _indexed_ids(self._index)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        ids = np.array(ids, dtype=np.int64)  # a copy: the journal must not change under the caller's feet
        with self._lock:
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
            self._record(ids, added=True)

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        ids = np.array(ids, dtype=np.int64)
        with self._lock:
            removed = _remove(self._index, ids)
            self._record(ids, added=False)
        return removed

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            self.remove(ids)
            self.add(ids, vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each of shape (len(queries), k); missing neighbours have id -1."""
        if self._follow is not None:
            self._follow()
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        with self._lock:
            if len(self) == 0:
                empty = np.full((len(queries), k), -1, dtype=np.int64)
                return np.zeros((len(queries), k), dtype=np.float32), empty
            scores, ids = self._index.search(queries, k)
        return scores, ids

    def rebuild(self) -> bool:
        """Start rebuilding, in the background, into the structure the current size calls for.

        False when it cannot start: no source to read vectors from, or a rebuild already running.
        """
        return self._start_rebuild(planned_layout(len(self), self.config))

    def rebuild_if_due(self) -> bool:
        """Start a background rebuild if the structure no longer fits the size (see the module docstring)."""
        due = self._due_layout()
        return due is not None and not self._rebuild_failed and self._start_rebuild(due)

    def wait_for_rebuild(self, timeout: float | None = None) -> bool:
        """Block until the running rebuild (if any) has swapped in; False if it is still running at `timeout`."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.rebuilding

    def save(self, directory: Path) -> None:
        """Write the serving structure (a running rebuild is not waited for: it saves itself when done).

        Nothing is written when the files under `directory` already hold it: a command that only read
        (`bot ask`) leaves a large index file alone.
        """
        with self._lock:
            if not self._dirty and self._home == directory:
                return
            self._home = directory
            self._write(directory, self._index, self._layout, self._built_for, self._changed)
            self._dirty = False

    def _write(self, directory: Path, index: faiss.Index, layout: Layout, built_for: int, changed: int) -> None:
        meta = {
            "format": FORMAT,
            "model": self.model,
            "dim": self.dim,
            "count": int(index.ntotal),
            "structure": layout.structure,
            "lists": layout.lists,
            "built_for": built_for,
            "changed": changed,
        }
        directory.mkdir(parents=True, exist_ok=True)
        with self._save_lock:
            meta["crc32"] = _write_index_atomic(index, directory / INDEX_FILE)
            _write_atomic(directory / INDEX_META_FILE, json.dumps(meta).encode())

    @classmethod
    def load(
        cls,
        directory: Path,
        dim: int,
        model: str,
        config: IndexConfig | None = None,
        source: VectorSource | None = None,
    ) -> VectorIndex | None:
        """The saved index if it exists, is intact and was built for this model; None otherwise."""
        try:
            meta = json.loads((directory / INDEX_META_FILE).read_text())
            if (meta.get("format"), meta.get("model"), meta.get("dim")) != (FORMAT, model, dim):
                return None
            layout = Layout(meta.get("structure", FLAT), int(meta.get("lists", 0)))
            path = directory / INDEX_FILE
            if "crc32" in meta and meta["crc32"] != _file_crc32(path):  # rotten bytes that still parse
                raise ValueError("checksum does not match items.json")
            loaded = faiss.read_index(str(path))
        except (OSError, ValueError, TypeError, AttributeError, RuntimeError) as exc:
            log.info("index under %s not usable (%s); rebuilding from the store", directory, exc)
            return None
        if not _matches(loaded, layout, dim):
            log.info("index under %s is not the %s structure items.json names; rebuilding", directory, layout)
            return None
        index = cls(dim, model, config, source)
        index._home = directory
        built_for = meta.get("built_for")
        index._install(loaded, layout, int(meta.get("changed", 0)), built_for if isinstance(built_for, int) else None)
        index._dirty = False
        return index

    def _install(self, index: faiss.Index, layout: Layout, changed: int, built_for: int | None = None) -> None:
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = min(self.config.nprobe, index.nlist)
        self._index, self._layout = index, layout
        self._built_for = int(index.ntotal) if built_for is None else built_for
        self._changed = changed

    def _record(self, ids: np.ndarray, added: bool) -> None:
        """Count a change, journal it for a running rebuild, and start one if the size now calls for it."""
        self._changed += len(ids)
        self._dirty = True
        if self._rebuild is not None:
            self._rebuild.journal.append((ids, added))
        self.rebuild_if_due()

    def _due_layout(self) -> Layout | None:
        count = len(self)
        if self._layout.structure == FLAT:
            planned = planned_layout(count, self.config)
            return planned if planned.structure != FLAT else None
        if count < max(self.config.exact_below // 2, TRAIN_PER_LIST):
            return Layout()
        if self._changed >= max(self._built_for, 1):
            return Layout(IVF_SQ8, list_count(count))
        return None

    def _start_rebuild(self, layout: Layout) -> bool:
        with self._lock:
            if self._source is None or self._rebuild is not None:
                return False
            rebuild = self._rebuild = _Rebuild(layout)
            snapshot = _indexed_ids(self._index)
            self._thread = threading.Thread(
                target=self._run_rebuild, args=(rebuild, self._source, snapshot), name="index-rebuild"
            )
            log.info("rebuilding the index of %d vectors as %s in the background", len(snapshot), layout)
            self._thread.start()
        return True

    def _run_rebuild(self, rebuild: _Rebuild, source: VectorSource, snapshot: np.ndarray) -> None:
        """Build from the store, catch up on the journal, swap; on failure the old structure keeps serving."""
        faiss.omp_set_num_threads(max(1, (os.cpu_count() or 1) - 1))  # this thread only: leave a core to queries
        try:
            built = _build(rebuild.layout, self.dim, source, snapshot)
            replayed = _replay(built, source, rebuild.journal, 0)  # outside the lock: the serving index is untouched
            if self._home is not None:  # saved before the swap, while no other thread can touch `built`
                self._write(self._home, built, rebuild.layout, len(snapshot), _journaled(rebuild.journal[:replayed]))
            with self._lock:
                tail = _replay(built, source, rebuild.journal, replayed) > replayed
                self._install(built, rebuild.layout, _journaled(rebuild.journal), built_for=len(snapshot))
                self._dirty = tail or self._home is None
                self._rebuild = None
            log.info("index rebuilt as %s: %d vectors", rebuild.layout, len(self))
        except Exception:  # a background thread has no caller to raise to: log, keep the old index
            log.exception("rebuilding the index as %s failed; the current structure keeps serving", rebuild.layout)
            with self._lock:
                self._rebuild = None
                self._rebuild_failed = True  # no automatic retry until the next open


def earlier_neighbours(
    vectors: np.ndarray, seconds: np.ndarray, k: int, floor: float, window: float, block: int = 256
) -> list[list[tuple[int, float]]]:
    """For each row i of a batch in time order, the earlier rows j < i within `window` seconds whose
    cosine is at least `floor`, as (j, cosine).

    The batch is walked in blocks of `block` rows. A block's rows are compared among themselves (a
    block × block product, the `k` nearest earlier rows of the block kept), and against the rows before
    the block that are still inside the time window through a flat FAISS index of just those rows,
    `k` nearest each. Work and memory grow with the batch times the rows one time window holds, not
    with the square of the batch; each row gets at most 2k candidates, among them the k nearest
    earlier rows inside the window.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    found: list[list[tuple[int, float]]] = [[] for _ in range(len(vectors))]
    for start in range(0, len(vectors), block):
        end = min(start + block, len(vectors))
        rows = vectors[start:end]
        within = rows @ rows.T
        first = int(np.searchsorted(seconds, seconds[start] - window, side="left"))
        if first < start:
            pool = faiss.IndexFlatIP(vectors.shape[1])
            pool.add(vectors[first:start])
            scores, neighbours = pool.search(rows, min(k, start - first))
        for offset in range(end - start):
            i = start + offset
            close = np.flatnonzero(within[offset, :offset] >= floor)
            if len(close) > k:  # the k nearest, kept in block order
                close = np.sort(close[np.argpartition(-within[offset, close], k - 1)[:k]])
            picked = [(start + int(j), float(within[offset, j])) for j in close]
            if first < start:
                keep = (neighbours[offset] >= 0) & (scores[offset] >= floor)
                picked = [
                    (first + int(j), float(s))
                    for j, s in zip(neighbours[offset][keep], scores[offset][keep], strict=True)
                ] + picked
            found[i] = [(j, s) for j, s in picked if abs(seconds[i] - seconds[j]) <= window]
    return found


def earlier_similarities(vectors: np.ndarray, k: int, block: int = 256) -> np.ndarray:
    """For each row i of a batch in time order, the cosines of its (at most) `k` nearest earlier rows
    j < i, whatever their time, NaN where there are fewer (len(vectors) × 2k: the block's own rows,
    then the rows before the block): what a search of an index holding those rows would return, so a
    batch sees each item's neighbourhood as its items fed one at a time would. Blocks of `block` rows
    are compared among themselves and against a flat FAISS index of the rows before them."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    found = np.full((len(vectors), 2 * k), np.nan, dtype=np.float32)
    pool = faiss.IndexFlatIP(vectors.shape[1])
    for start in range(0, len(vectors), block):
        rows = vectors[start : start + block]
        within = np.tril(rows @ rows.T, -1) + np.triu(np.full((len(rows), len(rows)), -np.inf), 0)
        taken = min(k, len(rows))
        nearest = -np.partition(-within, taken - 1, axis=1)[:, :taken]
        found[start : start + len(rows), :taken] = np.where(np.isfinite(nearest), nearest, np.nan)
        if start:
            scores, ids = pool.search(rows, min(k, start))
            found[start : start + len(rows), k : k + scores.shape[1]] = np.where(ids >= 0, scores, np.nan)
        pool.add(rows)
    return found


def open_index(
    directory: Path, store: Store, model: str, dim: int, config: IndexConfig | None = None
) -> tuple[VectorIndex, Repair]:
    """Load the saved index and bring it in step with the store's vectors for `model`.

    A missing or unusable index is rebuilt here, before returning (nothing could be answered without
    it); a usable one whose structure no longer fits its size starts rebuilding in the background.
    """
    source = StoreVectors(store, model, dim)
    stored = store.vector_ids(model)
    index = VectorIndex.load(directory, dim, model, config, source)
    if index is None:
        index = VectorIndex.build(dim, model, source, stored, config)
        index._home = directory
        reason = "missing, unreadable or built for another model" if len(stored) else ""
        return index, Repair(rebuilt=True, added=len(stored), reason=reason)
    added, removed = _catch_up(index, stored, source)
    index.rebuild_if_due()
    reason = "out of step with the store" if added or removed else ""
    return index, Repair(added=added, removed=removed, reason=reason)


def follow_store(index: VectorIndex, store: Store) -> None:
    """Keep `index` in step with what other processes commit to `store` (a CLI `bot fetch` beside a
    running bot adds items; its housekeeping may prune them): before each search, if SQLite's change
    counter moved, add the vectors the index lacks and drop those the store no longer has. `store`
    must be usable on the threads that search (the pipeline's store, under its lock).
    """
    store.changed_elsewhere()  # the baseline: open_index has just brought the two in step

    def catch_up() -> None:
        if store.changed_elsewhere():
            added, removed = _catch_up(
                index, store.vector_ids(index.model), StoreVectors(store, index.model, index.dim)
            )
            log.info("index caught up with the store: added %d, removed %d vectors", added, removed)

    index._follow = catch_up


def _catch_up(index: VectorIndex, stored: np.ndarray, source: VectorSource) -> tuple[int, int]:
    """Make the index hold exactly `stored`: (vectors added, vectors removed)."""
    indexed = index.ids()
    extra = np.setdiff1d(indexed, stored, assume_unique=True)
    missing = np.setdiff1d(stored, indexed, assume_unique=True)
    index.remove(extra)
    for ids, vectors in _fetched(source, missing):
        index.add(ids, vectors)
    return len(missing), len(extra)


def _empty_flat(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def _build(layout: Layout, dim: int, source: VectorSource, ids: np.ndarray) -> faiss.Index:
    """A new structure holding the vectors of `ids`: one pass over `source`, two when IVF must train first."""
    if layout.structure == FLAT:
        index = _empty_flat(dim)
    else:
        index = faiss.IndexIVFScalarQuantizer(  # keeps a reference to its quantizer
            faiss.IndexFlatIP(dim),
            dim,
            layout.lists,
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
            False,  # codes of the vectors, not of residuals: same recall here, and no 300 MB of residuals to train
        )
        index.train(_training_sample(source, ids, dim, layout.lists * TRAIN_PER_LIST))
        _fill_presized(index, source, ids)
        return index
    for chunk_ids, vectors in _chunks_of(source, ids):
        index.add_with_ids(vectors, chunk_ids)
    return index


def _fill_presized(index: faiss.IndexIVFScalarQuantizer, source: VectorSource, ids: np.ndarray) -> None:
    """Add the vectors of `ids` to a trained, empty IVF with every inverted list allocated once, at its size.

    `add_with_ids` chunk by chunk grows each list's arrays by doubling, which leaves on average about
    a third of the codes' size as slack (some 250 MB at a million vectors). One pass assigns every
    vector its list (8 bytes a vector kept), the lists are sized exactly, and a second pass writes
    each chunk's codes in place. A vector gone from the source between the passes leaves its slot
    unused; the list is cut to what was written.
    """
    assigned_ids, assigned_lists = [], []
    for chunk_ids, vectors in _chunks_of(source, ids):
        _, nearest = index.quantizer.search(vectors, 1)
        assigned_ids.append(chunk_ids)
        assigned_lists.append(nearest.ravel())
    if not assigned_ids:
        return
    every_id = np.concatenate(assigned_ids)
    order = np.argsort(every_id)
    sorted_ids, list_of = every_id[order], np.concatenate(assigned_lists)[order]
    del assigned_ids, assigned_lists
    sizes = np.bincount(list_of, minlength=index.nlist)
    if index.invlists is None:
        raise TypeError("an IVF index without inverted lists")
    lists = faiss.downcast_InvertedLists(index.invlists)  # an ArrayInvertedLists: sized and written in place
    for number in np.flatnonzero(sizes):
        lists.resize(int(number), int(sizes[number]))
    filled = np.zeros(index.nlist, dtype=np.int64)
    for chunk_ids, vectors in _chunks_of(source, ids):
        at = np.minimum(np.searchsorted(sorted_ids, chunk_ids), len(sorted_ids) - 1)
        known = sorted_ids[at] == chunk_ids
        chunk_ids, chunk_lists = chunk_ids[known], list_of[at[known]]
        # held in names while faiss reads them: a pointer does not keep a temporary array alive
        chunk_vectors = np.ascontiguousarray(vectors[known], dtype=np.float32)
        chunk_lists = np.ascontiguousarray(chunk_lists, dtype=np.int64)
        codes = np.empty((len(chunk_ids), index.code_size), dtype=np.uint8)
        index.encode_vectors(  # what `add_with_ids` stores for these vectors in these lists
            len(chunk_ids), faiss.swig_ptr(chunk_vectors), faiss.swig_ptr(chunk_lists), faiss.swig_ptr(codes)
        )
        by_list = np.argsort(chunk_lists, kind="stable")
        numbers, starts = np.unique(chunk_lists[by_list], return_index=True)
        for number, start, end in zip(numbers, starts, [*starts[1:], len(by_list)], strict=True):
            rows = by_list[start:end]
            list_ids, list_codes = np.ascontiguousarray(chunk_ids[rows]), np.ascontiguousarray(codes[rows])
            lists.update_entries(
                int(number), int(filled[number]), len(rows), faiss.swig_ptr(list_ids), faiss.swig_ptr(list_codes)
            )
            filled[number] += len(rows)
    for number in np.flatnonzero(filled < sizes):
        lists.resize(int(number), int(filled[number]))
    index.ntotal = int(filled.sum())


def _chunks_of(source: VectorSource, ids: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`source`'s chunks cut down to `ids`: the snapshot a rebuild was started from."""
    if not len(ids):
        return
    ordered = np.sort(ids)
    for chunk_ids, vectors in source.chunks():
        at = np.minimum(np.searchsorted(ordered, chunk_ids), len(ordered) - 1)
        wanted = ordered[at] == chunk_ids  # membership by binary search: np.isin would re-sort `ids` every chunk
        if wanted.any():
            yield np.ascontiguousarray(chunk_ids[wanted]), np.ascontiguousarray(vectors[wanted], dtype=np.float32)


def _training_sample(source: VectorSource, ids: np.ndarray, dim: int, size: int) -> np.ndarray:
    """Every k-th vector, so the sample spans the whole archive (ids grow with time) in one streaming pass.

    Filled in place: gathering pieces and concatenating them would hold the sample twice (300 MB at 1M).
    """
    stride = max(1, len(ids) // size)
    sample = np.empty((-(-len(ids) // stride), dim), dtype=np.float32)
    seen = taken = 0
    for _, vectors in _chunks_of(source, ids):
        picked = vectors[(np.arange(seen, seen + len(vectors)) % stride) == 0]
        sample[taken : taken + len(picked)] = picked
        seen, taken = seen + len(vectors), taken + len(picked)
    return sample[:taken]


def _replay(index: faiss.Index, source: VectorSource, journal: list[tuple[np.ndarray, bool]], start: int) -> int:
    """Apply journal entries from `start` on to `index`; returns where it stopped.

    Each id ends as its last change left it: removed, or (re)added with the vector the source holds now.
    """
    end = len(journal)  # the serving side may append meanwhile: those are caught under the lock
    if end > start:
        ids, added = _net_changes(journal[start:end])
        _remove(index, ids)
        for found, vectors in _fetched(source, ids[added]):
            index.add_with_ids(vectors, found)
    return end


def _journaled(entries: list[tuple[np.ndarray, bool]]) -> int:
    """How many vector changes the entries record: what the new structure took on after its snapshot."""
    return sum(len(ids) for ids, _ in entries)


def _net_changes(entries: list[tuple[np.ndarray, bool]]) -> tuple[np.ndarray, np.ndarray]:
    """Every id the entries touch, once, and whether its last change added it."""
    ids = np.concatenate([ids for ids, _ in entries])
    added = np.concatenate([np.full(len(ids), was_added) for ids, was_added in entries])
    unique, last = np.unique(ids[::-1], return_index=True)
    return unique, added[::-1][last]


def _fetched(source: VectorSource, ids: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The vectors of `ids`, READ_CHUNK at a time (a bulk load during a rebuild may journal many)."""
    for start in range(0, len(ids), READ_CHUNK):
        found, vectors = source.fetch(ids[start : start + READ_CHUNK])
        if len(found):
            yield np.ascontiguousarray(found, dtype=np.int64), np.ascontiguousarray(vectors, dtype=np.float32)


def _remove(index: faiss.Index, ids: np.ndarray) -> int:
    return int(index.remove_ids(faiss.IDSelectorBatch(ids)))


def _indexed_ids(index: faiss.Index) -> np.ndarray:
    if isinstance(index, faiss.IndexIDMap2):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    lists = index.invlists if isinstance(index, faiss.IndexIVF) else None
    if lists is None:
        raise TypeError(f"not an index this module builds: {type(index).__name__}")
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
        for number in range(lists.nlist)
        if lists.list_size(number)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)


def _matches(index: faiss.Index, layout: Layout, dim: int) -> bool:
    """Is the loaded index the structure the sidecar names (a swapped or foreign file is not trusted)?"""
    if index.d != dim:
        return False
    if layout.structure == FLAT:
        return isinstance(index, faiss.IndexIDMap2)
    return (
        layout.structure == IVF_SQ8 and isinstance(index, faiss.IndexIVFScalarQuantizer) and index.nlist == layout.lists
    )


def _write_index_atomic(index: faiss.Index, path: Path) -> int:
    """Write straight to disk (serializing to bytes first would double a 512 MB index in memory); returns its CRC."""
    temporary = path.with_name(path.name + ".tmp")
    faiss.write_index(index, str(temporary))
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    crc = _file_crc32(temporary)
    os.replace(temporary, path)
    return crc


def _file_crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(_CRC_BLOCK):
            crc = zlib.crc32(block, crc)
    return crc


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


# -- nearest neighbours among vectors held in memory (topic clustering) -------------------------------


def nearest_neighbours(
    base: np.ndarray,
    queries: np.ndarray,
    k: int,
    *,
    exact_below: int | None = None,
    probes: int = 16,
    train_per_list: int = 40,
) -> tuple[np.ndarray, np.ndarray]:
    """(cosines, row numbers in `base`), len(queries) × k, for unit vectors; -1 where fewer were found.

    Exact while `base` has fewer than `exact_below` rows (always, when None); above, an IVF index
    trained on a fixed-seed sample (so the same input gives the same neighbours) with `probes` lists.
    Here because FAISS is imported by this module only.
    """
    n, dim = base.shape
    index: faiss.Index
    if exact_below is None or n < exact_below:
        index = faiss.IndexFlatIP(dim)
    else:
        lists = int(2 * math.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(n, size=min(n, lists * train_per_list), replace=False)
        index.train(base[np.sort(sample)])
        index.nprobe = probes
    index.add(base)
    return index.search(queries, k)
