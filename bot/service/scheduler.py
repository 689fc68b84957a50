"""The running bot's clock: per-source fetch jobs, the digest tick, housekeeping, config reload.

Why it looks like this:
- *When* is decided by pure functions of data and `now` (`clock`: `next_digest_time`, `digest_due`,
  `source_wait`), tested with fixed datetimes; the `Service` only wires them to APScheduler.
- The store is the memory, the scheduler is only an alarm clock. A source's `next_due` (backoff,
  jitter, arXiv calendar, computed by `sources.schedule`) wins over its interval trigger: each run
  checks `is_due` and then moves the job's next run to the stored `next_due`. A subscriber's
  `last_digest_at` decides whether today's digest went out, so a restart neither skips nor repeats one.
- Every job body is a coroutine taking `now` (default: the real clock), so tests drive the clock
  by calling the bodies; APScheduler runs them on the bot's own event loop, and store work happens
  in worker threads under the harvester's lock (never on the loop, never two writers at once).
- `reload(settings)` diffs the sources and adds, removes or reschedules jobs without a restart; a
  config that fails validation is logged and the running config kept.
Nothing here imports `telegram`: digests go out through a `deliver(subscriber, now)` coroutine, and
`service_runner` runs a `Service` alone or inside the Telegram application.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from bot.core.config import Settings, SourceConfig
from bot.core.errors import BotError
from bot.core.models import SourceState, Subscriber
from bot.ingest.harvest import Harvester, SourceOutcome
from bot.ingest.pipeline import Pipeline
from bot.ingest.sources import FeedHttp, is_due
from bot.ingest.sources.schedule import JITTER
from bot.service.clock import digest_due, last_digest_time
from bot.storage.meta import HEARTBEAT_EVERY_KEY, HEARTBEAT_KEY

log = logging.getLogger(__name__)

Deliver = Callable[[Subscriber, datetime], Awaitable[object]]
SendAlerts = Callable[[datetime], Awaitable[int]]
T = TypeVar("T")

DIGEST_JOB = "digest"
HOUSEKEEPING_JOB = "housekeeping"
ALERT_JOB = "alerts"
CONFIG_JOB = "config-watch"
MAX_DIGEST_ATTEMPTS = 3  # failed deliveries of one day's digest before it is given up until the next


def fetch_job_id(name: str) -> str:
    return f"fetch:{name}"


def enabled_sources(settings: Settings) -> dict[str, SourceConfig]:
    return {source.name: source for source in settings.sources if source.enabled}


@dataclass(frozen=True)
class SourceDiff:
    """What a reload changed, by source name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()


def diff_sources(old: Settings, new: Settings) -> SourceDiff:
    before, after = enabled_sources(old), enabled_sources(new)
    return SourceDiff(
        added=tuple(name for name in after if name not in before),
        removed=tuple(name for name in before if name not in after),
        changed=tuple(name for name in after if name in before and after[name] != before[name]),
    )


# -- the service ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """How often the service's own jobs run."""

    index_every: timedelta = timedelta(minutes=10)
    alerts_every: timedelta = timedelta(minutes=5)
    config_every: timedelta = timedelta(seconds=30)
    shutdown_grace: timedelta = timedelta(seconds=60)


@dataclass
class _DigestFailures:
    """Failed deliveries per chat for one scheduled slot, so a broken chat is not retried all day."""

    counts: dict[int, tuple[datetime, int]] = field(default_factory=dict)

    def exhausted(self, chat_id: int, slot: datetime) -> bool:
        seen_slot, count = self.counts.get(chat_id, (slot, 0))
        return seen_slot == slot and count >= MAX_DIGEST_ATTEMPTS

    def record(self, chat_id: int, slot: datetime) -> None:
        seen_slot, count = self.counts.get(chat_id, (slot, 0))
        self.counts[chat_id] = (slot, count + 1 if seen_slot == slot else 1)


