"""A small key-value table for facts about the running service, such as the scheduler's heartbeat.

`bot status` runs in a separate process (a Docker HEALTHCHECK, an operator's shell) and must tell
whether the scheduler is alive without talking to it. The scheduler writes the time into this
table every minute; the status command reads it back. Values are text, so a part that stores a
time spells it as ISO-8601 UTC like every other time in the store.
"""

from __future__ import annotations

from bot.storage.connection import Connection

HEARTBEAT_KEY = "scheduler.heartbeat"  # when a service job last ran (ISO UTC), for `bot status`
HEARTBEAT_EVERY_KEY = "scheduler.heartbeat_every"  # seconds between heartbeats


class MetaPart(Connection):
    """The store's key-value facts: `set_meta` replaces, `get_meta` reads (None when absent)."""

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None
