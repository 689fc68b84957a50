"""One pass over the sources: fetch concurrently, store results as they arrive, record state.

Fetching is I/O and runs concurrently (the HTTP layer limits per host and overall). Whatever has arrived
is ingested together in a worker thread, never on the event loop, while the other fetches go on: the
first sources are stored within seconds of a pass starting, a progress bar moves as they are, and
embedding is batched across sources. Two batches are in hand at once, so one is embedded while the other
is labelled and written (`Pipeline.commit` re-plans a batch planned before the other's write, so the two
never store an entry twice); embedding itself is one batch at a time, and in a pass (`fetch_pass`) in a
process of its own (`Pipeline.embedding_in_worker`), so it runs beside the labelling and writing instead
of taking turns with them for the GIL. A big feed is stored from the one download in chunks of
INGEST_BATCH new items; the store lock is held to plan and write each chunk, never while embedding, so a
user's command waits for one chunk's write, not for a whole feed; the next chunk is embedded while one
is written. A source gives at most `fetch.max_entries_per_pass` new entries a pass; the rest stay in the
feed and come in on the next pass, which is due at once. Fetching runs at most AHEAD sources with
entries ahead of storing, so a 2000-source first pass never holds every feed in memory at once while the
embedder catches up; a small batch waits up to LINGER for more arrivals rather than paying a batch's
fixed costs for one source. A source's failure is a value (its `FetchResult`), recorded on that source
with backoff; it never stops the other sources. `bot fetch`, the demo and the scheduler's per-source
jobs all go through `Harvester`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from bot.core.config import Settings, SourceConfig
from bot.core.models import FetchResult, FetchStatus, IngestReport, RawEntry, SourceState
from bot.ingest.pipeline import Pipeline, Prepared
from bot.ingest.sources import FeedHttp, fetch_source
from bot.ingest.sources.schedule import apply_result, is_due
from bot.storage.connection import database_failure

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

INGEST_BATCH = 512  # entries ingested together (one embedding call), and new items a source adds per chunk
ABSORBERS = 2  # batches in hand at once: one is embedded while the other is written
AHEAD = 128  # sources with entries fetched or being fetched, not yet stored; a further fetch waits for one
# A small batch waits this long for more arrivals: each batch costs a search of the whole index, a
# transaction and a round to the embedder (~0.1 s at 35k items), so a pass where 100 of 2000 feeds
# changed stored them in 46 batches (4.6 s of writing) where a few do.
LINGER = 0.5

_T = TypeVar("_T")


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


@dataclass(slots=True)
class _Fetched:
    """One source's fetch, waiting to be stored."""

    source: SourceConfig
    state: SourceState
    result: FetchResult
    started: float


