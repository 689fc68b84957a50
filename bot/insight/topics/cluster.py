"""The numeric core: topics among unit vectors, with numpy and FAISS only (no UMAP, no HDBSCAN).

Kept apart from labels and state because it knows nothing of stories or headlines: a matrix in,
groups of rows out.

**Clustering** (per primary theme, over the stories first published in the window; a story is the
mean of its items' multilingual vectors, so an English and a Chinese report of one event are one
point): a k-nearest-neighbour graph from FAISS (exact below `EXACT_BELOW` stories, an IVF index
above, so 100k stories cost seconds, not the hours of a dense n² matrix), keeping only *mutual*
neighbours above a cosine `LINK` (a hub close to everything is nobody's mutual neighbour, which is
what stops single linkage from chaining topics together), connected components by vectorised
union-find, then a few centroid steps: each story moves to the nearest centroid among its own and
its neighbours' topics if it is within `JOIN` of it, or becomes noise. That is density clustering
in spirit (a topic is a dense, mutually reachable region; loose stories are noise) at O(n·k)
after the graph. Topics of fewer than `MIN_TOPIC` stories are noise, not topics.

**Threads**: FAISS and BLAS run on one thread here (and in the daily path's searches). On the 2-core
target, shared with the fetcher and the embedder, two threads spinning against each other lost: the
daily path's small searches ran 3× faster on one, and the full recompute at 100k stories took
16–17 s instead of 19–20 s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from bot.insight.topics.model import (
    EXACT_BELOW,
    IVF_PROBES,
    IVF_TRAIN_PER_LIST,
    JOIN,
    LINK,
    MIN_TOPIC,
    NEIGHBOURS,
    PAIR_CHUNK,
    REFINE_STEPS,
    Cluster,
)
from bot.storage.index import nearest_neighbours


def cluster_vectors(matrix: np.ndarray) -> list[Cluster]:
    """Topics among unit rows: mutual-neighbour components refined by centroid steps (module docstring)."""
    n = len(matrix)
    if n < MIN_TOPIC:
        return []
    with threadpool_limits(1):
        neighbours, similarity = _neighbour_graph(matrix)
        first, second = _mutual_edges(neighbours, similarity)
        labels = _components(n, first, second)
        for _ in range(REFINE_STEPS):
            labels = _nearest_topic(matrix, labels, neighbours)
        return _groups(matrix, labels)


def _story_matrix(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """One unit row per story: the mean of its items' vectors."""
    if not vectors:
        return np.zeros((0, 0), dtype=np.float32)
    rows = np.stack([_mean_row(np.asarray(v, dtype=np.float32)) for v in vectors])
    return _unit(rows)


def _mean_row(vector: np.ndarray) -> np.ndarray:
    if vector.ndim == 1:
        return vector
    return vector[0] if len(vector) == 1 else vector.mean(axis=0)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(rows / norms, dtype=np.float32)


def _neighbour_graph(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(neighbours, cosines), n × k, self excluded; -1 where an approximate search found fewer."""
    n = len(matrix)
    similarity, neighbours = nearest_neighbours(
        matrix,
        matrix,
        min(NEIGHBOURS + 1, n),
        exact_below=EXACT_BELOW + 1,
        probes=IVF_PROBES,
        train_per_list=IVF_TRAIN_PER_LIST,
    )
    itself = neighbours == np.arange(n)[:, None]
    neighbours[itself] = -1
    return neighbours, similarity


def _mutual_edges(neighbours: np.ndarray, similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) that are each other's neighbours with cosine ≥ LINK."""
    n, k = neighbours.shape
    source = np.repeat(np.arange(n, dtype=np.int64), k)
    target = neighbours.ravel().astype(np.int64)
    keep = (target >= 0) & (similarity.ravel() >= LINK)
    source, target = source[keep], target[keep]
    forward = source * n + target
    mutual = np.isin(target * n + source, forward)
    return source[mutual], target[mutual]


def _components(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Component labels (the smallest member row): hook each root onto the smaller, jump pointers, repeat."""
    parent = np.arange(n, dtype=np.int64)
    while True:
        root_a, root_b = parent[first], parent[second]
        differ = root_a != root_b
        if not differ.any():
            return parent
        low, high = np.minimum(root_a[differ], root_b[differ]), np.maximum(root_a[differ], root_b[differ])
        np.minimum.at(parent, high, low)
        parent = _flatten(parent)


def _flatten(parent: np.ndarray) -> np.ndarray:
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def _nearest_topic(matrix: np.ndarray, labels: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """One centroid step: each story to the closest centroid among its own and its neighbours' topics, within JOIN.

    Looking only at the neighbours' topics keeps the step O(n·k) instead of O(n·topics).
    """
    labels = _dense_labels(labels)
    if labels.max(initial=-1) < 0:
        return labels
    centroids = _unit(_sums(matrix, labels))
    neighbour_labels = np.where(neighbours >= 0, labels[np.maximum(neighbours, 0)], -1)
    candidates = np.concatenate([labels[:, None], neighbour_labels], axis=1)
    rows, columns = np.nonzero(candidates >= 0)
    pairs = np.unique(rows * len(centroids) + candidates[rows, columns])  # each (story, topic) once
    rows, topics = np.divmod(pairs, len(centroids))
    cosine = _pair_cosines(matrix, centroids, rows, topics)
    best = np.full(len(matrix), -np.inf, dtype=np.float32)
    np.maximum.at(best, rows, cosine)
    winners = (cosine == best[rows]) & (cosine >= JOIN)
    assigned = np.full(len(matrix), -1, dtype=np.int64)
    assigned[rows[winners]] = topics[winners]
    return assigned


def _dense_labels(labels: np.ndarray) -> np.ndarray:
    """Labels 0..t-1 for groups of at least MIN_TOPIC rows, -1 for the rest."""
    valid = labels >= 0
    values, inverse, counts = np.unique(labels[valid], return_inverse=True, return_counts=True)
    big = counts >= MIN_TOPIC
    renumber = np.where(big, np.cumsum(big) - 1, -1)
    dense = np.full(len(labels), -1, dtype=np.int64)
    dense[valid] = renumber[inverse] if len(values) else -1
    return dense


def _members(labels: np.ndarray) -> list[np.ndarray]:
    """The rows of each dense label 0..t-1, by one sort rather than one scan per topic."""
    order = np.argsort(labels, kind="stable")
    order = order[labels[order] >= 0]
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, cuts) if len(order) else []


def _sums(matrix: np.ndarray, labels: np.ndarray) -> np.ndarray:
    members = _members(labels)
    starts = np.cumsum([0] + [len(rows) for rows in members[:-1]])
    return np.add.reduceat(matrix[np.concatenate(members)], starts, axis=0)


def _pair_cosines(matrix: np.ndarray, centroids: np.ndarray, rows: np.ndarray, topics: np.ndarray) -> np.ndarray:
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), PAIR_CHUNK):
        part = slice(start, start + PAIR_CHUNK)
        out[part] = np.einsum("ij,ij->i", matrix[rows[part]], centroids[topics[part]])
    return out


def _groups(matrix: np.ndarray, labels: np.ndarray) -> list[Cluster]:
    labels = _dense_labels(labels)
    if labels.max(initial=-1) < 0:
        return []
    centroids = _unit(_sums(matrix, labels))
    groups = []
    for topic, rows in enumerate(_members(labels)):
        cosine = matrix[rows] @ centroids[topic]
        order = np.argsort(-cosine, kind="stable")
        groups.append(Cluster(rows[order], centroids[topic], float(cosine.mean())))
    return groups
