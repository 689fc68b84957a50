"""SQLite: the single source of truth for items, their sources, vectors and source state.

`sqlite3` is used only here. The file runs in WAL mode so readers (the bot answering a
question) never wait for the writer (a fetch). Everything one batch changes is written in
one transaction, so a crash leaves either the whole batch or none of it. Vectors are kept
here too, which is what lets the FAISS index be rebuilt at any time without re-embedding.
The schema carries a version (`PRAGMA user_version`) and migrates forward on open.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import StoreError
from bot.models import Follow, Item, SourceState, Subscriber

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        guid TEXT NOT NULL,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        lang TEXT NOT NULL,
        published TEXT NOT NULL,
        published_estimated INTEGER NOT NULL DEFAULT 0,
        fetched_at TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        arxiv_id TEXT NOT NULL DEFAULT '',
        arxiv_version INTEGER NOT NULL DEFAULT 0,
        authors TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX items_published ON items(published);
    CREATE INDEX items_content_hash ON items(content_hash);
    CREATE TABLE item_keys (
        key TEXT PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE TABLE item_sources (
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        url TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        PRIMARY KEY (item_id, source)
    ) WITHOUT ROWID;
    CREATE INDEX item_sources_source ON item_sources(source);
    CREATE TABLE vectors (
        item_id INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE VIRTUAL TABLE items_fts USING fts5(title, text, tokenize='trigram');
    CREATE TABLE source_state (
        name TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        last_attempt TEXT,
        last_success TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        next_due TEXT,
        items_total INTEGER NOT NULL DEFAULT 0,
        final_url TEXT,
        cursor TEXT
    );
    """,
    """
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        first_published TEXT NOT NULL,
        last_published TEXT NOT NULL,
        items INTEGER NOT NULL DEFAULT 0,
        outlets INTEGER NOT NULL DEFAULT 0,
        langs TEXT NOT NULL DEFAULT '',
        title_en TEXT NOT NULL DEFAULT '',
        title_zh TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        primary_theme TEXT NOT NULL DEFAULT '',
        themes TEXT NOT NULL DEFAULT '[]',
        moves TEXT NOT NULL DEFAULT '[]',
        updated_at TEXT NOT NULL
    );
    CREATE INDEX stories_last_published ON stories(last_published);
    ALTER TABLE items ADD COLUMN story_id INTEGER REFERENCES stories(id);
    ALTER TABLE items ADD COLUMN themes TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE items ADD COLUMN moves TEXT NOT NULL DEFAULT '[]';
    CREATE INDEX items_story ON items(story_id);
    CREATE TABLE name_df (name TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
    """,
    """
    CREATE TABLE subscribers (
        chat_id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL DEFAULT 0,
        lang TEXT NOT NULL DEFAULT 'en',
        themes TEXT NOT NULL DEFAULT '[]',
        digest_time TEXT NOT NULL DEFAULT '08:30',
        timezone TEXT NOT NULL DEFAULT 'UTC',
        subscribed INTEGER NOT NULL DEFAULT 0,
        active INTEGER NOT NULL DEFAULT 1,
        last_digest_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        chat_id INTEGER NOT NULL,
        story_id INTEGER NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, story_id)
    ) WITHOUT ROWID;
    CREATE TABLE follows (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        text TEXT NOT NULL,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX stories_updated_at ON stories(updated_at);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True, slots=True)
class Labels:
    """What the pipeline learned about an item or a story beyond its text."""

    themes: dict[str, Any] = field(default_factory=dict)  # {"primary", "labels", "scores"}
    moves: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to insert with its vector, its story and its labels.

    `story` is an existing story id, or a negative placeholder for a story this batch creates
    (items of the batch that share a placeholder share the new story).
    """

    item: Item
    vector: np.ndarray
    story: int = 0
    labels: Labels = Labels()


@dataclass(frozen=True, slots=True)
class Sighting:
    """An item seen again, maybe from another source, maybe changed.

    `item_id` is 0 when the item is new in this same batch: `new_ref` then points at it.
    """

    item_id: int
    item: Item
    new_ref: int = -1
    vector: np.ndarray | None = None  # set when the wording changed: the new text replaces the old
    labels: Labels | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """One item of a story, as story-level labelling needs it."""

    item_id: int
    lang: str
    labels: Labels


