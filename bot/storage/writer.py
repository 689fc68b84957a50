"""One writer per data directory: an exclusive lock file held by `bot fetch`, `bot run` and `bot demo`.

Two processes that both plan a batch against the same store (which identities are new?) and then
write it would both insert the same items. The plan is made outside the write transaction on
purpose (embedding a batch takes seconds, and readers must not wait on it), so the writers take
turns at the level of the process instead: the second one is told who holds the directory and
stops. The unique `item_keys` key, which a new item's identities are inserted under without
`OR IGNORE`, is the backstop should anything write without the lock. The lock is an `flock` on
`DATA_DIR/writer.lock`, released by the kernel when the holder exits, even by kill -9.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from shutil import rmtree

from bot.core.errors import UsageError

LOCK_NAME = "writer.lock"


class DataDirBusy(UsageError):
    """Another process holds the data directory's writer lock; the message names its pid."""


@contextmanager
def exclusive_writer(data_dir: Path, *, fresh: bool = False) -> Iterator[None]:
    """Hold `data_dir`'s writer lock for the block; `fresh` empties the directory once the lock is held."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise DataDirBusy(
                f"another bot process (pid {holder}) is writing to {data_dir}; stop it or wait for it to finish"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        if fresh:
            _empty_except(data_dir, path)
        try:
            yield
        finally:
            handle.truncate(0)


def _empty_except(directory: Path, keep: Path) -> None:
    for entry in directory.iterdir():
        if entry == keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            rmtree(entry)
        else:
            entry.unlink()
