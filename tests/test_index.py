"""The vector index on a real SQLite store and real FAISS files: structure by size, background rebuilds, repair.

A threshold of 500 vectors stands in for the shipped 200,000 so every structure is built in well
under a second. Vectors are clustered (centres plus noise, several near-duplicates per centre), as
news embeddings are: uniform random vectors have no neighbourhoods and would tell us nothing about
an approximate index.
"""

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.core.config import IndexConfig
from bot.core.models import Item
from bot.storage import Labels, NewItem, Store
from bot.storage.index import FLAT, IVF_SQ8, StoreVectors, VectorIndex, list_count, open_index
from bot.storage.layout import INDEX_FILE, INDEX_META_FILE

DIM = 512
MODEL = "test-model"
SMALL = IndexConfig(exact_below=500)
EXACT = IndexConfig(exact_below=10**9)
START = datetime(2024, 1, 1, tzinfo=UTC)


def unit(vectors):
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def clustered(count, draw=0, centres=60):
    """`count` unit vectors around 60 fixed random centres (cosine about 0.8 to their centre); `draw` picks which."""
    middle = unit(np.random.default_rng(0).standard_normal((centres, DIM)))
    rng = np.random.default_rng(draw + 1)
    return unit(middle[rng.integers(0, centres, count)] + 0.035 * rng.standard_normal((count, DIM)))


def near(vectors, seed=1):
    """Held-out queries: each a perturbed copy of one of `vectors`."""
    rng = np.random.default_rng(seed)
    return unit(vectors + 0.03 * rng.standard_normal(vectors.shape))


class ArraySource:
    """A VectorSource over arrays, for tests of the structure alone (what the store's `StoreVectors` does)."""

    def __init__(self, ids, vectors, chunk=300):
        self.ids, self.vectors, self.chunk = ids, vectors, chunk

    def chunks(self):
        return (
            (self.ids[i : i + self.chunk], self.vectors[i : i + self.chunk])
            for i in range(0, len(self.ids), self.chunk)
        )

    def fetch(self, ids):
        held = np.isin(self.ids, ids)
        return self.ids[held], self.vectors[held]


class GatedStore(StoreVectors):
    """The store's vectors, with a rebuild's first pass held after one chunk until the test opens the gate."""

    def __init__(self, store):
        super().__init__(store, MODEL, DIM)
        self.reading, self.gate = threading.Event(), threading.Event()

    def chunks(self):
        chunks = super().chunks()
        first = next(chunks)  # the snapshot's read transaction is open from here on
        self.reading.set()
        assert self.gate.wait(timeout=60)
        yield first
        yield from chunks


def exact_top(vectors, queries, k):
    return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]


def write_items(store, vectors, first=0):
    """Store one item per vector through the real batch write; returns their item ids."""
    new = []
    for number, vector in enumerate(vectors, start=first):
        at = START + timedelta(minutes=number)
        item = Item(
            source="outlet",
            guid=f"g{number}",
            url=f"https://news.example/{number}",
            title=f"headline {number}",
            text=f"body {number}",
            lang="en",
            published=at,
            fetched_at=at,
            content_hash=f"{number:032x}",
        )
        new.append(NewItem(item, vector, story=-(number + 1), labels=Labels()))
    return np.asarray(store.write_batch(new, [], MODEL).items, dtype=np.int64)


@pytest.fixture
def store(tmp_path):
    opened = Store.open(tmp_path / "bot.db")
    yield opened
    opened.close()


def test_list_count_grows_with_the_square_root_and_keeps_lists_trainable():
    assert list_count(1_000_000) == 4096
    assert list_count(200_000) == 2048
    assert list_count(500) == 8  # 4·√500 ≈ 89 lists would get 6 training vectors each


