"""The composition root: one `App` per process owns the effective settings and the parts built from them.

Every entry point — a CLI command, `bot run`'s scheduler, the Telegram handlers — receives the same
`App`, so there is exactly one copy of the settings (the config file merged with the runtime
overlay of sources added through the bot or OPML) and one store, index, embedder and classifier.

- **Settings** are read through `app.settings` at the moment they are needed, never copied into a
  long-lived object. `await app.reload()` re-reads the file and the overlay and then tells every
  listener (the scheduler re-plans its fetch jobs), so a SIGHUP, a changed file and `/addsource`
  all end in the same state whatever their order.
- **Heavy parts are built on first use**: `app.store` opens SQLite only; `app.pipeline` adds the
  embedder, the vector index and the theme classifier. `bot sources check` therefore never loads
  FAISS or a model, and `bot sources list` never an embedder.
- **One lock** (`app.lock()`, per running event loop) serializes store and index work between the
  scheduler's fetches and the chat's commands, which share one SQLite connection and one index.
- **The process's allocator** keeps two malloc arenas (`fewer_malloc_arenas`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shlex
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from bot.core.config import Paths, Settings, load_settings, resolve_config_path, resolve_paths
from bot.core.errors import UsageError
from bot.ingest.overlay import overlay_path, with_overlay
from bot.storage import Store

if TYPE_CHECKING:  # the pipeline brings the model and FAISS: imported when first used, not here
    from bot.ingest.embed import Embedder
    from bot.ingest.pipeline import Pipeline

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
Listener = Callable[[Settings, Settings], Awaitable[object]]  # (old, new) after a reload
DEMO_DIR = "demo"  # `bot demo` builds its data dir here, inside the data dir it was given (./data/demo by default)
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def fewer_malloc_arenas() -> None:
    """Hold glibc to MALLOC_ARENAS malloc arenas (unless MALLOC_ARENA_MAX is set in the environment).

    glibc gives each thread that allocates an arena of its own, up to eight per core, and rarely hands
    their free pages back: a pass's worker threads each leave one full of holes. A 1000-feed first
    pass peaked at 450 MB with the default and at 343 MB with two arenas (one: 305 MB), in the same
    time. Elsewhere than glibc this does nothing.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def no_data_error(paths: Paths, command: Sequence[str] = ()) -> UsageError:
    """A read-only command found no store: say where it looked and the exact command to run next — the same
    command on the demo's data when `bot demo` has run, else `bot fetch` (or `bot demo`)."""
    demo = demo_paths(paths.data_dir)
    if command and "--data-dir" not in command and demo.db.exists():
        again = shlex.join(["bot", "--data-dir", str(demo.data_dir), *command])
        return UsageError(f"no data at {paths.db}. The demo's data is in {demo.data_dir}; run:\n  {again}")
    return UsageError(
        f"no data at {paths.db}; run `bot fetch` to fetch your sources (or `bot demo` for the bundled sample),"
        " or point --data-dir at a data dir"
    )


def demo_paths(data_dir: Path) -> Paths:
    """Where `bot demo` keeps its data, given the data dir it was pointed at."""
    return resolve_paths(data_dir / DEMO_DIR)


class App:
    """The one owner of settings, store, index, embedder, classifier and the store lock of a process."""

    def __init__(
        self,
        paths: Paths,
        *,
        config_path: Path | None = None,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        """Read settings from `config_path` (plus the overlay), or start from `settings` (plus the overlay)
        when given — the demo and the tests, which have no file."""
        if settings is None and config_path is None:
            raise ValueError("App needs a config path or settings")
        fewer_malloc_arenas()
        self.paths = paths
        self.config_path = config_path
        self._base = settings
        self._settings = self._load()
        self._embedder = embedder
        self._store: Store | None = None
        self._pipeline: Pipeline | None = None
        self._listeners: list[Listener] = []
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    @classmethod
    def around(cls, pipeline: Pipeline, settings: Settings) -> App:
        """An app over a pipeline that is already open (the demo's and the evaluation's own data dir, tests)."""
        app = cls(pipeline.paths, settings=settings, embedder=pipeline.embedder)
        app._store, app._pipeline = pipeline.store, pipeline
        return app

    @classmethod
    def from_cli(cls, config: str | None, data_dir: str | None) -> App:
        """The app of one `bot …` command: `--config` / `BOT_CONFIG` and `--data-dir` / `BOT_DATA_DIR`."""
        return cls(resolve_paths(data_dir), config_path=resolve_config_path(config))

    # -- settings ------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The effective settings now: the config file merged with the runtime overlay."""
        return self._settings

    @property
    def watched_files(self) -> tuple[Path, ...]:
        """The files whose change means the settings must be read again."""
        return (*([self.config_path] if self.config_path else []), overlay_path(self.paths))

    def on_reload(self, listener: Listener) -> None:
        """Call `listener(old, new)` after every reload (the scheduler re-plans its jobs)."""
        self._listeners.append(listener)

    async def reload(self) -> Settings:
        """Read the config file and the overlay again, adopt them, tell the listeners; the new settings.

        Raises `BotError` (a `ConfigError` naming the file and field) and keeps the running settings
        when the file became invalid.
        """
        new = await asyncio.to_thread(self._load)
        old, self._settings = self._settings, new
        for listener in self._listeners:
            await listener(old, new)
        return new

    def _load(self) -> Settings:
        base = self._base if self._base is not None else load_settings(self.config_path)
        return with_overlay(base, self.paths)

    # -- the parts -----------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The SQLite store (opened, and migrated, on first use)."""
        if self._store is None:
            self._store = Store.open(self.paths.db)
        return self._store

    @property
    def pipeline(self) -> Pipeline:
        """Store + embedder + vector index + classifier; built on first use. The index opens and the model
        loads only when something needs them (a search, a new entry), not here."""
        if self._pipeline is None:
            from bot.ingest.pipeline import open_pipeline

            self._pipeline, repair = open_pipeline(
                self._settings,
                self.paths,
                self._embedder,
                store=self.store,
                sources=lambda: self.settings.sources,
                lazy=True,  # a fetch with nothing new never opens the index
            )
            if repair.reason:
                log.info("vector index %s", repair.reason)
        return self._pipeline

    @property
    def pipeline_open(self) -> bool:
        return self._pipeline is not None

    def lock(self) -> asyncio.Lock:
        """The lock serializing store and index work on the running event loop."""
        loop = asyncio.get_running_loop()
        if loop not in self._locks:
            self._locks = {loop: asyncio.Lock()}  # a new loop (tests) never shares a lock with a closed one
        return self._locks[loop]

    async def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run store/index work in a worker thread, one piece of work at a time."""
        async with self.lock():
            return await asyncio.to_thread(function, *args, **kwargs)

    def close(self) -> None:
        """Save the index (if it was opened) and close the store."""
        if self._pipeline is not None:
            self._pipeline.save_index()
        if self._store is not None:
            self._store.close()
        self._pipeline = self._store = None
