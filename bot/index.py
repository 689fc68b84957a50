"""FAISS index of item vectors, keyed by item id; `faiss` is imported only here.

The index is derived data: SQLite holds every vector, so the index can always be rebuilt.
It is saved atomically (temp file + rename) beside a small JSON file naming the model and
dimension, with a checksum of the index bytes; on open, anything that does not match the store —
a missing, truncated or rotten file, another model, ids the store lacks or has beyond the index
(a crash between commit and save) — is repaired from the store rather than trusted.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from bot.store import Store

log = logging.getLogger(__name__)

INDEX_FILE = "items.faiss"
META_FILE = "items.json"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class Repair:
    """What opening the index had to do to bring it in step with the store."""

    rebuilt: bool = False
    added: int = 0
    removed: int = 0
    reason: str = ""


class VectorIndex:
    """Exact inner-product search over unit vectors (= cosine), ids are item ids."""

    def __init__(self, dim: int, model: str) -> None:
        self.dim = dim
        self.model = model
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        selector = faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))
        return int(self._index.remove_ids(selector))

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.remove(ids)
        self.add(ids, vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each of shape (len(queries), k); missing neighbours have id -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if len(self) == 0:
            empty = np.full((len(queries), k), -1, dtype=np.int64)
            return np.zeros((len(queries), k), dtype=np.float32), empty
        scores, ids = self._index.search(queries, k)
        return scores, ids

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        data = faiss.serialize_index(self._index).tobytes()
        _write_atomic(directory / INDEX_FILE, data)
        meta = {"format": FORMAT, "model": self.model, "dim": self.dim, "count": len(self), "crc32": zlib.crc32(data)}
        _write_atomic(directory / META_FILE, json.dumps(meta).encode())

    @classmethod
    def load(cls, directory: Path, dim: int, model: str) -> VectorIndex | None:
        """The saved index if it exists and was built for this model; None otherwise."""
        try:
            meta = json.loads((directory / META_FILE).read_text())
            if (meta.get("format"), meta.get("model"), meta.get("dim")) != (FORMAT, model, dim):
                return None
            data = np.fromfile(directory / INDEX_FILE, dtype=np.uint8)
            if "crc32" in meta and meta["crc32"] != zlib.crc32(data.data):  # rotten bytes that still parse
                raise ValueError("checksum does not match items.json")
            loaded = faiss.deserialize_index(data)
        except (OSError, ValueError, RuntimeError) as exc:
            log.info("index under %s not usable (%s); rebuilding from the store", directory, exc)
            return None
        index = cls(dim, model)
        if loaded.d != dim:
            return None
        index._index = faiss.IndexIDMap2(loaded) if not isinstance(loaded, faiss.IndexIDMap2) else loaded
        return index


def open_index(directory: Path, store: Store, model: str, dim: int) -> tuple[VectorIndex, Repair]:
    """Load the saved index and bring it in step with the store's vectors for `model`."""
    index = VectorIndex.load(directory, dim, model)
    if index is None:
        index = VectorIndex(dim, model)
        ids, vectors = store.vectors(model, dim)
        index.add(ids, vectors)
        reason = "missing, unreadable or built for another model" if len(ids) else ""
        return index, Repair(rebuilt=True, added=len(ids), reason=reason)
    stored = store.vector_ids(model)
    indexed = index.ids()
    extra = np.setdiff1d(indexed, stored, assume_unique=True)
    missing = np.setdiff1d(stored, indexed, assume_unique=True)
    index.remove(extra)
    if len(missing):
        ids, vectors = store.vectors(model, dim)
        wanted = np.isin(ids, missing)
        index.add(ids[wanted], vectors[wanted])
    reason = "out of step with the store" if len(extra) or len(missing) else ""
    return index, Repair(added=len(missing), removed=len(extra), reason=reason)


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
