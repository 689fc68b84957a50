"""When to fetch each source next: interval with jitter, backoff on errors, arXiv's calendar.

Pure functions of a source's state, a fetch result and `now` (no sleeping, no I/O), so every
rule is tested with fixed datetimes. Jitter (±10 %) spreads sources that share an interval;
errors double the wait up to `max_backoff`; a server's Retry-After is honoured (up to
`max_backoff`, so a garbled year-long value cannot silence a source). arXiv announces new
listings Sunday to Thursday at 20:00 US/Eastern and nothing on Friday or Saturday, so an arXiv
source is polled shortly after the next announcement (but never sooner than its interval)
instead of every interval through a quiet day or weekend. Holidays are not modelled: a poll
after a skipped announcement simply finds nothing new.

Fallback bookkeeping: `consecutive_errors` counts failures of the primary URL. A round that
failed on the primary but succeeded on the fallback (`used_fallback` and OK) still counts as a
primary failure, yet is scheduled like a success, so the fallback keeps serving while the
primary is probed first on every round.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.config import SourceConfig
from bot.core.models import FetchResult, FetchStatus, SourceState

JITTER = 0.10
ARXIV_ZONE = ZoneInfo("America/New_York")
ARXIV_ANNOUNCEMENT = time(20, 0)
ARXIV_ANNOUNCE_WEEKDAYS = frozenset({6, 0, 1, 2, 3})  # Sunday..Thursday (Monday is 0)
ARXIV_SETTLE = timedelta(minutes=15)
ARXIV_SPREAD = timedelta(minutes=5)


def apply_result(
    state: SourceState,
    result: FetchResult,
    now: datetime,
    interval: timedelta,
    max_backoff: timedelta,
    kind: str,
    rng: random.Random,
) -> SourceState:
    """The state after `result`: counters, validators and the next due time."""
    if result.status is FetchStatus.ERROR:
        return _after_error(state, result, now, interval, max_backoff, rng)
    if result.used_fallback:
        return _after_fallback(state, result, now, interval, kind, rng)
    return replace(
        state,
        etag=result.etag,
        last_modified=result.last_modified,
        last_attempt=now,
        last_success=now,
        consecutive_errors=0,
        last_error="",
        next_due=_next_regular(now, interval, kind, rng),
        final_url=result.final_url or state.final_url,
    )


def is_due(state: SourceState, now: datetime) -> bool:
    """A source never fetched, or whose next due time has come."""
    return state.next_due is None or state.next_due <= now


def should_use_fallback(source: SourceConfig, state: SourceState, fallback_after: int) -> bool:
    """The primary failed `fallback_after` times in a row and there is somewhere else to go."""
    return bool(source.fallback_url) and state.consecutive_errors >= fallback_after


def backoff_delay(errors: int, interval: timedelta, max_backoff: timedelta) -> timedelta:
    """interval, 2x, 4x, ... after 1, 2, 3, ... consecutive errors, capped at `max_backoff`."""
    factor = 2.0 ** min(max(errors - 1, 0), 60)
    return timedelta(seconds=min(max_backoff.total_seconds(), interval.total_seconds() * factor))


def next_arxiv_poll(after: datetime) -> datetime:
    """The first announcement slot (20:00 ET, Sunday-Thursday, plus a settling delay) after `after`."""
    local = after.astimezone(ARXIV_ZONE)
    for offset in range(9):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in ARXIV_ANNOUNCE_WEEKDAYS:
            continue
        slot = datetime.combine(day, ARXIV_ANNOUNCEMENT, tzinfo=ARXIV_ZONE) + ARXIV_SETTLE
        if slot > after:
            return slot.astimezone(UTC)
    raise AssertionError("unreachable: an announcement happens every week")


def _after_error(
    state: SourceState,
    result: FetchResult,
    now: datetime,
    interval: timedelta,
    max_backoff: timedelta,
    rng: random.Random,
) -> SourceState:
    errors = state.consecutive_errors + 1
    due = now + _jittered(backoff_delay(errors, interval, max_backoff), rng)
    if result.retry_after is not None:
        due = max(due, min(result.retry_after, now + max_backoff))
    return replace(
        state,
        last_attempt=now,
        consecutive_errors=errors,
        last_error=result.error,
        next_due=due,
    )


def _after_fallback(
    state: SourceState, result: FetchResult, now: datetime, interval: timedelta, kind: str, rng: random.Random
) -> SourceState:
    """Content came from the fallback: a success for the schedule, a failure for the primary."""
    return replace(
        state,
        last_attempt=now,
        last_success=now,
        consecutive_errors=state.consecutive_errors + 1,
        last_error=result.error or state.last_error,
        next_due=_next_regular(now, interval, kind, rng),
    )


def _next_regular(now: datetime, interval: timedelta, kind: str, rng: random.Random) -> datetime:
    if kind == "arxiv":
        spread = timedelta(seconds=rng.uniform(0, ARXIV_SPREAD.total_seconds()))
        return max(now + interval, next_arxiv_poll(now)) + spread
    return now + _jittered(interval, rng)


def _jittered(delay: timedelta, rng: random.Random) -> timedelta:
    return delay * rng.uniform(1 - JITTER, 1 + JITTER)
