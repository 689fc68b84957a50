"""The connection every part of the store shares: opening, migrating, transactions, batched look-ups.

The per-area parts (items, stories, subscribers, sources) all derive from `Connection`, so each
of them can use `self._db`, `self.transaction()` and `self._select_in()` without knowing the
others. Opening sets the pragmas that make the file safe to share between a reader and a writer
(WAL, a busy timeout, foreign keys) and brings the schema up to `SCHEMA_VERSION`.
"""

from __future__ import annotations

import errno
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
        self._data_version: int | None = None

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
            raise StoreError(database_failure(exc, path) or f"{path}: cannot open the database: {exc}") from None
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
        """One atomic unit: commit on success, roll back on any exception.

        SQLite may have rolled the transaction back itself (a full disk, an I/O error); then the
        failure is what the caller hears, not "cannot rollback - no transaction is active"."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def changed_elsewhere(self) -> bool:
        """Whether another connection (a `bot fetch` in another process) committed since the last call.

        `PRAGMA data_version` is SQLite's own change counter for what others commit: one cheap
        read, so a reader can ask it before every search. The first call only takes the baseline.
        """
        version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        return changed

    def integrity_ok(self) -> bool:
        """SQLite's own page-level check (`quick_check`: every page readable, b-trees well formed)."""
        try:
            return self._db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:
            return False

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


_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def damaged_message(path: Path) -> str:
    """What to say about a damaged database file, and how to get the data back."""
    return (
        f"the database {path} is damaged. Stop the bot, keep a copy of the file, then either restore a backup"
        f" or rebuild it with: sqlite3 {path} .recover | sqlite3 {path}.recovered && mv {path}.recovered {path}"
        " (the search index is rebuilt from it on the next start)"
    )


def database_failure(exc: BaseException, path: Path) -> str | None:
    """One readable line for a failure of the disk or the file under the store; None for anything else.

    A corrupted page or a full disk surfaces wherever the next query happens to run, so the CLI
    asks this once, at its dispatch, instead of every command guarding its own queries.
    """
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"the disk holding {path.parent} is full: free some space and run the command again"
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        return f"the disk holding {path} is full: free some space and run the command again (nothing was half-written)"
    if code in _DAMAGED or "malformed" in str(exc) or "not a database" in str(exc):
        return damaged_message(path)
    return f"the database {path} cannot be used: {exc}"
