"""When a digest is due: pure functions of a subscriber (or a source's state) and `now`.

Kept apart from the scheduler so `bot status` can say when the next digests go out without
loading APScheduler, and so the rules are tested with fixed datetimes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.models import SourceState, Subscriber


def parse_digest_time(text: str) -> time:
    """ "08:30" → time(8, 30); anything else is a ValueError naming the value."""
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ValueError(f"digest time must be HH:MM (00:00-23:59), got {text!r}")
    return time(int(hours), int(minutes))


def _slots(subscriber: Subscriber, now: datetime, day_offsets: range) -> Iterator[datetime]:
    """The subscriber's HH:MM on the local days `day_offsets` away from now's local day, in UTC.

    A weekly subscriber has a slot only on their `weekly_day` (0 = Monday, local calendar). A time
    skipped by a DST jump resolves to the same wall time on the old offset (02:30 on a
    spring-forward night is 03:30 summer time); a repeated one to its first occurrence.
    """
    zone = ZoneInfo(subscriber.timezone)
    clock = parse_digest_time(subscriber.digest_time)
    today = now.astimezone(zone).date()
    for offset in day_offsets:
        day = today + timedelta(days=offset)
        if subscriber.frequency == "weekly" and day.weekday() != subscriber.weekly_day:
            continue
        yield datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def next_digest_time(subscriber: Subscriber, now: datetime) -> datetime:
    """The first digest (or weekly report) time strictly after `now` (UTC)."""
    return next(slot for slot in _slots(subscriber, now, range(0, 9)) if slot > now)


def last_digest_time(subscriber: Subscriber, now: datetime) -> datetime:
    """The latest digest (or weekly report) time at or before `now` (UTC)."""
    return next(slot for slot in _slots(subscriber, now, range(0, -9, -1)) if slot <= now)


def digest_due(subscriber: Subscriber, now: datetime) -> bool:
    """Due when the latest scheduled time ≤ now came after the last digest sent.

    Without a last digest, subscribing counts as the baseline (`created_at`), so a new subscriber
    gets the next scheduled digest, not an immediate one; with neither, the digest is due.
    """
    baseline = subscriber.last_digest_at or subscriber.created_at
    return baseline is None or last_digest_time(subscriber, now) > baseline


def source_wait(state: SourceState, now: datetime) -> float:
    """Seconds until the source is due; 0 when it is due or was never fetched."""
    if state.next_due is None:
        return 0.0
    return max(0.0, (state.next_due - now).total_seconds())
