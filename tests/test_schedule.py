"""Scheduling rules with fixed clocks: jitter, backoff, Retry-After, arXiv's announcement calendar."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.config import SourceConfig
from bot.core.models import FetchResult, FetchStatus, SourceState
from bot.ingest.sources.schedule import (
    apply_result,
    backoff_delay,
    is_due,
    next_arxiv_poll,
    should_use_fallback,
)

ET = ZoneInfo("America/New_York")
NOW = datetime(2024, 11, 13, 15, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def ok(**fields: object) -> FetchResult:
    return FetchResult(source="s", status=FetchStatus.OK, **fields)


def error(text: str = "HTTP 500 Internal Server Error", **fields: object) -> FetchResult:
    return FetchResult(source="s", status=FetchStatus.ERROR, error=text, **fields)


def apply(state: SourceState, result: FetchResult, now: datetime = NOW, kind: str = "rss", seed: int = 0):
    return apply_result(state, result, now, HOUR, DAY, kind, random.Random(seed))


def test_success_resets_errors_and_keeps_validators() -> None:
    state = SourceState(name="s", consecutive_errors=3, last_error="boom", etag='"old"')
    after = apply(state, ok(etag='"new"', last_modified="Wed, 13 Nov 2024 14:00:00 GMT"))
    assert after.consecutive_errors == 0 and after.last_error == ""
    assert after.etag == '"new"' and after.last_modified == "Wed, 13 Nov 2024 14:00:00 GMT"
    assert after.last_success == NOW and after.last_attempt == NOW
    assert state.consecutive_errors == 3  # the input is not mutated


def test_not_modified_counts_as_success() -> None:
    after = apply(SourceState(name="s", consecutive_errors=2), FetchResult("s", FetchStatus.NOT_MODIFIED))
    assert after.consecutive_errors == 0 and after.last_success == NOW


def test_permanent_redirect_is_remembered() -> None:
    after = apply(SourceState(name="s"), ok(final_url="https://new.example/feed"))
    assert after.final_url == "https://new.example/feed"
    assert apply(after, ok()).final_url == "https://new.example/feed"


@pytest.mark.parametrize("seed", range(50))
def test_interval_jitter_stays_within_ten_percent(seed: int) -> None:
    due = apply(SourceState(name="s"), ok(), seed=seed).next_due
    assert due is not None and NOW + HOUR * 0.9 <= due <= NOW + HOUR * 1.1


def test_jitter_actually_spreads_sources() -> None:
    dues = {apply(SourceState(name="s"), ok(), seed=seed).next_due for seed in range(20)}
    assert len(dues) == 20


def test_backoff_doubles_then_caps() -> None:
    delays = [backoff_delay(n, HOUR, DAY) for n in range(1, 8)]
    assert delays == [HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 16 * HOUR, DAY, DAY]
    assert backoff_delay(10_000, timedelta(days=3), DAY) == DAY  # no overflow for huge counts


def test_errors_grow_the_wait_with_jitter() -> None:
    state = SourceState(name="s")
    waits = []
    for _ in range(7):
        state = apply(state, error())
        assert state.next_due is not None
        waits.append(state.next_due - NOW)
    assert state.consecutive_errors == 7 and state.last_error == "HTTP 500 Internal Server Error"
    for wait, expected in zip(waits, [1, 2, 4, 8, 16, 24, 24], strict=True):
        assert HOUR * expected * 0.9 <= wait <= HOUR * expected * 1.1
    assert state.last_success is None


def test_retry_after_is_respected() -> None:
    later = NOW + timedelta(hours=5)
    after = apply(SourceState(name="s"), error("HTTP 503 Service Unavailable", retry_after=later))
    assert after.next_due == later


def test_retry_after_sooner_than_backoff_does_not_shorten_it() -> None:
    after = apply(SourceState(name="s", consecutive_errors=4), error(retry_after=NOW + timedelta(minutes=1)))
    assert after.next_due is not None and after.next_due >= NOW + 16 * HOUR * 0.9


def test_absurd_retry_after_is_capped_at_max_backoff() -> None:
    after = apply(SourceState(name="s"), error(retry_after=NOW + timedelta(days=365)))
    assert after.next_due == NOW + DAY


def test_fallback_success_is_scheduled_like_a_success_but_counts_the_primary_failure() -> None:
    state = SourceState(name="s", consecutive_errors=3, etag='"primary"')
    after = apply(state, ok(used_fallback=True, error="HTTP 503 Service Unavailable", etag='"mirror"'))
    assert after.consecutive_errors == 4 and after.last_success == NOW
    assert after.etag == '"primary"'  # the fallback's validators are not the primary's
    assert after.next_due is not None and after.next_due <= NOW + HOUR * 1.1


def test_is_due() -> None:
    assert is_due(SourceState(name="s"), NOW)
    assert is_due(SourceState(name="s", next_due=NOW), NOW)
    assert not is_due(SourceState(name="s", next_due=NOW + timedelta(seconds=1)), NOW)


def test_should_use_fallback() -> None:
    with_fallback = SourceConfig(name="s", kind="rss", url="https://a.example/f", fallback_url="https://b.example/f")
    without = SourceConfig(name="s", kind="rss", url="https://a.example/f")
    assert not should_use_fallback(with_fallback, SourceState(name="s", consecutive_errors=2), 3)
    assert should_use_fallback(with_fallback, SourceState(name="s", consecutive_errors=3), 3)
    assert not should_use_fallback(without, SourceState(name="s", consecutive_errors=9), 3)


# arXiv's calendar: announcements Sunday-Thursday 20:00 America/New_York -----------------------


def et(*args: int) -> datetime:
    return datetime(*args, tzinfo=ET)


def test_friday_noon_waits_for_sunday_evening() -> None:
    friday_noon = et(2024, 11, 15, 12, 0)
    assert next_arxiv_poll(friday_noon) == et(2024, 11, 17, 20, 15).astimezone(UTC)
    state = apply(SourceState(name="s"), ok(), now=friday_noon.astimezone(UTC), kind="arxiv")
    assert state.next_due is not None
    assert et(2024, 11, 17, 20, 15) <= state.next_due <= et(2024, 11, 17, 20, 20)


def test_weekday_poll_goes_to_the_same_evening() -> None:
    tuesday_morning = et(2024, 11, 12, 9, 0)
    assert next_arxiv_poll(tuesday_morning) == et(2024, 11, 12, 20, 15).astimezone(UTC)


def test_after_thursday_announcement_waits_until_sunday() -> None:
    assert next_arxiv_poll(et(2024, 11, 14, 20, 30)) == et(2024, 11, 17, 20, 15).astimezone(UTC)


def test_arxiv_poll_never_earlier_than_interval() -> None:
    just_before = et(2024, 11, 12, 19, 30).astimezone(UTC)
    state = apply(SourceState(name="s"), ok(), now=just_before, kind="arxiv")
    assert state.next_due is not None
    assert just_before + HOUR <= state.next_due <= just_before + HOUR + timedelta(minutes=5)


def test_arxiv_daily_interval_lands_after_an_announcement() -> None:
    after_poll = et(2024, 11, 12, 20, 20).astimezone(UTC)
    state = apply_result(SourceState(name="s"), ok(), after_poll, DAY, DAY, "arxiv", random.Random(0))
    assert state.next_due is not None and state.next_due >= after_poll + DAY


def test_dst_spring_forward() -> None:
    """10 March 2024: clocks jump to EDT (UTC-4) that Sunday morning; 20:15 EDT is 00:15 UTC."""
    friday = et(2024, 3, 8, 12, 0)
    assert next_arxiv_poll(friday) == datetime(2024, 3, 11, 0, 15, tzinfo=UTC)


def test_dst_fall_back() -> None:
    """3 November 2024: back to EST (UTC-5); 20:15 EST is 01:15 UTC."""
    friday = et(2024, 11, 1, 12, 0)
    assert next_arxiv_poll(friday) == datetime(2024, 11, 4, 1, 15, tzinfo=UTC)
    summer_sunday = et(2024, 10, 27, 12, 0)
    assert next_arxiv_poll(summer_sunday) == datetime(2024, 10, 28, 0, 15, tzinfo=UTC)


def test_arxiv_errors_back_off_without_the_calendar() -> None:
    friday_noon = et(2024, 11, 15, 12, 0).astimezone(UTC)
    state = apply(SourceState(name="s"), error(), now=friday_noon, kind="arxiv")
    assert state.next_due is not None and state.next_due <= friday_noon + HOUR * 1.1
