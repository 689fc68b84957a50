"""`bot status`: one screen saying whether the bot is healthy, fast enough for a Docker HEALTHCHECK.

A health check runs every half minute beside the service, so this command only reads: the SQLite
counts, the source state the fetcher recorded, the index's small metadata file (never the FAISS
file itself, never the embedding model) and the heartbeat the scheduler writes into the store.
It fails (exit 1) on the conditions an operator must act on: the database file is damaged
(SQLite's `quick_check`), the scheduler stopped beating, or every enabled source is failing.
`--no-scheduler` drops the heartbeat check for deployments that only run `bot fetch` from cron.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.cli.render import iso, when
from bot.core.config import Paths, Settings
from bot.core.errors import StoreError
from bot.core.models import SourceState, Subscriber
from bot.service.clock import next_digest_time
from bot.storage import Store
from bot.storage.connection import damaged_message
from bot.storage.layout import INDEX_META_FILE
from bot.storage.meta import HEARTBEAT_EVERY_KEY, HEARTBEAT_KEY

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=5)  # a minute tick missed five times over: the scheduler is not running
STALE_TICKS = 3  # ...or three of its own heartbeat periods, when it beats less often than each minute
NEXT_DIGESTS_SHOWN = 5


@dataclass
class Sources:
    """Enabled sources by health: failing has an error streak, pending was never fetched."""

    enabled: int = 0
    healthy: int = 0
    failing: int = 0
    pending: int = 0
    failing_names: list[str] = field(default_factory=list)


@dataclass
class Status:
    """Everything `bot status` shows; its `--json` form is `asdict` of this, keys stable."""

    ok: bool
    problems: list[str]
    items: int
    stories: int
    index_vectors: int | None
    index_structure: str | None  # "flat" (exact) or "ivf-sq8" (approximate, above index.exact_below)
    sources: Sources
    last_attempt: str | None
    last_success: str | None
    subscribers: int
    next_digests: list[dict[str, Any]]
    scheduler_checked: bool
    heartbeat: str | None
    heartbeat_age_s: float | None
    scheduler_stale: bool


def cmd_status(args: argparse.Namespace) -> int:
    """Print the bot's health; exit 1 when the scheduler is stale or every enabled source fails."""
    app = App.from_cli(args.config, args.data_dir)
    status = gather(app.settings, app.paths, datetime.now(UTC), check_scheduler=not args.no_scheduler)
    if args.json:
        print(json.dumps(asdict(status), ensure_ascii=False))
    else:
        print(render(status))
    return 0 if status.ok else 1


def gather(settings: Settings, paths: Paths, now: datetime, check_scheduler: bool = True) -> Status:
    """Read the store, the index metadata and the heartbeat; decide whether all is well at `now`."""
    store = Store.open(paths.db)
    try:
        if not store.integrity_ok():
            raise StoreError(damaged_message(paths.db))
        states = store.source_states()
        subscribers = store.subscribers()
        counts = store.count_items(), store.count_stories()
        beat, every = store.get_meta(HEARTBEAT_KEY), store.get_meta(HEARTBEAT_EVERY_KEY)
    finally:
        store.close()
    sources = _sources(settings, states)
    heartbeat = datetime.fromisoformat(beat) if beat else None
    age = (now - heartbeat).total_seconds() if heartbeat else None
    stale = check_scheduler and (age is None or age > _stale_after(every).total_seconds())
    problems = _problems(sources, stale, heartbeat)
    index = index_meta(paths.index_dir)
    return Status(
        ok=not problems,
        problems=problems,
        items=counts[0],
        stories=counts[1],
        index_vectors=index.get("count"),
        index_structure=index.get("structure"),
        sources=sources,
        last_attempt=iso(max((s.last_attempt for s in states.values() if s.last_attempt), default=None)),
        last_success=iso(max((s.last_success for s in states.values() if s.last_success), default=None)),
        subscribers=len(subscribers),
        next_digests=_next_digests(subscribers, now),
        scheduler_checked=check_scheduler,
        heartbeat=iso(heartbeat),
        heartbeat_age_s=round(age, 1) if age is not None else None,
        scheduler_stale=stale,
    )


def index_meta(directory: Path) -> dict[str, Any]:
    """The saved index's metadata file (vector count, structure); empty when no index was saved yet."""
    try:
        meta = json.loads((directory / INDEX_META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(meta, dict):
        return {}
    count = meta.get("count")
    return {"count": count if isinstance(count, int) else None, "structure": meta.get("structure", "flat")}


def _sources(settings: Settings, states: dict[str, SourceState]) -> Sources:
    result = Sources()
    for source in settings.sources:
        if not source.enabled:
            continue
        result.enabled += 1
        state = states.get(source.name)
        if state is not None and state.consecutive_errors > 0:
            result.failing += 1
            result.failing_names.append(source.name)
        elif state is not None and state.last_success is not None:
            result.healthy += 1
        else:
            result.pending += 1
    return result


def _stale_after(every: str | None) -> timedelta:
    seconds = int(every) if every and every.isdigit() else 0
    return max(STALE_AFTER, STALE_TICKS * timedelta(seconds=seconds))


def _problems(sources: Sources, stale: bool, heartbeat: datetime | None) -> list[str]:
    problems = []
    if sources.enabled and sources.failing == sources.enabled:
        problems.append(f"every enabled source is failing ({sources.failing})")
    if stale:
        problems.append(f"scheduler heartbeat is stale (last {when(heartbeat)})")
    return problems


def _next_digests(subscribers: list[Subscriber], now: datetime) -> list[dict[str, Any]]:
    upcoming = []
    for subscriber in subscribers:
        try:
            upcoming.append((next_digest_time(subscriber, now), subscriber.chat_id))
        except (ValueError, KeyError) as exc:  # a bad time or time zone in one row: skip it, say so
            log.warning("chat %s: cannot compute its next digest: %s", subscriber.chat_id, exc)
    return [{"chat_id": chat, "at": iso(at)} for at, chat in sorted(upcoming)[:NEXT_DIGESTS_SHOWN]]


def render(status: Status) -> str:
    """The one-screen text form."""
    sources = status.sources
    failing = f" ({', '.join(sources.failing_names)})" if sources.failing_names else ""
    digests = ", ".join(f"{d['at']} (chat {d['chat_id']})" for d in status.next_digests) or "-"
    vectors = "no saved index" if status.index_vectors is None else f"{status.index_vectors} vectors"
    if status.index_vectors is not None and status.index_structure:
        vectors += f" ({status.index_structure})"
    lines = [
        f"items        {status.items} in {status.stories} stories",
        f"index        {vectors}",
        f"sources      {sources.enabled} enabled: {sources.healthy} healthy, {sources.failing} failing{failing},"
        f" {sources.pending} not fetched yet",
        f"last fetch   attempt {status.last_attempt or 'never'}, success {status.last_success or 'never'}",
        f"subscribers  {status.subscribers} active; next digests: {digests}",
        f"scheduler    {_scheduler_line(status)}",
        "status       " + ("OK" if status.ok else "PROBLEM: " + "; ".join(status.problems)),
    ]
    return "\n".join(lines)


def _scheduler_line(status: Status) -> str:
    if not status.scheduler_checked:
        return "not checked (--no-scheduler)"
    if status.heartbeat is None:
        return "no heartbeat yet (is `bot run` running?)"
    state = "STALE" if status.scheduler_stale else "ok"
    return f"{state}, last heartbeat {status.heartbeat} ({status.heartbeat_age_s:.0f} s ago)"
