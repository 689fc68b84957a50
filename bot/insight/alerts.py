"""Breaking alerts: when a story is big enough, fast enough, not to wait for tomorrow's digest.

The decision is a pure function of the story's coverage, the subscriber's settings and `now`
(`decide_alert`), so tests drive the clock by hand. Two triggers:

- *breadth*: the story reached `min_outlets` outlets in `min_langs` languages inside one window of
  `within` (e.g. 4 outlets, 2 languages, 6 hours). Each outlet counts from when it first carried the story; the
  moment the window first held enough is when the story *broke*. A story that broke long ago (a
  backfill, the bot down for a day) is stale and left to the digest: an alert is news or nothing.
- *follow*: the story matches (cosine ≥ `follow_similarity`, fitted by tools/calibrate_follow.py) one of the
  subscriber's `/follow` topics and was published within `within`.

Quiet hours ("23:00-07:00", the subscriber's local time, may wrap midnight) hold an alert back;
one that broke during quiet hours goes out when they end, and stays fresh for `within` from then.
Once per story per subscriber: `alerts_sent` remembers the story and its size, so a restart does not
repeat it, and the next digest leaves it out unless it has grown since (`digest.grew_since_alert`).
The I/O around the decision (`pending_alerts`) reads candidates from the store; sending is the
Telegram side's (`telegram_services.send_alerts`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.core.config import AlertsConfig
from bot.core.models import Subscriber
from bot.query.interest import as_counted, counted, follow_matches, in_themes, muted_stories
from bot.storage import Coverage, StorySummary

if TYPE_CHECKING:  # only the store and the embedder are read; the decision itself needs neither
    from bot.ingest.pipeline import Pipeline

log = logging.getLogger(__name__)

BREADTH = "breadth"
FOLLOW = "follow"
CANDIDATE_LIMIT = 500
_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class Alert:
    """A decision to alert one chat about one story, and why (`reason`: breadth or follow)."""

    chat_id: int
    lang: str
    story: StorySummary
    reason: str
    follow_text: str = ""
    muted_sources: frozenset[str] = frozenset()  # the chat's muted sources: not linked under the alert


# -- pure core -------------------------------------------------------------------------------


def parse_quiet(text: str) -> tuple[time, time] | None:
    """ "23:00-07:00" → (23:00, 07:00); "" → None; anything else is a ValueError naming the value."""
    if not text.strip():
        return None
    match = _QUIET.match(text)
    if not match or int(match[1]) > 23 or int(match[3]) > 23 or int(match[2]) > 59 or int(match[4]) > 59:
        raise ValueError(f"quiet hours must look like 23:00-07:00, got {text!r}")
    start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
    if start == end:
        raise ValueError(f"quiet hours must not start and end at the same time, got {text!r}")
    return start, end


def quiet_until(subscriber: Subscriber, moment: datetime) -> datetime | None:
    """When the quiet window that contains `moment` ends (UTC), or None when `moment` is not quiet."""
    window = parse_quiet(subscriber.quiet)
    if window is None:
        return None
    start, end = window
    zone = ZoneInfo(subscriber.timezone)
    local = moment.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    wraps = start > end  # e.g. 23:00-07:00
    inside = (clock >= start or clock < end) if wraps else start <= clock < end
    if not inside:
        return None
    day = local.date() + timedelta(days=1) if wraps and clock >= start else local.date()
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def broke_at(coverage: Sequence[Coverage], config: AlertsConfig) -> datetime | None:
    """The first moment `min_outlets` outlets in `min_langs` languages fell inside one `within` window."""
    first: dict[str, Coverage] = {}
    for seen in sorted(coverage, key=lambda s: s.at):
        first.setdefault(seen.outlet, seen)
    ordered = list(first.values())
    start = 0
    for end, newest in enumerate(ordered):
        while newest.at - ordered[start].at > config.within:
            start += 1
        window = ordered[start : end + 1]
        if len(window) >= config.min_outlets and len({s.lang for s in window}) >= config.min_langs:
            return newest.at
    return None


def decide_alert(
    subscriber: Subscriber,
    story: StorySummary,
    coverage: Sequence[Coverage],
    now: datetime,
    config: AlertsConfig,
    *,
    follow_score: float = 0.0,
    already_alerted: bool = False,
) -> str | None:
    """The reason to alert this subscriber about this story now (BREADTH or FOLLOW), or None.

    Breadth alerts respect the subscriber's themes; a follow is the subscriber asking for exactly
    this topic, so it passes whatever the themes.
    """
    if not (subscriber.alerts and subscriber.active) or already_alerted:
        return None
    if quiet_until(subscriber, now) is not None:
        return None
    moment = broke_at(coverage, config)
    if moment is not None and in_themes(story, subscriber.themes) and _fresh(subscriber, moment, now, config):
        return BREADTH
    if follow_score >= config.follow_similarity and _fresh(subscriber, story.last_published, now, config):
        return FOLLOW
    return None


def _fresh(subscriber: Subscriber, moment: datetime, now: datetime, config: AlertsConfig) -> bool:
    """Still news: at most `within` old, counted from the end of the quiet hours it happened in."""
    release = quiet_until(subscriber, moment) or moment
    return release <= now and now - release <= config.within


# -- the store around it -----------------------------------------------------------------------


def pending_alerts(pipeline: Pipeline, config: AlertsConfig, now: datetime) -> list[Alert]:
    """Every (chat, story) alert due now, from stories that changed within the alert window (none the chat muted;
    its muted sources neither count towards a breadth alert nor are linked)."""
    store = pipeline.store
    subscribers = [s for s in store.subscribers(subscribed_only=False) if s.alerts and s.active]
    if not subscribers:
        return []
    stories = store.stories_updated_since(now - config.within, CANDIDATE_LIMIT)
    if not stories:
        return []
    ids = [story.id for story in stories]
    coverage = store.story_coverage(ids)
    alerts: list[Alert] = []
    for subscriber in subscribers:
        scores, texts = follow_matches(pipeline, subscriber.chat_id, ids)
        alerted = store.alerted(subscriber.chat_id, ids)
        muted = muted_stories(store, subscriber, stories)
        for story in as_counted(store, subscriber, stories):
            if story.id in muted:
                continue
            seen = [one for one in coverage.get(story.id, []) if counted(subscriber, one.outlet)]
            try:
                reason = decide_alert(
                    subscriber,
                    story,
                    seen,
                    now,
                    config,
                    follow_score=scores.get(story.id, 0.0),
                    already_alerted=story.id in alerted,
                )
            except (ValueError, KeyError) as exc:  # a bad quiet setting or time zone in one row
                log.warning("chat %s: cannot decide alerts: %s", subscriber.chat_id, exc)
                break
            if reason:
                follow_text = texts.get(story.id, "") if reason == FOLLOW else ""
                muted_sources = frozenset(subscriber.muted_sources)
                alerts.append(Alert(subscriber.chat_id, subscriber.lang, story, reason, follow_text, muted_sources))
    return alerts
