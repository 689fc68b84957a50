"""Items: the rows a batch writes, with their identities, sources, vectors, text index and name counts.

Everything one batch changes goes through `write_batch` in one transaction, so a crash leaves
either the whole batch or none of it. The vectors kept here are what lets the FAISS index be
rebuilt without re-embedding; the FTS5 trigram table (`items_fts`) is the lexical half of search;
`name_df` counts how many headlines name each entity, which dedup uses to weigh shared names.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from bot.core.models import Item
from bot.storage.connection import Connection
from bot.storage.records import BatchIds, ItemVersion, Labels, NewItem, Sighting
from bot.storage.schema import iso, item_row, row_item
from bot.storage.stories import create_story, refresh_story


class ItemsPart(Connection):
    """The store's items, their vectors, their full-text index and the headline name counts."""

    def lookup_keys(self, keys: Iterable[str]) -> dict[str, int]:
        """Which of these identities already belong to a stored item."""
        rows = self._select_in("SELECT key, item_id FROM item_keys WHERE key IN ({marks})", list(dict.fromkeys(keys)))
        return {row[0]: row[1] for row in rows}

    def item_versions(self, item_ids: Iterable[int]) -> dict[int, ItemVersion]:
        """Whose text each item holds and which version: what decides an update."""
        rows = self._select_in(
            "SELECT id, source, url, content_hash, arxiv_id, arxiv_version FROM items WHERE id IN ({marks})",
            list(set(item_ids)),
        )
        return {row[0]: ItemVersion(*row[1:]) for row in rows}

    def claimed_titles(self, item_id: int) -> dict[str, str]:
        """What each source that carried the item titled it (its latest wording), the owner's among them."""
        rows = self._db.execute("SELECT source, title FROM item_claims WHERE item_id=? ORDER BY source", (item_id,))
        return {row[0]: row[1] for row in rows}

    def write_batch(
        self,
        new: Sequence[NewItem],
        seen: Sequence[Sighting],
        model: str,
        story_labels: Mapping[int, Labels] | None = None,
        names: Sequence[frozenset[str]] = (),
    ) -> BatchIds:
        """Everything one batch changes, in one transaction: items, sightings, stories, name counts."""
        ids: list[int] = []
        stories: dict[int, int] = {}
        touched: set[int] = set()
        with self.transaction() as db:
            for entry in new:
                story_id = entry.story if entry.story > 0 else stories.get(entry.story, 0)
                if not story_id:
                    story_id = stories[entry.story] = create_story(db, entry.item)
                item_id = self._insert_item(db, entry.item, story_id, entry.labels)
                self._add_vector(db, item_id, entry.vector, model)
                ids.append(item_id)
                touched.add(story_id)
            for sighting in seen:
                item_id = sighting.item_id or ids[sighting.new_ref]
                if self._record_sighting(db, item_id, sighting, model):  # a listing seen again changes nothing
                    touched.add(db.execute("SELECT story_id FROM items WHERE id=?", (item_id,)).fetchone()[0])
            labels = {stories.get(key, key): value for key, value in (story_labels or {}).items()}
            for story_id in touched - {None}:
                refresh_story(db, story_id, labels.get(story_id))
            self._count_names(db, names)
        return BatchIds(ids, stories)

    @staticmethod
    def _count_names(db: sqlite3.Connection, names: Sequence[frozenset[str]]) -> None:
        counts: dict[str, int] = {}
        for document in names:
            for name in document:
                counts[name] = counts.get(name, 0) + 1
        db.executemany(
            "INSERT INTO name_df (name, df) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET df = df + excluded.df",
            counts.items(),
        )

    def name_counts(self) -> tuple[dict[str, int], int]:
        """Document frequency of headline names, and the number of documents counted."""
        counts = {row[0]: row[1] for row in self._db.execute("SELECT name, df FROM name_df")}
        return counts, self.count_items()

    def dedup_rows(self, item_ids: Iterable[int]) -> list[sqlite3.Row]:
        """What dedup needs of stored candidates: id, story, time, title, lead of the text."""
        return list(
            self._select_in(
                "SELECT id, story_id, published, source, title, substr(text, 1, 300) AS lead FROM items"
                " WHERE story_id IS NOT NULL AND id IN ({marks})",
                list(set(item_ids)),
            )
        )

    def _insert_item(self, db: sqlite3.Connection, item: Item, story_id: int, labels: Labels) -> int:
        cursor = db.execute(
            "INSERT INTO items (source, guid, url, title, text, lang, published, published_estimated,"
            " fetched_at, content_hash, arxiv_id, arxiv_version, authors, tags, story_id, themes, moves)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                *item_row(item),
                story_id,
                json.dumps(labels.themes, ensure_ascii=False),
                json.dumps(labels.moves, ensure_ascii=False),
            ),
        )
        item_id = int(cursor.lastrowid or 0)
        # no OR IGNORE here: an identity another writer stored since our plan aborts the batch (nothing twice)
        db.executemany(
            "INSERT INTO item_keys (key, item_id) VALUES (?, ?)", [(key, item_id) for key in item.identities()]
        )
        self._add_sighting(db, item_id, item)
        db.execute("INSERT INTO items_fts (rowid, title, text) VALUES (?, ?, ?)", (item_id, item.title, item.text))
        return item_id

    def _record_sighting(self, db: sqlite3.Connection, item_id: int, sighting: Sighting, model: str) -> bool:
        """Record another outlet or a new wording of a stored item; whether its story changed."""
        item = sighting.item
        new_outlet = self._add_identities(db, item_id, item)
        if sighting.vector is None:
            return new_outlet
        # the owner taking its item back from a feed that carried the link first brings its own date
        db.execute(
            "UPDATE items SET published = CASE WHEN source = ? THEN published ELSE ? END, source=?, guid=?, url=?,"
            " title=?, text=?, lang=?, content_hash=?, arxiv_version=?, authors=?, tags=? WHERE id=?",
            (
                item.source,
                iso(item.published),
                item.source,
                item.guid,
                item.url,
                item.title,
                item.text,
                item.lang,
                item.content_hash,
                item.arxiv_version,
                json.dumps(list(item.authors), ensure_ascii=False),
                json.dumps(list(item.tags), ensure_ascii=False),
                item_id,
            ),
        )
        db.execute("UPDATE items_fts SET title=?, text=? WHERE rowid=?", (item.title, item.text, item_id))
        if sighting.labels is not None:
            db.execute(
                "UPDATE items SET themes=?, moves=? WHERE id=?",
                (
                    json.dumps(sighting.labels.themes, ensure_ascii=False),
                    json.dumps(sighting.labels.moves, ensure_ascii=False),
                    item_id,
                ),
            )
        self._add_vector(db, item_id, sighting.vector, model)
        return True

    @classmethod
    def _add_identities(cls, db: sqlite3.Connection, item_id: int, item: Item) -> bool:
        """Tie the item's identities (URL, GUID, arXiv id) and this source's sighting of it, with its title, to
        `item_id`; whether this source is new for the item."""
        db.executemany(
            "INSERT OR IGNORE INTO item_keys (key, item_id) VALUES (?, ?)",
            [(key, item_id) for key in item.identities()],
        )
        return cls._add_sighting(db, item_id, item)

    @staticmethod
    def _add_sighting(db: sqlite3.Connection, item_id: int, item: Item) -> bool:
        """Record this source's title for the item and that it carried it; whether this source is new for it."""
        db.execute(
            "INSERT INTO item_claims (item_id, source, title) VALUES (?, ?, ?)"
            " ON CONFLICT(item_id, source) DO UPDATE SET title = excluded.title",
            (item_id, item.source, item.title),
        )
        cursor = db.execute(
            "INSERT OR IGNORE INTO item_sources (item_id, source, url, first_seen) VALUES (?,?,?,?)",
            (item_id, item.source, item.url, iso(item.fetched_at)),
        )
        return cursor.rowcount > 0

    @staticmethod
    def _add_vector(db: sqlite3.Connection, item_id: int, vector: np.ndarray, model: str) -> None:
        """Store the item's vector, replacing one it had. An upsert, not INSERT OR REPLACE, whose delete path
        made the vector the dearest row of a batch: 1,010 new items were written in 0.70-0.81 s with it,
        0.43-0.48 s with the upsert (same run, loaded machine)."""
        db.execute(
            "INSERT INTO vectors (item_id, model, vector) VALUES (?, ?, ?)"
            " ON CONFLICT(item_id) DO UPDATE SET model = excluded.model, vector = excluded.vector",
            (item_id, model, np.asarray(vector, dtype=np.float32).tobytes()),
        )

    def put_vectors(self, item_ids: Sequence[int], vectors: np.ndarray, model: str) -> None:
        with self.transaction() as db:
            for item_id, vector in zip(item_ids, vectors, strict=True):
                self._add_vector(db, item_id, vector, model)

    def get_items(self, item_ids: Sequence[int]) -> list[Item]:
        ids = list(item_ids)
        by_id = {row["id"]: row_item(row) for row in self._select_in("SELECT * FROM items WHERE id IN ({marks})", ids)}
        return [by_id[i] for i in ids if i in by_id]

    def item_bodies(self, item_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """(title, text) of these items: what tells a headline alone from an item with a body, with none of
        the other columns decoded."""
        rows = self._select_in("SELECT id, title, text FROM items WHERE id IN ({marks})", list(set(item_ids)))
        return {row[0]: (row[1], row[2]) for row in rows}

    def item_sources(self, item_id: int) -> list[tuple[str, str]]:
        """(source, url) of everyone that carried the item: the source whose text it holds first."""
        rows = self._db.execute(
            "SELECT s.source, s.url FROM item_sources s JOIN items i ON i.id = s.item_id WHERE s.item_id=?"
            " ORDER BY s.source != i.source, s.first_seen, s.source",
            (item_id,),
        )
        return [(row[0], row[1]) for row in rows]

    def count_items(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM items").fetchone()[0])

    def counts_by_source_lang(self) -> list[tuple[str, str, int]]:
        rows = self._db.execute(
            "SELECT s.source, i.lang, count(*) FROM item_sources s JOIN items i ON i.id = s.item_id"
            " GROUP BY s.source, i.lang ORDER BY s.source, i.lang"
        )
        return [(row[0], row[1], row[2]) for row in rows]

    def items_without_vector(self, model: str) -> list[Item]:
        rows = self._db.execute(
            "SELECT i.* FROM items i LEFT JOIN vectors v ON v.item_id = i.id AND v.model = ?"
            " WHERE v.item_id IS NULL ORDER BY i.id",
            (model,),
        )
        return [row_item(row) for row in rows]

    def vectors(self, model: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """All stored (ids, vectors) for one model: what the FAISS index is rebuilt from."""
        rows = self._db.execute("SELECT item_id, vector FROM vectors WHERE model=? ORDER BY item_id", (model,))
        ids: list[int] = []
        blobs: list[bytes] = []
        for item_id, blob in rows:
            if len(blob) == dim * 4:
                ids.append(item_id)
                blobs.append(blob)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), dim)
        return np.asarray(ids, dtype=np.int64), matrix

    def vector_ids(self, model: str) -> np.ndarray:
        rows = self._db.execute("SELECT item_id FROM vectors WHERE model=?", (model,))
        return np.fromiter((row[0] for row in rows), dtype=np.int64)

    def search_text(self, query: str, limit: int = 20) -> list[int]:
        """Item ids matching a phrase (FTS5 trigram: substrings of 3+ characters, any script), those
        with it in the title first (BM25 with the title weighted 3:1)."""
        phrase = query.strip().replace('"', '""')
        if len(phrase) < 3:
            return []
        rows = self._db.execute(
            "SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY bm25(items_fts, 3.0, 1.0) LIMIT ?",
            (f'"{phrase}"', limit),
        )
        return [row[0] for row in rows]

    def iter_vectors(self, model: str, dim: int, chunk: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """What `vectors` returns, `chunk` rows at a time in id order: an index rebuild of a million
        vectors streams them instead of holding 2 GB of float32. One statement, so one snapshot.
        """
        rows = self._db.execute("SELECT item_id, vector FROM vectors WHERE model=? ORDER BY item_id", (model,))
        while batch := rows.fetchmany(chunk):
            found = self._vector_rows(batch, dim)
            if len(found[0]):
                yield found

    def vectors_of(self, model: str, dim: int, item_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The stored (ids, vectors) of these items, those that have one, in id order.

        What a rebuild uses to catch up on the items added while it ran, and opening the index to add
        the few a crash left out, without scanning every vector.
        """
        rows = self._select_in(
            "SELECT item_id, vector FROM vectors WHERE model=? AND item_id IN ({marks})", list(item_ids), model
        )
        return self._vector_rows(sorted(rows, key=lambda row: row[0]), dim)

    def database_file(self) -> str:
        """The file behind this store ("" in memory): a reader on another thread opens its own `Store` on it,
        since one connection must not serve two threads at once."""
        return str(self._db.execute("PRAGMA database_list").fetchone()[2])

    @staticmethod
    def _vector_rows(rows: Sequence[sqlite3.Row], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 matrix) of (item_id, blob) rows, skipping blobs of another width."""
        kept = [(item_id, blob) for item_id, blob in rows if len(blob) == dim * 4]
        ids = np.fromiter((item_id for item_id, _ in kept), dtype=np.int64, count=len(kept))
        return ids, np.frombuffer(b"".join(blob for _, blob in kept), dtype=np.float32).reshape(len(kept), dim)
