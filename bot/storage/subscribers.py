"""Subscribers: who gets digests and how, what each chat was already sent, and the topics it follows.

The digest job reads these to decide what is new for a chat; `record_delivery` writes what was
sent and when, in one transaction, so a story is never sent twice to the same chat. Follows keep
their vector beside the text, so a topic is matched in meaning without embedding it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np

from bot.core.models import Follow, Subscriber
from bot.storage.connection import Connection
from bot.storage.schema import iso, row_subscriber


class SubscribersPart(Connection):
    """The store's subscribers, deliveries and follows."""

    def subscriber(self, chat_id: int) -> Subscriber | None:
        row = self._db.execute("SELECT * FROM subscribers WHERE chat_id=?", (chat_id,)).fetchone()
        return row_subscriber(row) if row else None

    def subscribers(self, subscribed_only: bool = True) -> list[Subscriber]:
        where = " WHERE subscribed=1 AND active=1" if subscribed_only else ""
        return [row_subscriber(row) for row in self._db.execute(f"SELECT * FROM subscribers{where} ORDER BY chat_id")]

    def save_subscriber(self, subscriber: Subscriber) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO subscribers (chat_id, user_id, lang, themes, digest_time, timezone, subscribed,"
            " active, last_digest_at, created_at, frequency, weekly_day, alerts, quiet)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                subscriber.chat_id,
                subscriber.user_id,
                subscriber.lang,
                json.dumps(list(subscriber.themes)),
                subscriber.digest_time,
                subscriber.timezone,
                int(subscriber.subscribed),
                int(subscriber.active),
                iso(subscriber.last_digest_at),
                iso(subscriber.created_at or datetime.now(UTC)),
                subscriber.frequency,
                subscriber.weekly_day,
                int(subscriber.alerts),
                subscriber.quiet,
            ),
        )

    def delivered(self, chat_id: int, story_ids: Iterable[int]) -> set[int]:
        """Which of these stories this chat has already been sent."""
        rows = self._select_in(
            "SELECT story_id FROM deliveries WHERE chat_id=? AND story_id IN ({marks})", list(set(story_ids)), chat_id
        )
        return {row[0] for row in rows}

    def record_delivery(self, chat_id: int, story_ids: Iterable[int], sent_at: datetime) -> None:
        """Remember what was sent, and when the chat last got a digest, in one transaction."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO deliveries (chat_id, story_id, sent_at) VALUES (?, ?, ?)",
                [(chat_id, story_id, iso(sent_at)) for story_id in story_ids],
            )
            db.execute("UPDATE subscribers SET last_digest_at=? WHERE chat_id=?", (iso(sent_at), chat_id))

    def add_follow(self, chat_id: int, text: str, vector: np.ndarray, model: str) -> Follow:
        cursor = self._db.execute(
            "INSERT INTO follows (chat_id, text, model, vector, created_at) VALUES (?,?,?,?,?)",
            (chat_id, text, model, np.asarray(vector, dtype=np.float32).tobytes(), iso(datetime.now(UTC))),
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

    def alerted(self, chat_id: int, story_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Which of these stories this chat got an alert for: story id → (outlets, languages) then."""
        rows = self._select_in(
            "SELECT story_id, outlets, langs FROM alerts_sent WHERE chat_id=? AND story_id IN ({marks})",
            list(set(story_ids)),
            chat_id,
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def record_alert(self, chat_id: int, story_id: int, outlets: int, langs: int, sent_at: datetime) -> bool:
        """Remember an alert; False when this chat already had one for the story (nothing written)."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO alerts_sent (chat_id, story_id, sent_at, outlets, langs) VALUES (?,?,?,?,?)",
            (chat_id, story_id, iso(sent_at), outlets, langs),
        )
        return cursor.rowcount > 0
