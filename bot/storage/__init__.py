"""SQLite: the single source of truth for items, their sources, vectors and source state.

`sqlite3` is used only in this package. The file runs in WAL mode so readers (the bot answering
a question) never wait for the writer (a fetch). Everything one batch changes is written in
one transaction, so a crash leaves either the whole batch or none of it. Vectors are kept
here too, which is what lets the FAISS index be rebuilt at any time without re-embedding.
The schema carries a version (`PRAGMA user_version`) and migrates forward on open.

`Store` is assembled here from one part per area, each in its own module on a shared
`Connection` (connection.py): items, vectors, full-text and name counts (items.py), stories
(stories.py), subscribers, deliveries and follows (subscribers.py), source state (sources.py), and small
key-value facts such as the scheduler's heartbeat (meta.py).
The SQL shape and the row conversions are in schema.py, the value types in records.py.
"""

from __future__ import annotations

from bot.storage.items import ItemsPart
from bot.storage.meta import MetaPart
from bot.storage.records import (
    BatchIds,
    Coverage,
    ItemVersion,
    Labels,
    Member,
    NewItem,
    Sighting,
    StoryRank,
    StorySummary,
    StoryView,
)
from bot.storage.schema import SCHEMA_VERSION
from bot.storage.sources import SourcesPart
from bot.storage.stories import StoriesPart
from bot.storage.subscribers import SubscribersPart

__all__ = [
    "SCHEMA_VERSION",
    "BatchIds",
    "Coverage",
    "ItemVersion",
    "Labels",
    "Member",
    "NewItem",
    "Sighting",
    "Store",
    "StoryRank",
    "StorySummary",
    "StoryView",
]


class Store(ItemsPart, StoriesPart, SubscribersPart, SourcesPart, MetaPart):
    """One SQLite database file; open with `Store.open(path)`, close with `close()`."""
