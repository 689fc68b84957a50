"""Fetchers: one call, `fetch_source`, turns a configured source into a `FetchResult`.

Callers never see feedparser, arxiv or httpx objects, and never an exception for a bad feed:
a failure is a `FetchResult` with status ERROR and a readable `error` (a bug still raises).
RSS sources whose primary URL has failed `fetch.fallback_after` times in a row try the primary
first and, when it fails again, their `fallback_url`; such a result has `used_fallback=True`
and, when the fallback worked, the primary's failure in `error` (see `schedule.apply_result`).
arXiv sources run the blocking `arxiv` package in a worker thread; it is imported with the first one
(a third of a second of start-up that a pass over feeds alone never pays).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from bot.core.config import Settings, SourceConfig
from bot.core.models import FetchResult, FetchStatus, SourceState
from bot.ingest.sources.http import FeedHttp, HttpError, HttpResponse
from bot.ingest.sources.rss import fetch_rss, parse_feed
from bot.ingest.sources.schedule import apply_result, is_due, next_arxiv_poll, should_use_fallback

__all__ = [
    "FeedHttp",
    "HttpError",
    "HttpResponse",
    "apply_result",
    "fetch_rss",
    "fetch_source",
    "is_due",
    "next_arxiv_poll",
    "parse_feed",
    "should_use_fallback",
]


async def fetch_source(
    source: SourceConfig,
    state: SourceState,
    settings: Settings,
    http: FeedHttp,
    now: datetime,
    stop_at: datetime | None = None,
) -> FetchResult:
    """Fetch one source by its kind; `stop_at` (arXiv only) is the newest update already stored."""
    if source.kind == "arxiv":
        from bot.ingest.sources.arxiv import fetch_arxiv  # the arxiv package and requests: only for arXiv sources

        timeout = settings.fetch.timeout.total_seconds()
        return await asyncio.to_thread(fetch_arxiv, source, state, settings.arxiv, now, stop_at, timeout)
    primary = await fetch_rss(source, state, http, now)
    if primary.status is not FetchStatus.ERROR or not should_use_fallback(source, state, settings.fetch.fallback_after):
        return primary
    return await _with_fallback(primary, source, state, http, now)


async def _with_fallback(
    primary: FetchResult, source: SourceConfig, state: SourceState, http: FeedHttp, now: datetime
) -> FetchResult:
    fallback = await fetch_rss(source, state, http, now, use_fallback=True)
    if fallback.status is FetchStatus.ERROR:
        primary.error = f"{primary.error}; fallback also failed: {fallback.error}"
        primary.used_fallback = True
        return primary
    fallback.error = primary.error
    fallback.warnings.insert(0, f"primary URL failed ({primary.error}); entries came from fallback_url")
    return fallback
