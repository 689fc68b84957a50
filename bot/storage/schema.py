"""The database's shape: the migrations that build it, and the conversions between rows and objects.

The migrations run in order on open; `PRAGMA user_version` records how many have run, so a
migration, once released, is never edited: a change of shape is a new entry at the end. The
converters are the one place that knows how a column is spelled (ISO-8601 UTC text for times,
JSON for lists and labels), so every part of the store reads and writes values the same way.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from bot.core.models import Item, SourceState, Subscriber
from bot.storage.records import StoryRank, StorySummary

MIGRATIONS: tuple[str, ...] = (
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
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    """,
    """
    ALTER TABLE subscribers ADD COLUMN frequency TEXT NOT NULL DEFAULT 'daily';
    ALTER TABLE subscribers ADD COLUMN weekly_day INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE subscribers ADD COLUMN alerts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE subscribers ADD COLUMN quiet TEXT NOT NULL DEFAULT '';
    CREATE TABLE alerts_sent (
        chat_id INTEGER NOT NULL,
        story_id INTEGER NOT NULL,
        sent_at TEXT NOT NULL,
        outlets INTEGER NOT NULL,
        langs INTEGER NOT NULL,
        PRIMARY KEY (chat_id, story_id)
    ) WITHOUT ROWID;
    CREATE TABLE story_summaries (
        story_id INTEGER NOT NULL,
        lang TEXT NOT NULL,
        version TEXT NOT NULL,
        method TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (story_id, lang)
    ) WITHOUT ROWID;
    """,
    # Two writers once stored an item twice: the second copy's identities were ignored, so it is the
    # item that owns no identity. Drop those copies (their text index rows, then the rows; sightings
    # and vectors cascade), stories left empty, and recount the stories that lost an item.
    """
    DELETE FROM items_fts WHERE rowid IN (SELECT id FROM items WHERE id NOT IN (SELECT item_id FROM item_keys));
    DELETE FROM items WHERE id NOT IN (SELECT item_id FROM item_keys);
    DELETE FROM stories WHERE id NOT IN (SELECT story_id FROM items WHERE story_id IS NOT NULL);
    UPDATE stories SET
        items = (SELECT count(*) FROM items WHERE story_id = stories.id),
        outlets = (SELECT count(DISTINCT s.source) FROM item_sources s JOIN items i ON i.id = s.item_id
                   WHERE i.story_id = stories.id)
    WHERE items != (SELECT count(*) FROM items WHERE story_id = stories.id);
    """,
    # What each source titled an item, kept apart from the item's own text, which only the item's owner
    # writes (a feed carrying another outlet's link must not put its headline under that outlet's name).
    # Written so that running it again changes nothing; existing items start with their own source's title.
    """
    CREATE TABLE IF NOT EXISTS item_claims (
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        title TEXT NOT NULL,
        PRIMARY KEY (item_id, source)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO item_claims (item_id, source, title) SELECT id, source, title FROM items;
    """,
    # What a chat keeps out of what it is sent (/mute), and whether its digest shows the top story's preview:
    # a table beside `subscribers` (a chat without a row has the defaults), since ALTER TABLE ADD COLUMN cannot
    # be run twice and migrations must be safe to run again on a file that already has them.
    """
    CREATE TABLE IF NOT EXISTS chat_filters (
        chat_id INTEGER PRIMARY KEY,
        mutes TEXT NOT NULL DEFAULT '[]',
        muted_sources TEXT NOT NULL DEFAULT '[]',
        previews INTEGER NOT NULL DEFAULT 0
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def item_row(item: Item) -> tuple[object, ...]:
    return (
        item.source,
        item.guid,
        item.url,
        item.title,
        item.text,
        item.lang,
        iso(item.published),
        int(item.published_estimated),
        iso(item.fetched_at),
        item.content_hash,
        item.arxiv_id,
        item.arxiv_version,
        json.dumps(list(item.authors), ensure_ascii=False),
        json.dumps(list(item.tags), ensure_ascii=False),
    )


def row_item(row: sqlite3.Row) -> Item:
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


def row_story(row: sqlite3.Row) -> StorySummary:
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


def row_story_rank(row: sqlite3.Row) -> StoryRank:
    return StoryRank(
        id=row["id"],
        last_published=datetime.fromisoformat(row["last_published"]),
        primary_theme=row["primary_theme"],
        themes=tuple(json.loads(row["themes"])),
    )


def row_subscriber(row: sqlite3.Row) -> Subscriber:
    return Subscriber(
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        lang=row["lang"],
        themes=tuple(json.loads(row["themes"])),
        digest_time=row["digest_time"],
        timezone=row["timezone"],
        subscribed=bool(row["subscribed"]),
        active=bool(row["active"]),
        last_digest_at=parse_iso(row["last_digest_at"]),
        created_at=parse_iso(row["created_at"]),
        frequency=row["frequency"],
        weekly_day=row["weekly_day"],
        alerts=bool(row["alerts"]),
        quiet=row["quiet"],
        mutes=tuple(json.loads(row["mutes"] or "[]")),
        muted_sources=tuple(json.loads(row["muted_sources"] or "[]")),
        previews=bool(row["previews"]),
    )


def row_state(row: sqlite3.Row) -> SourceState:
    return SourceState(
        name=row["name"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_attempt=parse_iso(row["last_attempt"]),
        last_success=parse_iso(row["last_success"]),
        consecutive_errors=row["consecutive_errors"],
        last_error=row["last_error"],
        next_due=parse_iso(row["next_due"]),
        items_total=row["items_total"],
        final_url=row["final_url"],
        cursor=parse_iso(row["cursor"]),
    )