@dataclass(frozen=True, slots=True)
class StoryView:
    """An item's story and labels, as evaluation and digests read them."""

    item_id: int
    story_id: int
    item_moves: list[dict[str, str]]
    story_primary_theme: str
    story_themes: list[str]
    story_moves: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class StorySummary:
    """A story's aggregates: what a listing shows."""

    id: int
    items: int
    outlets: int
    langs: tuple[str, ...]
    title: str
    title_en: str
    title_zh: str
    primary_theme: str
    themes: tuple[str, ...]
    first_published: datetime
    last_published: datetime
    moves: tuple[dict[str, str], ...] = ()
    updated_at: datetime | None = None

    def title_in(self, lang: str) -> str:
        return {"en": self.title_en, "zh": self.title_zh}.get(lang) or self.title


@dataclass(frozen=True, slots=True)
class BatchIds:
    items: list[int]
    stories: dict[int, int]  # placeholder → new story id


class Store:
    """One SQLite database file; open with `Store.open(path)`, close with `close()`."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA busy_timeout=10000")
            store = cls(connection)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}") from None
        return store

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {version} is newer than this program ({SCHEMA_VERSION}); upgrade the program"
            )
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in _statements(script):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit: commit on success, roll back on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- items -----------------------------------------------------------------------------

    def lookup_keys(self, keys: Iterable[str]) -> dict[str, int]:
        """Which of these identities already belong to a stored item."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, int] = {}
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, item_id FROM item_keys WHERE key IN ({marks})", chunk)
            found.update({row[0]: row[1] for row in rows})
        return found

    def item_versions(self, item_ids: Iterable[int]) -> dict[int, tuple[str, str, int]]:
        """(source, content_hash, arxiv_version) per item id: what decides an update."""
        ids = list(set(item_ids))
        result: dict[int, tuple[str, str, int]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT id, source, content_hash, arxiv_version FROM items WHERE id IN ({marks})", chunk
            )
            result.update({row[0]: (row[1], row[2], row[3]) for row in rows})
        return result

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
                    story_id = stories[entry.story] = self._create_story(db, entry.item)
                item_id = self._insert_item(db, entry.item, story_id, entry.labels)
                self._add_vector(db, item_id, entry.vector, model)
                ids.append(item_id)
                touched.add(story_id)
            for sighting in seen:
                item_id = sighting.item_id or ids[sighting.new_ref]
                self._record_sighting(db, item_id, sighting, model)
                touched.add(db.execute("SELECT story_id FROM items WHERE id=?", (item_id,)).fetchone()[0])
            labels = {stories.get(key, key): value for key, value in (story_labels or {}).items()}
            for story_id in touched - {None}:
                self._refresh_story(db, story_id, labels.get(story_id))
            self._count_names(db, names)
        return BatchIds(ids, stories)

    @staticmethod
    def _create_story(db: sqlite3.Connection, item: Item) -> int:
        moment = _iso(item.published)
        cursor = db.execute(
            "INSERT INTO stories (first_published, last_published, updated_at) VALUES (?, ?, ?)",
            (moment, moment, _iso(datetime.now(UTC))),
        )
        return int(cursor.lastrowid or 0)

    @staticmethod
    def _refresh_story(db: sqlite3.Connection, story_id: int, labels: Labels | None) -> None:
        """Recompute a story's aggregates from its items (and its labels when given)."""
        first, last, count, langs = db.execute(
            "SELECT min(published), max(published), count(*), group_concat(DISTINCT lang) FROM items WHERE story_id=?",
            (story_id,),
        ).fetchone()
        outlets = db.execute(
            "SELECT count(DISTINCT s.source) FROM item_sources s JOIN items i ON i.id = s.item_id WHERE i.story_id=?",
            (story_id,),
        ).fetchone()[0]
        titles = {
            row[0]: row[1]
            for row in db.execute(
                "SELECT lang, title FROM items WHERE story_id=? ORDER BY published DESC, id DESC", (story_id,)
            )
        }  # the earliest item of each language wins (rows come latest first)
        first_title = db.execute(
            "SELECT title FROM items WHERE story_id=? ORDER BY published, id LIMIT 1", (story_id,)
        ).fetchone()[0]
        db.execute(
            "UPDATE stories SET first_published=?, last_published=?, items=?, outlets=?, langs=?, title_en=?,"
            " title_zh=?, title=?, updated_at=? WHERE id=?",
            (
                first,
                last,
                count,
                outlets,
                ",".join(sorted((langs or "").split(","))),
                titles.get("en", ""),
                titles.get("zh", ""),
                first_title,
                _iso(datetime.now(UTC)),
                story_id,
            ),
        )
        if labels is not None:
            db.execute(
                "UPDATE stories SET primary_theme=?, themes=?, moves=? WHERE id=?",
                (
                    labels.themes.get("primary", ""),
                    json.dumps(labels.themes.get("labels", []), ensure_ascii=False),
                    json.dumps(labels.moves, ensure_ascii=False),
                    story_id,
                ),
            )

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

    def story_members(self, story_ids: Iterable[int]) -> dict[int, list[Member]]:
        ids = list(set(story_ids))
        members: dict[int, list[Member]] = {story_id: [] for story_id in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT id, story_id, lang, themes, moves FROM items WHERE story_id IN ({marks}) ORDER BY id", chunk
            )
            for row in rows:
                labels = Labels(json.loads(row["themes"]), json.loads(row["moves"]))
                members[row["story_id"]].append(Member(row["id"], row["lang"], labels))
        return members

    def item_story_views(self, item_ids: Iterable[int]) -> dict[int, StoryView]:
        ids = list(set(item_ids))
        views: dict[int, StoryView] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT i.id, i.story_id, i.moves, s.primary_theme, s.themes, s.moves AS story_moves"
                f" FROM items i JOIN stories s ON s.id = i.story_id WHERE i.id IN ({marks})",
                chunk,
            )
            for row in rows:
                views[row["id"]] = StoryView(
                    item_id=row["id"],
                    story_id=row["story_id"],
                    item_moves=json.loads(row["moves"]),
                    story_primary_theme=row["primary_theme"],
                    story_themes=json.loads(row["themes"]),
                    story_moves=json.loads(row["story_moves"]),
                )
        return views

    def story_of_items(self, item_ids: Iterable[int]) -> dict[int, int]:
        ids = list(set(item_ids))
        found: dict[int, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT id, story_id FROM items WHERE id IN ({marks})", chunk)
            found.update({row[0]: row[1] for row in rows})
        return found

    def dedup_rows(self, item_ids: Iterable[int]) -> list[sqlite3.Row]:
        """What dedup needs of stored candidates: id, story, time, title, lead of the text."""
        ids = list(set(item_ids))
        rows: list[sqlite3.Row] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows.extend(
                self._db.execute(
                    "SELECT id, story_id, published, source, title, substr(text, 1, 300) AS lead FROM items"
                    f" WHERE story_id IS NOT NULL AND id IN ({marks})",
                    chunk,
                )
            )
        return rows

    def _insert_item(self, db: sqlite3.Connection, item: Item, story_id: int, labels: Labels) -> int:
        cursor = db.execute(
            "INSERT INTO items (source, guid, url, title, text, lang, published, published_estimated,"
            " fetched_at, content_hash, arxiv_id, arxiv_version, authors, tags, story_id, themes, moves)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                *_item_row(item),
                story_id,
                json.dumps(labels.themes, ensure_ascii=False),
                json.dumps(labels.moves, ensure_ascii=False),
            ),
        )
        item_id = int(cursor.lastrowid or 0)
        db.executemany(
            "INSERT OR IGNORE INTO item_keys (key, item_id) VALUES (?, ?)",
            [(key, item_id) for key in item.identities()],
        )
        db.execute(
            "INSERT OR IGNORE INTO item_sources (item_id, source, url, first_seen) VALUES (?,?,?,?)",
            (item_id, item.source, item.url, _iso(item.fetched_at)),
        )
        db.execute("INSERT INTO items_fts (rowid, title, text) VALUES (?, ?, ?)", (item_id, item.title, item.text))
        return item_id

    def _record_sighting(self, db: sqlite3.Connection, item_id: int, sighting: Sighting, model: str) -> None:
        item = sighting.item
        db.executemany(
            "INSERT OR IGNORE INTO item_keys (key, item_id) VALUES (?, ?)",
            [(key, item_id) for key in item.identities()],
        )
        db.execute(
            "INSERT OR IGNORE INTO item_sources (item_id, source, url, first_seen) VALUES (?,?,?,?)",
            (item_id, item.source, item.url, _iso(item.fetched_at)),
        )
        if sighting.vector is None:
            return
        db.execute(
            "UPDATE items SET title=?, text=?, lang=?, content_hash=?, arxiv_version=?, authors=?, tags=? WHERE id=?",
            (
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

    @staticmethod
    def _add_vector(db: sqlite3.Connection, item_id: int, vector: np.ndarray, model: str) -> None:
        db.execute(
            "INSERT OR REPLACE INTO vectors (item_id, model, vector) VALUES (?, ?, ?)",
            (item_id, model, np.asarray(vector, dtype=np.float32).tobytes()),
        )

    def put_vectors(self, item_ids: Sequence[int], vectors: np.ndarray, model: str) -> None:
        with self.transaction() as db:
            for item_id, vector in zip(item_ids, vectors, strict=True):
                self._add_vector(db, item_id, vector, model)

    def get_items(self, item_ids: Sequence[int]) -> list[Item]:
        ids = list(item_ids)
        by_id: dict[int, Item] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT * FROM items WHERE id IN ({marks})", chunk):
                by_id[row["id"]] = _row_item(row)
        return [by_id[i] for i in ids if i in by_id]

    def item_sources(self, item_id: int) -> list[tuple[str, str]]:
        rows = self._db.execute(
            "SELECT source, url FROM item_sources WHERE item_id=? ORDER BY first_seen, source", (item_id,)
        )
        return [(row[0], row[1]) for row in rows]

    def count_items(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM items").fetchone()[0])

    def items_without_vector(self, model: str) -> list[Item]:
        rows = self._db.execute(
            "SELECT i.* FROM items i LEFT JOIN vectors v ON v.item_id = i.id AND v.model = ?"
            " WHERE v.item_id IS NULL ORDER BY i.id",
            (model,),
        )
        return [_row_item(row) for row in rows]

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
        """Item ids matching a phrase (FTS5 trigram: substrings of 3+ characters, any script)."""
        phrase = query.strip().replace('"', '""')
        if len(phrase) < 3:
            return []
        rows = self._db.execute(
            "SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY rank LIMIT ?",
            (f'"{phrase}"', limit),
        )
        return [row[0] for row in rows]

    # -- summaries -------------------------------------------------------------------------

    def counts_by_source_lang(self) -> list[tuple[str, str, int]]:
        rows = self._db.execute(
            "SELECT s.source, i.lang, count(*) FROM item_sources s JOIN items i ON i.id = s.item_id"
            " GROUP BY s.source, i.lang ORDER BY s.source, i.lang"
        )
        return [(row[0], row[1], row[2]) for row in rows]

    def largest_stories(self, limit: int = 5) -> list[StorySummary]:
        """The stories most outlets carried, widest first."""
        rows = self._db.execute(
            "SELECT * FROM stories WHERE items > 1 ORDER BY outlets DESC, items DESC, id LIMIT ?", (limit,)
        )
        return [_row_story(row) for row in rows]

    def story_outlets(self, story_id: int) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT s.source FROM item_sources s JOIN items i ON i.id = s.item_id"
            " WHERE i.story_id=? ORDER BY s.source",
            (story_id,),
        )
        return [row[0] for row in rows]

    def stories(self, story_ids: Iterable[int]) -> dict[int, StorySummary]:
        ids = list(set(story_ids))
        found: dict[int, StorySummary] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                (row["id"], _row_story(row))
                for row in self._db.execute(f"SELECT * FROM stories WHERE id IN ({marks})", chunk)
            )
        return found

    def story_items(self, story_id: int) -> list[Item]:
        rows = self._db.execute("SELECT * FROM items WHERE story_id=? ORDER BY published, id", (story_id,))
        return [_row_item(row) for row in rows]

    def search_terms(self, terms: Sequence[str], limit: int = 50) -> list[int]:
        """Item ids matching any of the terms, best BM25 first (trigram index: terms of 3+ characters)."""
        usable = [term for term in terms if len(term) >= 3]
        if not usable:
            return []
        expression = " OR ".join('"' + term.replace('"', '""') + '"' for term in usable)
        rows = self._db.execute(
            "SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY bm25(items_fts, 3.0, 1.0) LIMIT ?",
            (expression, limit),
        )
        return [row[0] for row in rows]

    def stories_updated_since(self, since: datetime | None, limit: int = 1000) -> list[StorySummary]:
        """Stories created or grown since `since` (by when we stored them, not when they were published)."""
        rows = self._db.execute(
            "SELECT * FROM stories WHERE updated_at > ? ORDER BY updated_at DESC LIMIT ?",
            (_iso(since) or "", limit),
        )
        return [_row_story(row) for row in rows]

    def story_vectors(self, story_ids: Iterable[int], model: str, dim: int) -> dict[int, np.ndarray]:
        """Each story's item vectors (rows), for matching stories against a topic in meaning."""
        ids = list(set(story_ids))
        rows_by_story: dict[int, list[bytes]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT i.story_id, v.vector FROM items i JOIN vectors v ON v.item_id = i.id"
                f" WHERE v.model=? AND i.story_id IN ({marks})",
                [model, *chunk],
            )
            for story_id, blob in rows:
                if len(blob) == dim * 4:
                    rows_by_story.setdefault(story_id, []).append(blob)
        return {
            story_id: np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
            for story_id, blobs in rows_by_story.items()
        }

    def story_links(self, story_id: int) -> list[tuple[str, str]]:
        """(source, url) of every item of a story, earliest first, each once."""
        rows = self._db.execute(
            "SELECT s.source, s.url FROM item_sources s JOIN items i ON i.id = s.item_id"
            " WHERE i.story_id=? ORDER BY i.published, s.first_seen",
            (story_id,),
        )
        return list(dict.fromkeys((row[0], row[1]) for row in rows if row[1]))

    # -- subscribers -----------------------------------------------------------------------

    def subscriber(self, chat_id: int) -> Subscriber | None:
        row = self._db.execute("SELECT * FROM subscribers WHERE chat_id=?", (chat_id,)).fetchone()
        return _row_subscriber(row) if row else None

    def subscribers(self, subscribed_only: bool = True) -> list[Subscriber]:
        where = " WHERE subscribed=1 AND active=1" if subscribed_only else ""
        return [_row_subscriber(row) for row in self._db.execute(f"SELECT * FROM subscribers{where} ORDER BY chat_id")]

    def save_subscriber(self, subscriber: Subscriber) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO subscribers (chat_id, user_id, lang, themes, digest_time, timezone, subscribed,"
            " active, last_digest_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                subscriber.chat_id,
                subscriber.user_id,
                subscriber.lang,
                json.dumps(list(subscriber.themes)),
                subscriber.digest_time,
                subscriber.timezone,
                int(subscriber.subscribed),
                int(subscriber.active),
                _iso(subscriber.last_digest_at),
                _iso(subscriber.created_at or datetime.now(UTC)),
            ),
        )

    def delivered(self, chat_id: int, story_ids: Iterable[int]) -> set[int]:
        """Which of these stories this chat has already been sent."""
        ids = list(set(story_ids))
        found: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT story_id FROM deliveries WHERE chat_id=? AND story_id IN ({marks})", [chat_id, *chunk]
            )
            found.update(row[0] for row in rows)
        return found

    def record_delivery(self, chat_id: int, story_ids: Iterable[int], sent_at: datetime) -> None:
        """Remember what was sent, and when the chat last got a digest, in one transaction."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO deliveries (chat_id, story_id, sent_at) VALUES (?, ?, ?)",
                [(chat_id, story_id, _iso(sent_at)) for story_id in story_ids],
            )
            db.execute("UPDATE subscribers SET last_digest_at=? WHERE chat_id=?", (_iso(sent_at), chat_id))

    def add_follow(self, chat_id: int, text: str, vector: np.ndarray, model: str) -> Follow:
        cursor = self._db.execute(
            "INSERT INTO follows (chat_id, text, model, vector, created_at) VALUES (?,?,?,?,?)",
            (chat_id, text, model, np.asarray(vector, dtype=np.float32).tobytes(), _iso(datetime.now(UTC))),
        )
        return Follow(int(cursor.lastrowid or 0), chat_id, text)

    def follows(self, chat_id: int, model: str, dim: int) -> list[tuple[Follow, np.ndarray]]:
        rows = self._db.execute("SELECT * FROM follows WHERE chat_id=? AND model=? ORDER BY id", (chat_id, model))
        return [
            (Follow(row["id"], row["chat_id"], row["text"]), np.frombuffer(row["vector"], dtype=np.float32))
            for row in rows
            if len(row["vector"]) == dim * 4
        ]

    def remove_follow(self, chat_id: int, follow_id: int) -> bool:
        cursor = self._db.execute("DELETE FROM follows WHERE chat_id=? AND id=?", (chat_id, follow_id))
        return cursor.rowcount > 0

    def count_stories(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM stories").fetchone()[0])

    # -- source state ----------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        row = self._db.execute("SELECT * FROM source_state WHERE name=?", (name,)).fetchone()
        return _row_state(row) if row else SourceState(name=name)

    def source_states(self) -> dict[str, SourceState]:
        return {row["name"]: _row_state(row) for row in self._db.execute("SELECT * FROM source_state")}

    def save_source_state(self, state: SourceState) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO source_state (name, etag, last_modified, last_attempt, last_success,"
            " consecutive_errors, last_error, next_due, items_total, final_url, cursor)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                state.name,
                state.etag,
                state.last_modified,
                _iso(state.last_attempt),
                _iso(state.last_success),
                state.consecutive_errors,
                state.last_error,
                _iso(state.next_due),
                state.items_total,
                state.final_url,
                _iso(state.cursor),
            ),
        )

    def count_source_items(self, source: str) -> int:
        row = self._db.execute("SELECT count(*) FROM item_sources WHERE source=?", (source,)).fetchone()
        return int(row[0])

    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _item_row(item: Item) -> tuple[object, ...]:
    return (
        item.source,
        item.guid,
        item.url,
        item.title,
        item.text,
        item.lang,
        _iso(item.published),
        int(item.published_estimated),
        _iso(item.fetched_at),
        item.content_hash,
        item.arxiv_id,
        item.arxiv_version,
        json.dumps(list(item.authors), ensure_ascii=False),
        json.dumps(list(item.tags), ensure_ascii=False),
    )


def _row_item(row: sqlite3.Row) -> Item:
    return Item(
        id=row["id"],
        source=row["source"],
        guid=row["guid"],
        url=row["url"],
        title=row["title"],
        text=row["text"],
        lang=row["lang"],
        published=datetime.fromisoformat(row["published"]),
        published_estimated=bool(row["published_estimated"]),
        fetched_at=datetime.fromisoformat(row["fetched_at"]),
        content_hash=row["content_hash"],
        arxiv_id=row["arxiv_id"],
        arxiv_version=row["arxiv_version"],
        authors=tuple(json.loads(row["authors"])),
        tags=tuple(json.loads(row["tags"])),
    )


def _row_story(row: sqlite3.Row) -> StorySummary:
    return StorySummary(
        id=row["id"],
        items=row["items"],
        outlets=row["outlets"],
        langs=tuple(filter(None, row["langs"].split(","))),
        title=row["title"],
        title_en=row["title_en"],
        title_zh=row["title_zh"],
        primary_theme=row["primary_theme"],
        themes=tuple(json.loads(row["themes"])),
        first_published=datetime.fromisoformat(row["first_published"]),
        last_published=datetime.fromisoformat(row["last_published"]),
        moves=tuple(json.loads(row["moves"])),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def _row_subscriber(row: sqlite3.Row) -> Subscriber:
    return Subscriber(
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        lang=row["lang"],
        themes=tuple(json.loads(row["themes"])),
        digest_time=row["digest_time"],
        timezone=row["timezone"],
        subscribed=bool(row["subscribed"]),
        active=bool(row["active"]),
        last_digest_at=_parse(row["last_digest_at"]),
        created_at=_parse(row["created_at"]),
    )


def _row_state(row: sqlite3.Row) -> SourceState:
    return SourceState(
        name=row["name"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_attempt=_parse(row["last_attempt"]),
        last_success=_parse(row["last_success"]),
        consecutive_errors=row["consecutive_errors"],
        last_error=row["last_error"],
        next_due=_parse(row["next_due"]),
        items_total=row["items_total"],
        final_url=row["final_url"],
        cursor=_parse(row["cursor"]),
    )
