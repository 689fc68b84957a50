"""One pass over the sources: fetch concurrently, ingest one result at a time, record state.

Fetching is I/O and runs concurrently (the HTTP layer limits per host and overall);
ingesting is CPU and SQLite work, so results are ingested one at a time in a worker
thread, never on the event loop. A source's failure is a value (its `FetchResult`), recorded
on that source with backoff; it never stops the other sources. `bot fetch`, the demo and the
scheduler's per-source jobs all go through `harvest_source`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.core.config import Settings, SourceConfig
from bot.core.models import FetchResult, FetchStatus, IngestReport, SourceState
from bot.ingest.pipeline import Pipeline
from bot.ingest.sources import FeedHttp, fetch_source
from bot.ingest.sources.schedule import apply_result, is_due
from bot.storage.connection import database_failure

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SourceOutcome:
    """What one source's turn produced: the line `bot fetch` prints for it."""

    source: str
    status: FetchStatus
    report: IngestReport = field(default_factory=IngestReport)
    error: str = ""
    used_fallback: bool = False
    seconds: float = 0.0
    next_due: datetime | None = None


@dataclass
class Harvester:
    """Fetches sources into one pipeline; `lock` serializes every write to the store.

    `current_settings` is asked at each fetch (a long-running service's settings change on reload)."""

    current_settings: Callable[[], Settings]
    pipeline: Pipeline
    http: FeedHttp
    rng: random.Random = field(default_factory=random.Random)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def harvest_source(self, source: SourceConfig, now: datetime | None = None) -> SourceOutcome:
        """Fetch one source, ingest what it returned and record the source's new state."""
        started = time.monotonic()
        now = now or datetime.now(UTC)
        async with self.lock:
            state = await asyncio.to_thread(self.pipeline.store.source_state, source.name)
        result = await fetch_source(source, state, self.current_settings(), self.http, now, stop_at=state.cursor)
        async with self.lock:
            outcome = await asyncio.to_thread(self._absorb, source, state, result, now)
        outcome.seconds = time.monotonic() - started
        return outcome

    def _absorb(self, source: SourceConfig, state: SourceState, result: FetchResult, now: datetime) -> SourceOutcome:
        report, settings = IngestReport(), self.current_settings()
        if result.status is FetchStatus.OK and result.entries:
            try:
                report = self.pipeline.ingest(result.entries).get(source.name, IngestReport())
            except Exception as exc:  # a bug in one source's data must not stop the others
                if database_failure(exc, self.pipeline.paths.db):
                    raise  # a full disk or a damaged file is no source's fault: the caller says so once
                log.exception("ingesting %s failed", source.name)
                result = _as_error(result, f"internal error while storing entries: {exc!r}")
        new_state = apply_result(
            state,
            result,
            now,
            interval=settings.interval(source),
            max_backoff=settings.fetch.max_backoff,
            kind=source.kind,
            rng=self.rng,
        )
        new_state.last_attempt = now
        new_state.items_total = self.pipeline.store.count_source_items(source.name)
        updated = [entry.updated or entry.published for entry in result.entries]
        known = [moment for moment in [*updated, state.cursor] if moment is not None]
        if result.status is FetchStatus.OK and known:
            new_state.cursor = max(known)
        self.pipeline.store.save_source_state(new_state)
        return SourceOutcome(
            source=source.name,
            status=result.status,
            report=report,
            error=result.error,
            used_fallback=result.used_fallback,
            next_due=new_state.next_due,
        )


def _as_error(result: FetchResult, error: str) -> FetchResult:
    """The same fetch, turned into an error (entries kept out of the store)."""
    return FetchResult(source=result.source, status=FetchStatus.ERROR, error=error)


def due_sources(settings: Settings, states: dict[str, SourceState], now: datetime) -> list[SourceConfig]:
    return [
        source
        for source in settings.sources
        if source.enabled and is_due(states.get(source.name) or SourceState(name=source.name), now)
    ]


async def fetch_pass(
    settings: Settings,
    pipeline: Pipeline,
    sources: Sequence[SourceConfig],
    on_done: Callable[[SourceOutcome], None] | None = None,
    now: datetime | None = None,
) -> list[SourceOutcome]:
    """Fetch `sources` concurrently into `pipeline`, then save the index once."""
    outcomes: list[SourceOutcome] = []
    async with FeedHttp(settings.fetch) as http:
        harvester = Harvester(lambda: settings, pipeline, http)
        tasks = [asyncio.create_task(harvester.harvest_source(source, now)) for source in sources]
        for finished in asyncio.as_completed(tasks):
            outcome = await finished
            outcomes.append(outcome)
            if on_done:
                on_done(outcome)
    await asyncio.to_thread(pipeline.save_index)
    order = {source.name: position for position, source in enumerate(sources)}
    return sorted(outcomes, key=lambda outcome: order[outcome.source])