def test_structure_follows_the_size_across_the_threshold(store, tmp_path):
    vectors = clustered(700)
    ids = write_items(store, vectors[:450])
    index, repair = open_index(tmp_path / "index", store, MODEL, DIM, SMALL)
    assert repair.rebuilt and index.structure == FLAT

    more = write_items(store, vectors[450:], first=450)
    index.add(more, vectors[450:])  # crosses 500: the rebuild starts by itself
    assert index.wait_for_rebuild(timeout=60)
    assert index.structure == IVF_SQ8
    assert sorted(index.ids().tolist()) == sorted(store.vector_ids(MODEL).tolist())
    saved = VectorIndex.load(tmp_path / "index", DIM, MODEL, SMALL)  # the rebuild saved itself where it opened
    assert saved is not None and saved.structure == IVF_SQ8 and len(saved) == 700

    index.remove(np.concatenate([ids, more[:100]]))  # 150 left: under half the threshold, back to exact
    assert index.wait_for_rebuild(timeout=60)
    assert index.structure == FLAT
    assert sorted(index.ids().tolist()) == more[100:].tolist()


def test_approximate_search_agrees_with_exact_search_on_clustered_data():
    vectors = clustered(4000)
    ids = np.arange(1, 4001, dtype=np.int64)
    approximate = VectorIndex.build(DIM, MODEL, ArraySource(ids, vectors), ids, IndexConfig(exact_below=500, nprobe=8))
    assert approximate.structure == IVF_SQ8
    queries = near(vectors[::20])
    scores, found = approximate.search(queries, 10)
    truth = ids[exact_top(vectors, queries, 10)]
    recall = np.mean([len(set(row) & set(want)) / 10 for row, want in zip(found, truth, strict=True)])
    assert recall >= 0.95, recall
    exact_scores = np.take_along_axis(queries @ vectors.T, found[:, :1] - 1, axis=1)
    assert np.abs(scores[:, :1] - exact_scores).max() < 0.02  # 8-bit codes keep cosines within a rounding


@pytest.mark.parametrize("config", [EXACT, SMALL], ids=["flat", "ivf-sq8"])
def test_add_remove_upsert(config):
    vectors = clustered(1000)
    ids = np.arange(1, 1001, dtype=np.int64)
    index = VectorIndex.build(DIM, MODEL, ArraySource(ids, vectors), ids, config)
    assert index.structure == (FLAT if config is EXACT else IVF_SQ8)

    fresh = clustered(10, draw=5)
    index.add(np.arange(2001, 2011), fresh)
    _, found = index.search(fresh, 1)
    assert found[:, 0].tolist() == list(range(2001, 2011))

    assert index.remove(np.array([1, 2, 3, 2001])) == 4
    _, found = index.search(np.concatenate([vectors[:3], fresh[:1]]), 5)
    assert not {1, 2, 3, 2001} & set(found.ravel().tolist())

    moved = clustered(1, draw=9)
    index.upsert(np.array([500]), moved)
    scores, found = index.search(moved, 1)
    assert found[0, 0] == 500 and scores[0, 0] > 0.98
    assert 500 not in index.search(vectors[499:500], 1)[1][0, :1]
    assert len(index) == 1006 and sorted(index.ids().tolist()) == [*range(4, 1001), *range(2002, 2011)]


def test_rebuild_in_the_background_does_not_block_search_or_add(store):
    vectors = clustered(800)
    ids = write_items(store, vectors[:600])
    source = GatedStore(store)

    index = VectorIndex(DIM, MODEL, SMALL, source)
    index.add(ids[:450], vectors[:450])
    index.add(ids[450:], vectors[450:600])  # crosses the threshold: a rebuild starts and blocks in its read
    assert source.reading.wait(timeout=10) and index.rebuilding

    try:
        started = time.perf_counter()
        during = write_items(store, vectors[600:], first=600)  # ingest goes on: SQLite and the serving index
        index.add(during, vectors[600:])
        removed = np.concatenate([ids[:40], during[:10]])
        index.remove(removed)
        moved = clustered(1, draw=11)
        store.put_vectors(ids[100:101].tolist(), moved, MODEL)  # new wording: the store first, as the pipeline does
        index.upsert(ids[100:101], moved)
        scores, found = index.search(np.concatenate([vectors[650:651], moved]), 3)
        elapsed = time.perf_counter() - started
        assert index.rebuilding and index.structure == FLAT, "the rebuild finished before the test ingested"
        assert found[:, 0].tolist() == [during[50], ids[100]] and scores[:, 0].min() > 0.99
        assert elapsed < 5
    finally:
        source.gate.set()
    assert index.wait_for_rebuild(timeout=60)
    assert index.structure == IVF_SQ8
    expected = set(ids.tolist()) | set(during.tolist())
    assert set(index.ids().tolist()) == expected - set(removed.tolist()) and len(index) == len(expected) - 50
    _, found = index.search(np.concatenate([moved, vectors[650:651], vectors[:1], vectors[600:601]]), 1)
    assert found[:2, 0].tolist() == [ids[100], during[50]]  # the upsert and an add made during the rebuild
    assert not set(found[2:, 0].tolist()) & set(removed.tolist())  # removals made during it stay removed