class Service:
    """APScheduler jobs on the running event loop around one pipeline; start, reload, shut down."""

    def __init__(
        self,
        app: App,
        deliver: Deliver | None = None,
        *,
        send_alerts: SendAlerts | None = None,
        watch: Sequence[Path] | None = None,
        timing: Timing = Timing(),
    ) -> None:
        """`watch` are the files whose mtime triggers a reload (default: the app's config and overlay);
        `send_alerts(now)` pushes the breaking alerts due now (it takes the app's lock itself)."""
        self.app = app
        self.deliver = deliver
        self.send_alerts = send_alerts
        self.timing = timing
        self._watch = tuple(app.watched_files if watch is None else watch)
        self._stamp = self._watch_stamp()
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._http: FeedHttp | None = None
        self._harvester: Harvester | None = None
        self._lock = asyncio.Lock()  # replaced by the app's lock on the running loop in `start`
        self._running: set[asyncio.Task[Any]] = set()  # job runs in flight, awaited on shutdown
        self._reloads: set[asyncio.Task[bool]] = set()  # SIGHUP reloads (a reference keeps them alive)
        self._failures = _DigestFailures()
        self._index_dirty = False
        self._pruned_at: datetime | None = None
        app.on_reload(self._replan)

    @property
    def settings(self) -> Settings:
        """The app's settings now (never a copy: a reload from anywhere is seen here at once)."""
        return self.app.settings

    @property
    def pipeline(self) -> Pipeline:
        return self.app.pipeline

    async def start(self, paused: bool = False, now: datetime | None = None) -> None:
        """Open the HTTP client and add every job; call on the loop the bot runs on."""
        self._lock = self.app.lock()
        self._http = FeedHttp(self.settings.fetch)
        self._harvester = Harvester(lambda: self.app.settings, self.pipeline, self._http, lock=self._lock)
        self.scheduler.start(paused=paused)
        states = await self._in_thread(self.pipeline.store.source_states)
        for source in enabled_sources(self.settings).values():
            self._add_fetch_job(source, states.get(source.name), now or datetime.now(UTC))
        self._add_service_jobs()
        await self._heartbeat(now or datetime.now(UTC))
        log.info("scheduler started: %d sources", len(enabled_sources(self.settings)))

    async def shutdown(self) -> None:
        """Stop new runs, let running jobs finish (bounded), save the index, close the HTTP client.

        Safe to call twice; does nothing before `start`.
        """
        if self._http is None:
            return
        if self.scheduler.running:
            self.scheduler.pause()
        await self._wait_for_running_jobs()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down via call_soon
        await self.housekeeping(force=True)
        await self._http.aclose()
        self._http = None
        log.info("scheduler stopped")

    # -- jobs ------------------------------------------------------------------------------

    async def fetch_job(self, name: str, now: datetime | None = None) -> SourceOutcome | None:
        """Fetch source `name` if the store says it is due, then re-arm the job at its next due time."""
        now = now or datetime.now(UTC)
        source = enabled_sources(self.settings).get(name)
        if source is None or self._harvester is None:
            return None
        with self._tracked():
            state = await self._in_thread(self.pipeline.store.source_state, name)
            if not is_due(state, now):
                self._rearm(name, state.next_due, now)
                return None
            outcome = await self._harvester.harvest_source(source, now)
        self._index_dirty |= bool(outcome.report.new or outcome.report.updated)
        log.info("fetched %s: %s, %d new (%.1fs)", name, outcome.status.value, outcome.report.new, outcome.seconds)
        self._rearm(name, outcome.next_due, now)
        return outcome

    async def digest_tick(self, now: datetime | None = None) -> list[int]:
        """Deliver the digest to every subscriber whose time has come; returns their chat ids."""
        now = now or datetime.now(UTC)
        if self.deliver is None:
            return []
        await self._heartbeat(now)
        sent: list[int] = []
        with self._tracked():
            for subscriber in await self._in_thread(self.pipeline.store.subscribers):
                if self._wants_digest(subscriber, now) and await self._send(subscriber, now):
                    sent.append(subscriber.chat_id)
        return sent

    async def alert_tick(self, now: datetime | None = None) -> int:
        """Push the breaking alerts due now; the number sent. A failure is logged and retried next tick."""
        if self.send_alerts is None:
            return 0
        with self._tracked():
            try:
                return await self.send_alerts(now or datetime.now(UTC))
            except Exception:  # alerts must never stop the scheduler
                log.exception("breaking alerts failed; retrying at the next tick")
                return 0

    async def housekeeping(self, now: datetime | None = None, force: bool = False) -> bool:
        """Apply retention once a day, then save the index when something changed it (or when forced).

        Returns True when the index was saved.
        """
        now = now or datetime.now(UTC)
        await self._heartbeat(now)
        await self._apply_retention(now)
        if not (force or self._index_dirty):
            return False
        self._index_dirty = False
        with self._tracked():
            await self._in_thread(self.pipeline.save_index)
        log.debug("index saved (%d vectors)", len(self.pipeline.index))
        return True

    async def _apply_retention(self, now: datetime) -> None:
        retention = self.settings.storage.retention
        if retention is None or (self._pruned_at and now - self._pruned_at < timedelta(days=1)):
            return
        self._pruned_at = now
        with self._tracked():
            removed = await self._in_thread(self.pipeline.prune, now - retention)
        if removed:
            self._index_dirty = True
            log.info("retention: removed %d items older than %s", removed, retention)

    async def check_config(self, now: datetime | None = None) -> bool:
        """Reload when a watched file's mtime changed; True when a new config was applied."""
        stamp = self._watch_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return await self.reload_config()

    def request_reload(self) -> None:
        """Reload soon (from a signal handler, which cannot await)."""
        task = asyncio.get_running_loop().create_task(self.reload_config())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def reload_config(self) -> bool:
        """Read the config again (SIGHUP, or a changed file); an invalid one is logged and ignored."""
        try:
            await self.app.reload()
        except BotError as exc:  # ConfigError, or an unreadable runtime overlay
            log.error("config not reloaded, keeping the running one:\n%s", exc)
            return False
        return True

    async def _replan(self, old: Settings, new: Settings, now: datetime | None = None) -> SourceDiff:
        """After the app's settings changed: add, remove and reschedule source jobs; no restart."""
        now = now or datetime.now(UTC)
        diff = diff_sources(old, new)
        _warn_restart_only(old, new)
        for name in (*diff.removed, *diff.changed):
            self._remove_job(fetch_job_id(name))
        if self.scheduler.running:
            states = await self._in_thread(self.pipeline.store.source_states)
            for name in (*diff.added, *diff.changed):
                self._add_fetch_job(enabled_sources(new)[name], states.get(name), now)
        log.info("config reloaded: added %s, removed %s, changed %s", diff.added, diff.removed, diff.changed)
        return diff

    # -- helpers ---------------------------------------------------------------------------

    def _add_fetch_job(self, source: SourceConfig, state: SourceState | None, now: datetime) -> None:
        seconds = self.settings.interval(source).total_seconds()
        self.scheduler.add_job(
            self.fetch_job,
            IntervalTrigger(seconds=seconds, jitter=max(1, round(seconds * JITTER)), timezone=UTC),
            args=[source.name],
            id=fetch_job_id(source.name),
            name=f"fetch {source.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(60, round(seconds / 2)),
            next_run_time=max(state.next_due, now) if state and state.next_due else now,
            replace_existing=True,
        )

    def _add_service_jobs(self) -> None:
        common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "replace_existing": True}
        if self.deliver is not None:
            self.scheduler.add_job(
                self.digest_tick, CronTrigger(second=0, timezone=UTC), id=DIGEST_JOB, misfire_grace_time=30, **common
            )
        if self.send_alerts is not None:
            every = self.timing.alerts_every.total_seconds()
            self.scheduler.add_job(
                self.alert_tick, IntervalTrigger(seconds=every, timezone=UTC), id=ALERT_JOB, **common
            )
        every = self.timing.index_every.total_seconds()
        self.scheduler.add_job(
            self.housekeeping, IntervalTrigger(seconds=every, timezone=UTC), id=HOUSEKEEPING_JOB, **common
        )
        if self._watch:
            every = self.timing.config_every.total_seconds()
            self.scheduler.add_job(
                self.check_config, IntervalTrigger(seconds=every, timezone=UTC), id=CONFIG_JOB, **common
            )

    async def _heartbeat(self, now: datetime) -> None:
        """Tell `bot status` (another process) that the jobs run: the time, and how often to expect it."""
        every = 60 if self.deliver is not None else round(self.timing.index_every.total_seconds())
        await self._in_thread(self.pipeline.store.set_meta, HEARTBEAT_KEY, now.astimezone(UTC).isoformat())
        await self._in_thread(self.pipeline.store.set_meta, HEARTBEAT_EVERY_KEY, str(every))

    def _rearm(self, name: str, due: datetime | None, now: datetime) -> None:
        """The store's next due time wins over the interval trigger's cadence."""
        if due is None:
            return
        with suppress(JobLookupError):  # the source was removed by a reload while it was being fetched
            self.scheduler.modify_job(fetch_job_id(name), next_run_time=max(due, now))

    def _remove_job(self, job_id: str) -> None:
        with suppress(JobLookupError):
            self.scheduler.remove_job(job_id)

    def _wants_digest(self, subscriber: Subscriber, now: datetime) -> bool:
        try:
            due = digest_due(subscriber, now)
        except (ValueError, KeyError) as exc:  # a bad time or an unknown time zone in one row
            log.warning("chat %s: cannot schedule its digest: %s", subscriber.chat_id, exc)
            return False
        return due and not self._failures.exhausted(subscriber.chat_id, last_digest_time(subscriber, now))

    async def _send(self, subscriber: Subscriber, now: datetime) -> bool:
        """Deliver one digest; on success make sure the store remembers it, even if nothing was sent."""
        assert self.deliver is not None
        try:
            await self.deliver(subscriber, now)
        except Exception:  # one chat's failure must not stop the others' digests
            log.exception("digest for chat %s failed", subscriber.chat_id)
            self._failures.record(subscriber.chat_id, last_digest_time(subscriber, now))
            return False
        await self._in_thread(self._mark_sent, subscriber.chat_id, now)
        return True

    def _mark_sent(self, chat_id: int, now: datetime) -> None:
        fresh = self.pipeline.store.subscriber(chat_id)
        if fresh is not None and digest_due(fresh, now):
            self.pipeline.store.record_delivery(chat_id, [], now)

    async def _in_thread(self, func: Callable[..., T], *args: Any) -> T:
        """Store and index work: in a worker thread, under the one store lock."""
        async with self._lock:
            return await asyncio.to_thread(func, *args)

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._running.add(task)
        try:
            yield
        finally:
            self._running.discard(task)

    async def _wait_for_running_jobs(self) -> None:
        running = {task for task in self._running if task is not asyncio.current_task()}
        if not running:
            return
        _, pending = await asyncio.wait(running, timeout=self.timing.shutdown_grace.total_seconds())
        for task in pending:
            log.warning("a job did not finish within the shutdown grace period; cancelling it")
            task.cancel()

    def _watch_stamp(self) -> tuple[float | None, ...]:
        return tuple(_mtime(path) for path in self._watch)


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _warn_restart_only(old: Settings, new: Settings) -> None:
    for section in ("embedding", "themes", "fetch"):
        if getattr(old, section) != getattr(new, section):
            log.warning("config: changes to %r take effect after a restart", section)
