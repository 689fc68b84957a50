"""Source state: what the fetcher remembers of each feed between runs.

Conditional-GET validators (ETag, Last-Modified), the last attempt and success, the error
streak that drives back-off, when the source is next due, and a cursor (the newest entry time
seen, where the next fetch may stop). One row a source, replaced whole on every save.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.models import SourceState
from bot.storage.connection import Connection
from bot.storage.schema import iso, row_state


class SourcesPart(Connection):
    """The store's per-source fetch state."""

    def source_state(self, name: str) -> SourceState:
        row = self._db.execute("SELECT * FROM source_state WHERE name=?", (name,)).fetchone()
        return row_state(row) if row else SourceState(name=name)

    def source_states(self) -> dict[str, SourceState]:
        return {row["name"]: row_state(row) for row in self._db.execute("SELECT * FROM source_state")}

    def save_source_state(self, state: SourceState) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO source_state (name, etag, last_modified, last_attempt, last_success,"
            " consecutive_errors, last_error, next_due, items_total, final_url, cursor)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                state.name,
                state.etag,
                state.last_modified,
                iso(state.last_attempt),
                iso(state.last_success),
                state.consecutive_errors,
                state.last_error,
                iso(state.next_due),
                state.items_total,
                state.final_url,
                iso(state.cursor),
            ),
        )

    def count_source_items(self, source: str) -> int:
        return self.count_sources_items([source])[source]

    def count_sources_items(self, sources: Sequence[str]) -> dict[str, int]:
        """Items carried by each of `sources`, in one query (a pass records hundreds of sources at once)."""
        counts = dict.fromkeys(sources, 0)
        query = "SELECT source, count(*) FROM item_sources WHERE source IN ({marks}) GROUP BY source"
        counts.update((row[0], int(row[1])) for row in self._select_in(query, list(counts)))
        return counts