class _Arrivals:
    """Fetched sources on their way to the store, handed out in batches.

    Fetching runs at most AHEAD sources with entries ahead of storing (a 304 or an error holds no
    memory and never counts). A batch is what has arrived, up to INGEST_BATCH entries; a small one
    waits up to LINGER for more, unless every fetch is in or half of AHEAD is in hand (the fetches
    would then be waiting for this batch to be stored). The first batch of a pass never waits: the
    first sources are stored, and the progress bar moves, as soon as the model allows.
    """

    def __init__(self, expected: int, on_entries: Callable[[], None]) -> None:
        self._queue: asyncio.Queue[_Fetched] = asyncio.Queue()
        self._room = asyncio.Semaphore(AHEAD)
        self._unfetched = expected
        self._all_fetched = asyncio.Event()
        self._all_fetched_task = asyncio.create_task(self._all_fetched.wait())
        self._on_entries = on_entries  # the first entries are a cue (to warm the embedder)
        self._linger = 0.0  # LINGER from the second batch on

    async def fetch(self, fetching: Callable[[SourceConfig], Awaitable[_Fetched]], source: SourceConfig) -> None:
        """Fetch `source` once there is room ahead of storing, then queue what came back."""
        await self._room.acquire()
        self._queue.put_nowait(await fetching(source))
        self._unfetched -= 1
        if not self._unfetched:
            self._all_fetched.set()

    async def next_batch(self) -> list[_Fetched]:
        batch: list[_Fetched] = []
        entries = holding = 0
        arrived: _Fetched | None = await self._queue.get()
        until = asyncio.get_running_loop().time() + self._linger  # counted from the first arrival
        self._linger = LINGER
        while arrived is not None:
            batch.append(arrived)
            if arrived.result.entries:
                entries, holding = entries + len(arrived.result.entries), holding + 1
                self._on_entries()
            else:
                self._room.release()  # a 304 or an error holds no memory: the next fetch need not wait for it
            if entries >= INGEST_BATCH or holding >= AHEAD // ABSORBERS:
                break
            arrived = await self._another(until)
        return batch

    async def _another(self, until: float) -> _Fetched | None:
        """The next arrival if one comes before `until`, else None (at once when every fetch is in)."""
        if not self._queue.empty():
            return self._queue.get_nowait()
        left = until - asyncio.get_running_loop().time()
        if left <= 0 or self._all_fetched.is_set():
            return None
        getter = asyncio.ensure_future(self._queue.get())
        await asyncio.wait([getter, self._all_fetched_task], timeout=left, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()  # an item the cancelled get did not take stays in the queue
        return None

    def stored(self, batch: list[_Fetched]) -> None:
        """`batch` is in the store: its sources with entries make room for further fetches."""
        for fetched in batch:
            if fetched.result.entries:
                self._room.release()

    def close(self) -> None:
        self._all_fetched_task.cancel()


@dataclass
class Harvester:
    """Fetches sources into one pipeline; `lock` serializes every read and write of the store.

    `current_settings` is asked at each use (a long-running service's settings change on reload)."""

    current_settings: Callable[[], Settings]
    pipeline: Pipeline
    http: FeedHttp
    rng: random.Random = field(default_factory=random.Random)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    embedding: asyncio.Lock = field(default_factory=asyncio.Lock)  # one batch embeds while another is written
    on_stored: Callable[[int], None] | None = None  # told the new items stored so far after each chunk's write
    stored_new: int = field(default=0, init=False)

    async def harvest_source(self, source: SourceConfig, now: datetime | None = None) -> SourceOutcome:
        """Fetch one source, ingest what it returned and record the source's new state."""
        now = now or datetime.now(UTC)
        state = await self._locked(self.pipeline.store.source_state, source.name)
        (outcome,) = await self._absorb([await self._fetch(source, state, now)], now)
        return outcome

    async def harvest(
        self,
        sources: Sequence[SourceConfig],
        now: datetime | None = None,
        on_done: Callable[[SourceOutcome], None] | None = None,
    ) -> list[SourceOutcome]:
        """Fetch `sources` concurrently; store each batch of results that has arrived while the rest are fetched."""
        now = now or datetime.now(UTC)
        states = await self._locked(self.pipeline.store.source_states)
        arrivals = _Arrivals(len(sources), on_entries=self.pipeline.warm_embedder)

        async def fetch(source: SourceConfig) -> _Fetched:
            return await self._fetch(source, states.get(source.name) or SourceState(name=source.name), now)

        tasks = [asyncio.create_task(arrivals.fetch(fetch, source)) for source in sources]
        outcomes: list[SourceOutcome] = []
        all_in = asyncio.Event()

        async def absorb_arrivals() -> None:
            while True:
                batch = await arrivals.next_batch()
                for outcome in await self._absorb(batch, now):
                    outcomes.append(outcome)
                    if on_done:
                        on_done(outcome)
                arrivals.stored(batch)
                if len(outcomes) == len(sources):
                    all_in.set()

        absorbers = [asyncio.create_task(absorb_arrivals()) for _ in range(ABSORBERS)]
        finished = asyncio.create_task(all_in.wait())
        try:
            if sources:
                done, _ = await asyncio.wait([finished, *absorbers], return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # an absorber's failure (a full disk, a damaged store) is the caller's
        finally:
            for task in [*tasks, *absorbers, finished]:
                task.cancel()
            arrivals.close()
        return outcomes

    async def _fetch(self, source: SourceConfig, state: SourceState, now: datetime) -> _Fetched:
        started = time.monotonic()
        try:
            result = await fetch_source(source, state, self.current_settings(), self.http, now, stop_at=state.cursor)
        except Exception as exc:  # a bug in one source's fetch must not stop the pass
            log.exception("fetching %s failed", source.name)
            result = FetchResult(source=source.name, status=FetchStatus.ERROR, error=f"internal error: {exc!r}")
        return _Fetched(source, state, result, started)

    async def _absorb(self, batch: list[_Fetched], now: datetime) -> list[SourceOutcome]:
        """Ingest the batch's entries together (one source at a time if that fails), then record each source."""
        cap = self.current_settings().fetch.max_entries_per_pass
        stored = [f for f in batch if f.result.status is FetchStatus.OK and f.result.entries]
        reports: dict[str, IngestReport | Exception] = {}
        if stored:
            try:
                reports.update(await self._ingest([e for f in stored for e in f.result.entries], cap))
            except Exception as exc:
                if database_failure(exc, self.pipeline.paths.db):
                    raise  # a full disk or a damaged file is no source's fault: the caller says so once
                if len(stored) == 1:
                    log.exception("ingesting %s failed", stored[0].source.name)
                    reports[stored[0].source.name] = exc
                else:  # find the source whose data breaks ingest; the others are stored
                    for fetched in stored:
                        try:
                            reports.update(await self._ingest(fetched.result.entries, cap))
                        except Exception as own:
                            log.exception("ingesting %s failed", fetched.source.name)
                            reports[fetched.source.name] = own
        return await self._locked(self._record_all, batch, reports, now)

    async def _ingest(self, entries: list[RawEntry], pass_cap: int) -> dict[str, IngestReport]:
        """Store `entries` in chunks of at most INGEST_BATCH new items a source: each chunk planned
        and written under the lock, embedded outside it, so a reader waits for one chunk's write, never
        for a whole 20k-entry feed. While a chunk is written, the next one's likely texts are embedded
        (`Pipeline.embed_ahead`), so a huge feed costs about its embedding, not embedding plus writing.
        A source stops at `pass_cap` new items; the rest stay deferred.
        The caller moves a source's cursor only after this returns, so a process that dies between
        chunks fetches the feed again and stores the rest (what was stored is then a duplicate)."""
        chunk: Prepared | None = await self._locked(self.pipeline.prepare, entries, min(INGEST_BATCH, pass_cap))
        reports: dict[str, IngestReport] = {}
        while chunk is not None:
            async with self.embedding:
                await asyncio.to_thread(self.pipeline.embed, chunk)
            ahead = asyncio.create_task(self._embed_ahead(chunk))  # the next chunk embeds while this one is written
            try:
                following = await self._locked(self._commit_chunk, chunk, reports, pass_cap)
                if self.on_stored:
                    self.on_stored(self.stored_new)  # a huge feed's progress shows before the feed is done
                vectors = await ahead
            finally:
                if not ahead.done():
                    ahead.cancel()
                elif not ahead.cancelled():
                    ahead.exception()  # seen: when the write failed, its failure is the one reported
            if following is not None:
                following.vectors.update(vectors)
            chunk = following
        return reports

    async def _embed_ahead(self, chunk: Prepared) -> dict[str, np.ndarray]:
        if not chunk.backlog:
            return {}
        async with self.embedding:
            return await asyncio.to_thread(self.pipeline.embed_ahead, chunk)

    def _commit_chunk(self, chunk: Prepared, reports: dict[str, IngestReport], pass_cap: int) -> Prepared | None:
        """Write `chunk`, add its counts to `reports`, and plan the next chunk in the same turn of the lock."""
        for source, report in self.pipeline.commit(chunk).items():
            reports[source] = _added(reports.get(source), report)
            self.stored_new += report.new
        full = {source for source, report in reports.items() if report.new >= pass_cap}
        return self.pipeline.prepare_rest(chunk, full)

    async def _locked(self, function: Callable[..., _T], *args: Any) -> _T:
        async with self.lock:
            return await asyncio.to_thread(function, *args)

    def _record_all(
        self, batch: list[_Fetched], reports: dict[str, IngestReport | Exception], now: datetime
    ) -> list[SourceOutcome]:
        """Record each source of the batch in one transaction (a pass of 2000 304s is 2000 records)."""
        with self.pipeline.store.transaction():
            totals = self.pipeline.store.count_sources_items([fetched.source.name for fetched in batch])
            return [self._record(fetched, reports, now, totals[fetched.source.name]) for fetched in batch]

    def _record(
        self, fetched: _Fetched, reports: dict[str, IngestReport | Exception], now: datetime, items_total: int
    ) -> SourceOutcome:
        source, state, result = fetched.source, fetched.state, fetched.result
        report = reports.get(source.name, IngestReport())
        if isinstance(report, Exception):
            result, report = _as_error(result, f"internal error while storing entries: {report!r}"), IngestReport()
        settings = self.current_settings()
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
        new_state.items_total = items_total
        updated = [entry.updated or entry.published for entry in result.entries]
        known = [moment for moment in [*updated, state.cursor] if moment is not None]
        if report.deferred:  # the rest are still in the feed: fetch it again, in full, at once
            new_state = replace(new_state, etag=None, last_modified=None, next_due=now)
        elif result.status is FetchStatus.OK and known:
            new_state.cursor = max(known)
        self.pipeline.store.save_source_state(new_state)
        return SourceOutcome(
            source=source.name,
            status=result.status,
            report=report,
            error=result.error,
            used_fallback=result.used_fallback,
            seconds=time.monotonic() - fetched.started,
            next_due=new_state.next_due,
        )


def _added(before: IngestReport | None, chunk: IngestReport) -> IngestReport:
    """A source's counts over the chunks so far; `deferred` is what its latest chunk left."""
    if before is None:
        return chunk
    return IngestReport(
        new=before.new + chunk.new,
        duplicate=before.duplicate + chunk.duplicate,
        updated=before.updated + chunk.updated,
        skipped=before.skipped + chunk.skipped,
        deferred=chunk.deferred,
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
    on_stored: Callable[[int], None] | None = None,
) -> list[SourceOutcome]:
    """Fetch `sources` concurrently into `pipeline`, then save the index once (if anything changed).
    `on_done` hears of each source once it is recorded, `on_stored` of the new items so far."""
    async with FeedHttp(settings.fetch) as http:
        with pipeline.embedding_in_worker(settings.embedding):
            harvester = Harvester(lambda: settings, pipeline, http, on_stored=on_stored)
            outcomes = await harvester.harvest(sources, now, on_done)
    await asyncio.to_thread(pipeline.save_index)
    order = {source.name: position for position, source in enumerate(sources)}
    return sorted(outcomes, key=lambda outcome: order[outcome.source])
