"""Stories: the groups of items that tell one event, with their aggregates and labels.

A story row is derived data: `refresh_story` recomputes it from its items whenever a batch
adds or changes one, so counts, languages and titles never drift from the items. The writers
are plain functions on a connection because they run inside the batch transaction that
`ItemsPart.write_batch` holds; the readers are what digests, search and evaluation list.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np

from bot.core.models import Item
from bot.storage.connection import Connection
from bot.storage.records import Coverage, Labels, Member, StoryRank, StorySummary, StoryView
from bot.storage.schema import iso, row_item, row_story, row_story_rank


def create_story(db: sqlite3.Connection, item: Item) -> int:
    moment = iso(item.published)
    cursor = db.execute(
        "INSERT INTO stories (first_published, last_published, updated_at) VALUES (?, ?, ?)",
        (moment, moment, iso(datetime.now(UTC))),
    )
    return int(cursor.lastrowid or 0)


def refresh_story(db: sqlite3.Connection, story_id: int, labels: Labels | None) -> None:
    """Recompute a story's aggregates from its items (and its labels when given): one read of its items,
    latest first, gives the times, the count, the languages and the titles."""
    rows = db.execute(
        "SELECT published, lang, title FROM items WHERE story_id=? ORDER BY published DESC, id DESC", (story_id,)
    ).fetchall()
    outlets = db.execute(
        "SELECT count(DISTINCT s.source) FROM item_sources s JOIN items i ON i.id = s.item_id WHERE i.story_id=?",
        (story_id,),
    ).fetchone()[0]
    titles = {lang: title for _, lang, title in rows}  # the earliest item of each language wins (latest first)
    db.execute(
        "UPDATE stories SET first_published=?, last_published=?, items=?, outlets=?, langs=?, title_en=?,"
        " title_zh=?, title=?, updated_at=? WHERE id=?",
        (
            rows[-1][0],
            rows[0][0],
            len(rows),
            outlets,
            ",".join(sorted(titles)),
            titles.get("en", ""),
            titles.get("zh", ""),
            rows[-1][2],
            iso(datetime.now(UTC)),
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


class StoriesPart(Connection):
    """The store's story readers."""

    def story_members(self, story_ids: Iterable[int]) -> dict[int, list[Member]]:
        ids = list(set(story_ids))
        members: dict[int, list[Member]] = {story_id: [] for story_id in ids}
        rows = self._select_in(
            "SELECT id, story_id, lang, themes, moves FROM items WHERE story_id IN ({marks}) ORDER BY id", ids
        )
        for row in rows:
            labels = Labels(json.loads(row["themes"]), json.loads(row["moves"]))
            members[row["story_id"]].append(Member(row["id"], row["lang"], labels))
        return members

    def item_story_views(self, item_ids: Iterable[int]) -> dict[int, StoryView]:
        rows = self._select_in(
            "SELECT i.id, i.story_id, i.moves, s.primary_theme, s.themes, s.moves AS story_moves"
            " FROM items i JOIN stories s ON s.id = i.story_id WHERE i.id IN ({marks})",
            list(set(item_ids)),
        )
        return {
            row["id"]: StoryView(
                item_id=row["id"],
                story_id=row["story_id"],
                item_moves=json.loads(row["moves"]),
                story_primary_theme=row["primary_theme"],
                story_themes=json.loads(row["themes"]),
                story_moves=json.loads(row["story_moves"]),
            )
            for row in rows
        }

    def story_of_items(self, item_ids: Iterable[int]) -> dict[int, int]:
        rows = self._select_in("SELECT id, story_id FROM items WHERE id IN ({marks})", list(set(item_ids)))
        return {row[0]: row[1] for row in rows}

    def largest_stories(self, limit: int = 5) -> list[StorySummary]:
        """The stories most outlets carried, widest first."""
        rows = self._db.execute(
            "SELECT * FROM stories WHERE items > 1 ORDER BY outlets DESC, items DESC, id LIMIT ?", (limit,)
        )
        return [row_story(row) for row in rows]

    def story_outlets(self, story_id: int) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT s.source FROM item_sources s JOIN items i ON i.id = s.item_id"
            " WHERE i.story_id=? ORDER BY s.source",
            (story_id,),
        )
        return [row[0] for row in rows]

    def stories(self, story_ids: Iterable[int]) -> dict[int, StorySummary]:
        rows = self._select_in("SELECT * FROM stories WHERE id IN ({marks})", list(set(story_ids)))
        return {row["id"]: row_story(row) for row in rows}

    def story_ranks(self, story_ids: Iterable[int]) -> dict[int, StoryRank]:
        """What ranking needs of each story (search weighs hundreds and shows a few: `stories` for those)."""
        rows = self._select_in(
            "SELECT id, last_published, primary_theme, themes FROM stories WHERE id IN ({marks})", list(set(story_ids))
        )
        return {row["id"]: row_story_rank(row) for row in rows}

    def story_items(self, story_id: int) -> list[Item]:
        rows = self._db.execute("SELECT * FROM items WHERE story_id=? ORDER BY published, id", (story_id,))
        return [row_item(row) for row in rows]

    def stories_updated_since(self, since: datetime | None, limit: int = 1000) -> list[StorySummary]:
        """Stories created or grown since `since` (by when we stored them, not when they were published)."""
        rows = self._db.execute(
            "SELECT * FROM stories WHERE updated_at > ? ORDER BY updated_at DESC LIMIT ?",
            (iso(since) or "", limit),
        )
        return [row_story(row) for row in rows]

    def stories_published_between(self, start: datetime, end: datetime) -> list[StorySummary]:
        """Stories whose first item was published in [start, end), oldest first: what trends and topics count."""
        rows = self._db.execute(
            "SELECT * FROM stories WHERE first_published >= ? AND first_published < ? ORDER BY first_published, id",
            (iso(start), iso(end)),
        )
        return [row_story(row) for row in rows]

    def story_vectors(self, story_ids: Iterable[int], model: str, dim: int) -> dict[int, np.ndarray]:
        """Each story's item vectors (rows), for matching stories against a topic in meaning."""
        rows = self._select_in(
            "SELECT i.story_id, v.vector FROM items i JOIN vectors v ON v.item_id = i.id"
            " WHERE v.model=? AND i.story_id IN ({marks})",
            list(set(story_ids)),
            model,
        )
        rows_by_story: dict[int, list[bytes]] = {}
        for story_id, blob in rows:
            if len(blob) == dim * 4:
                rows_by_story.setdefault(story_id, []).append(blob)
        return {
            story_id: np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
            for story_id, blobs in rows_by_story.items()
        }

    def story_links(self, story_id: int) -> list[tuple[str, str]]:
        """(source, url) of every item of a story, earliest first (each item's owner before its other carriers),
        each once."""
        rows = self._db.execute(
            "SELECT s.source, s.url FROM item_sources s JOIN items i ON i.id = s.item_id"
            " WHERE i.story_id=? ORDER BY i.published, s.source != i.source, s.first_seen",
            (story_id,),
        )
        return list(dict.fromkeys((row[0], row[1]) for row in rows if row[1]))

    def story_texts(self, story_ids: Iterable[int], lede_chars: int) -> dict[int, list[str]]:
        """Per story, the words a reader meets about it: every item's title, every title a source gave it,
        the first `lede_chars` of each item's text (where a summary is drawn from) and its cached summaries."""
        ids = list(set(story_ids))
        texts: dict[int, list[str]] = {story_id: [] for story_id in ids}
        queries: list[tuple[str, tuple[object, ...]]] = [
            ("SELECT story_id, title, substr(text, 1, ?) FROM items WHERE story_id IN ({marks})", (lede_chars,)),
            (
                "SELECT i.story_id, c.title, '' FROM item_claims c JOIN items i ON i.id = c.item_id"
                " WHERE i.story_id IN ({marks})",
                (),
            ),
            ("SELECT story_id, text, '' FROM story_summaries WHERE story_id IN ({marks})", ()),
        ]
        for sql, params in queries:
            for story_id, title, lede in self._select_in(sql, ids, *params):
                texts[story_id] += [title, lede]
        return texts

    def prune_stories(self, cutoff: datetime) -> list[int]:
        """Delete stories whose newest item was published before `cutoff`, with their items; returns the item ids."""
        old_stories = "SELECT id FROM stories WHERE last_published < ?"
        old_items = f"SELECT id FROM items WHERE story_id IN ({old_stories})"
        moment = iso(cutoff)
        with self.transaction() as db:
            removed = [row[0] for row in db.execute(old_items, (moment,))]
            db.execute(f"DELETE FROM items_fts WHERE rowid IN ({old_items})", (moment,))
            for table in ("deliveries", "alerts_sent", "story_summaries"):
                db.execute(f"DELETE FROM {table} WHERE story_id IN ({old_stories})", (moment,))
            db.execute(
                f"DELETE FROM items WHERE story_id IN ({old_stories})", (moment,)
            )  # keys, sources, vectors cascade
            db.execute("DELETE FROM stories WHERE last_published < ?", (moment,))
        return removed

    def story_coverage(self, story_ids: Iterable[int]) -> dict[int, list[Coverage]]:
        """Per story, each outlet that carried it with the item's language and when: the item's own source at
        its publication time, another outlet carrying the same item when we first saw it there."""
        rows = self._select_in(
            "SELECT i.story_id, s.source, i.lang,"
            " CASE WHEN s.source = i.source THEN i.published ELSE max(s.first_seen, i.published) END AS at"
            " FROM item_sources s JOIN items i ON i.id = s.item_id WHERE i.story_id IN ({marks})",
            list(set(story_ids)),
        )
        coverage: dict[int, list[Coverage]] = {}
        for row in rows:
            seen = Coverage(row["source"], row["lang"], datetime.fromisoformat(row["at"]))
            coverage.setdefault(row["story_id"], []).append(seen)
        return coverage

    def cached_summary(self, story_id: int, lang: str, version: str) -> tuple[str, str] | None:
        """(method, text) of the summary made for this version of the story, if any."""
        row = self._db.execute(
            "SELECT method, text FROM story_summaries WHERE story_id=? AND lang=? AND version=?",
            (story_id, lang, version),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def cache_summary(self, story_id: int, lang: str, version: str, method: str, text: str) -> None:
        """Keep one summary per story and language: a new version replaces the old."""
        self._db.execute(
            "INSERT OR REPLACE INTO story_summaries (story_id, lang, version, method, text) VALUES (?,?,?,?,?)",
            (story_id, lang, version, method, text),
        )

    def count_stories(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM stories").fetchone()[0])

    def recent_stories(self, limit: int, theme: str | None = None, by: str = "published") -> list[StorySummary]:
        """The newest stories, by their latest item (`by="published"`) or by when they last grew in the store
        (`by="updated"`: what a feed reader must see as changed); only those of `theme` when given."""
        order = {"published": "last_published", "updated": "updated_at"}[by]
        where = "WHERE primary_theme=? OR EXISTS (SELECT 1 FROM json_each(themes) WHERE value=?)" if theme else ""
        rows = self._db.execute(
            f"SELECT * FROM stories {where} ORDER BY {order} DESC, id DESC LIMIT ?",
            (theme, theme, limit) if theme else (limit,),
        )
        return [row_story(row) for row in rows]
