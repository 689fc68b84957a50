"""Sources added at run time (through the bot) live in `DATA_DIR/sources.overlay.yaml`.

The user's `sources.yaml` is theirs: comments, order and formatting matter to them, and the bot
never rewrites it. Sources an admin adds with `/addsource` go to an overlay file beside the
database instead, validated by the same `SourceConfig` model, and `with_overlay` merges the two
into the `Settings` everything else reads. The config file wins a name clash on load (a user may
later copy an added source into sources.yaml); adding a name that already exists is an error.
Writes go to a temporary file that is renamed over the old one, so a crash never leaves half a file.

`admit_source` is the whole of adding one: an http(s) URL whose host is public (unless
`fetch.allow_private`), fetched once through the same `FeedHttp`/`fetch_source` path every fetch
takes to prove it is a feed, then persisted here and ingested once through `Harvester`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from bot.core.config import Paths, Settings, SourceConfig, parse_settings, read_yaml
from bot.core.errors import BotError
from bot.core.models import FetchStatus, SourceState

if TYPE_CHECKING:  # admitting a source fetches and ingests it; reading the overlay needs neither
    from bot.ingest.pipeline import Pipeline

log = logging.getLogger(__name__)

OVERLAY_NAME = "sources.overlay.yaml"
_HEADER = (
    "# Sources added through the Telegram bot (/addsource). Written by the bot: edit with care.\n"
    "# Your own sources.yaml is never modified; a source named there too is ignored here.\n"
)
_write_lock = threading.Lock()  # read-modify-write of the file is one step per process
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")


class OverlayError(BotError):
    """A runtime source cannot be added or removed (name taken, not found); the message says why."""


def overlay_path(paths: Paths) -> Path:
    return paths.data_dir / OVERLAY_NAME


def load_overlay(paths: Paths) -> list[SourceConfig]:
    """The sources in the overlay file, validated; an absent file means none."""
    path = overlay_path(paths)
    try:
        raw = read_yaml(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return []
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise OverlayError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise OverlayError(f"{path}: the top level must be a mapping with `sources:`")
    return list(parse_settings({"sources": raw.get("sources") or []}, origin=path).sources)


def with_overlay(settings: Settings, paths: Paths) -> Settings:
    """`settings` plus the overlay's sources; a name already in `settings` keeps its configured entry.

    Idempotent: merging an already merged `Settings` again adds nothing.
    """
    taken = {source.name for source in settings.sources}
    extra = []
    for source in load_overlay(paths):
        if source.name in taken:
            log.warning(
                "%s: source %r is also in the config file; the config file's entry wins", OVERLAY_NAME, source.name
            )
            continue
        extra.append(source)
    if not extra:
        return settings
    return settings.model_copy(update={"sources": (*settings.sources, *extra)})


def add_source(paths: Paths, source: SourceConfig, settings: Settings | None = None) -> None:
    """Append `source` to the overlay; its name (or URL) must not be in use in `settings` or the overlay."""
    with _write_lock:
        current = load_overlay(paths)
        for existing in [*(settings.sources if settings else ()), *current]:
            if existing.name == source.name:
                raise OverlayError(f"a source named {source.name!r} already exists")
            if source.url and existing.url == source.url:
                raise OverlayError(f"{source.url} is already monitored as {existing.name!r}")
        _write(overlay_path(paths), [*current, source])


def remove_source(paths: Paths, name: str) -> bool:
    """Drop the overlay source called `name`; False when the overlay has no such source."""
    with _write_lock:
        current = load_overlay(paths)
        kept = [source for source in current if source.name != name]
        if len(kept) == len(current):
            return False
        _write(overlay_path(paths), kept)
        return True


def _write(path: Path, sources: Sequence[SourceConfig]) -> None:
    """Replace the file atomically: write a temporary file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = _HEADER + yaml.safe_dump(
        {"sources": [_entry(source) for source in sources]}, allow_unicode=True, sort_keys=False
    )
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _entry(source: SourceConfig) -> dict[str, Any]:
    """Only the fields that differ from the defaults, in YAML-friendly types (durations as seconds)."""
    entry = source.model_dump(mode="json", exclude_defaults=True)
    entry = {"name": source.name, "kind": source.kind, **entry}
    if source.interval is not None:
        entry["interval"] = f"{int(source.interval.total_seconds())}s"
    return entry


# -- admitting a source at run time ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Admitted:
    """A source that passed every check: the entries its feed had, the items that were new, the
    settings with it merged in."""

    source: SourceConfig
    entries: int
    new: int
    settings: Settings


async def admit_source(
    settings: Settings, pipeline: Pipeline, url: str, name: str, now: datetime, lock: asyncio.Lock
) -> Admitted:
    """Check `url`, prove it is a feed, persist it and ingest it once; `OverlayError` says why not.

    `lock` is the one serializing store work on `pipeline` (the overlay file write runs under it too).
    """
    from bot.ingest.harvest import Harvester
    from bot.ingest.sources import FeedHttp, fetch_source

    source = new_source(url, name, settings)
    if not settings.fetch.allow_private:
        await require_public_host(url)
    async with FeedHttp(settings.fetch) as http:
        probe = await fetch_source(source, SourceState(name=source.name), settings, http, now)
        if probe.status is FetchStatus.ERROR:
            raise OverlayError(f"{url} is not a usable feed: {probe.error}")
        async with lock:
            await asyncio.to_thread(add_source, pipeline.paths, source, settings)
        merged = with_overlay(settings, pipeline.paths)
        outcome = await Harvester(lambda: merged, pipeline, http, lock=lock).harvest_source(source, now)
    async with lock:
        await asyncio.to_thread(pipeline.save_index)
    return Admitted(source, len(probe.entries), outcome.report.new, merged)


def new_source(url: str, name: str, settings: Settings) -> SourceConfig:
    """An rss `SourceConfig` for `url`; without a name, the host's, made unique."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OverlayError("only http:// and https:// URLs can be added")
    taken = {source.name for source in settings.sources}
    name = name or _unique(_NAME_CHARS.sub("-", parts.hostname.removeprefix("www.")).strip("-.") or "feed", taken)
    try:
        return SourceConfig(name=name, kind="rss", url=url)
    except ValidationError as exc:
        reason = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
        raise OverlayError(f"invalid source: {reason}") from None


def _unique(base: str, taken: set[str]) -> str:
    candidates = (base if n == 1 else f"{base}-{n}" for n in range(1, len(taken) + 2))
    return next(candidate for candidate in candidates if candidate not in taken)


async def require_public_host(url: str) -> None:
    """Refuse a host that is or resolves to a non-public address: a readable early answer for the admin.

    The same check as `FeedHttp`'s, which makes it again at every connection (and redirect) and connects
    to the address it checked.
    """
    from bot.ingest.sources.address import NotPublicError, public_addresses  # brings httpx: only when admitting

    parts = urlsplit(url)
    try:
        await public_addresses(parts.hostname or "", parts.port or 443)
    except NotPublicError as exc:
        raise OverlayError(str(exc)) from None