def test_approximate_index_survives_save_and_load(tmp_path):
    vectors = clustered(1500)
    ids = np.arange(1, 1501, dtype=np.int64)
    index = VectorIndex.build(DIM, MODEL, ArraySource(ids, vectors), ids, SMALL)
    index.remove(ids[:5])
    index.save(tmp_path)
    meta = json.loads((tmp_path / INDEX_META_FILE).read_text())
    assert (meta["structure"], meta["lists"], meta["count"]) == (IVF_SQ8, list_count(1500), 1495)

    loaded = VectorIndex.load(tmp_path, DIM, MODEL, SMALL)
    assert loaded is not None and loaded.structure == IVF_SQ8
    assert sorted(loaded.ids().tolist()) == ids[5:].tolist()
    queries = near(vectors[::50])
    before, after = index.search(queries, 10), loaded.search(queries, 10)
    assert np.array_equal(before[1], after[1]) and np.allclose(before[0], after[0])


def test_open_index_repairs_the_approximate_structure(store, tmp_path):
    vectors = clustered(900)
    directory = tmp_path / "index"
    write_items(store, vectors[:800])
    index, repair = open_index(directory, store, MODEL, DIM, SMALL)
    assert repair.rebuilt and repair.added == 800 and index.structure == IVF_SQ8
    index.add(np.array([99_999]), vectors[:1])  # an id the store never had
    index.save(directory)
    write_items(store, vectors[800:], first=800)  # committed, never indexed: a crash before the save

    again, repair = open_index(directory, store, MODEL, DIM, SMALL)
    assert (repair.rebuilt, repair.added, repair.removed) == (False, 100, 1)
    assert again.structure == IVF_SQ8
    assert sorted(again.ids().tolist()) == sorted(store.vector_ids(MODEL).tolist())

    again.save(directory)
    intact = (directory / INDEX_FILE).read_bytes()
    middle = len(intact) // 2
    rotten = intact[:middle] + bytes(b ^ 0xFF for b in intact[middle : middle + 64]) + intact[middle + 64 :]
    (directory / INDEX_FILE).write_bytes(rotten)  # same size, still parses: only the checksum can tell
    rebuilt, repair = open_index(directory, store, MODEL, DIM, SMALL)
    assert repair.rebuilt and repair.added == 900 and rebuilt.structure == IVF_SQ8
    assert sorted(rebuilt.ids().tolist()) == sorted(store.vector_ids(MODEL).tolist())


def test_a_sidecar_from_before_structures_loads_as_flat(tmp_path):
    """Indexes saved before this change have no "structure" in items.json: they are flat, not rebuilt."""
    vectors = clustered(50)
    index = VectorIndex(DIM, MODEL)
    index.add(np.arange(1, 51), vectors)
    index.save(tmp_path)
    meta = json.loads((tmp_path / INDEX_META_FILE).read_text())
    old = {key: meta[key] for key in ("format", "model", "dim", "count", "crc32")}
    (tmp_path / INDEX_META_FILE).write_text(json.dumps(old))
    loaded = VectorIndex.load(tmp_path, DIM, MODEL)
    assert loaded is not None and loaded.structure == FLAT and len(loaded) == 50
