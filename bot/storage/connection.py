"""The connection every part of the store shares: opening, migrating, transactions, batched look-ups.

The per-area parts (items, stories, subscribers, sources) all derive from `Connection`, so each
of them can use `self._db`, `self.transaction()` and `self._select_in()` without knowing the
others. Opening sets the pragmas that make the file safe to share between a reader and a writer
(WAL, a busy timeout, foreign keys) and brings the schema up to `SCHEMA_VERSION`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from bot.core.errors import StoreError
from bot.storage.schema import MIGRATIONS, SCHEMA_VERSION, statements

_CHUNK = 500  # ids per `IN (...)` list: well under SQLite's limit on bound parameters


class Connection:
    """One open SQLite connection and what every part of the store does with it."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> Self:
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
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in statements(script):
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

    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA quick_check").fetchone()[0] == "ok"

    def _select_in(self, sql: str, values: Sequence[object], *params: object) -> Iterator[sqlite3.Row]:
        """The rows of `sql` for every one of `values`, asked 500 at a time.

        `sql` holds one `{marks}` slot, the placeholders of an `IN (...)` list; `params` bind the
        placeholders that stand before it. Callers pass `values` without repeats when repeats would
        repeat rows.
        """
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            yield from self._db.execute(sql.format(marks=marks), [*params, *chunk])
