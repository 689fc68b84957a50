"""Plain data passed between pipeline stages.

Every stage speaks these dataclasses instead of a library's objects (a feedparser dict, an
`arxiv.Result`, a sqlite row), so a stage can be tested with values written by hand and a
library can be swapped inside one module. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

OTHER_THEME = "other"  # the theme of what fits no configured theme
PEOPLE_THEME = "people_moves"  # the theme a stated job move always carries


class FetchStatus(StrEnum):
    """How one attempt to fetch a source ended."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One entry as the source said it: HTML left in, dates as parsed, nothing inferred.

    `published` is None when the feed gave no usable date; normalize falls back to
    `fetched_at` and flags it. `arxiv_id` is set by the arXiv fetcher (without version);
    for other feeds normalize derives it from the link when the link is an arXiv page.
    """

    source: str
    title: str
    link: str
    fetched_at: datetime
    guid: str = ""
    summary_html: str = ""
    content_html: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    lang_hint: str = ""
    arxiv_id: str = ""
    arxiv_version: int = 0


@dataclass(slots=True)
class FetchResult:
    """The outcome of one fetch of one source: errors are values here, never exceptions.

    `retry_after` is the earliest moment the server allows the next attempt (Retry-After on
    429/503); `final_url` is set when a permanent redirect moved the feed.
    """

    source: str
    status: FetchStatus
    entries: list[RawEntry] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    error: str = ""
    retry_after: datetime | None = None
    final_url: str | None = None
    used_fallback: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SourceState:
    """What we remember about a source between fetches (persisted by the store)."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    consecutive_errors: int = 0
    last_error: str = ""
    next_due: datetime | None = None
    items_total: int = 0
    final_url: str | None = None
    cursor: datetime | None = None


@dataclass(slots=True)
class Item:
    """A normalized entry: clean text, canonical URL, language, UTC time, content hash.

    `id` is 0 until the store assigns one; it is also the item's id in the vector index.
    `published_estimated` is True when the source gave no date and fetch time stands in.
    """

    source: str
    guid: str
    url: str
    title: str
    text: str
    lang: str
    published: datetime
    fetched_at: datetime
    content_hash: str
    published_estimated: bool = False
    arxiv_id: str = ""
    arxiv_version: int = 0
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    id: int = 0

    @property
    def embed_text(self) -> str:
        """The text a vector is computed from: the headline plus the lead of the body."""
        return f"{self.title}\n{self.text[:600]}"

    def identities(self) -> list[str]:
        """Identities that make two entries the same item (exact-duplicate tier)."""
        keys = []
        if self.arxiv_id:
            keys.append(f"arxiv:{self.arxiv_id}")
        if self.url:
            keys.append("url:" + self.url.split("://", 1)[-1])
        if self.guid:
            keys.append(f"guid:{self.source}:{self.guid}")
        if not keys:
            keys.append(f"hash:{self.source}:{self.content_hash}")
        return keys


@dataclass(slots=True)
class IngestReport:
    """What one batch did to the store, per source: the numbers a fetch summary prints."""

    new: int = 0
    duplicate: int = 0
    updated: int = 0
    skipped: int = 0
    deferred: int = 0  # new entries left for the next pass (fetch.max_entries_per_pass)


@dataclass(slots=True)
class Subscriber:
    """One Telegram chat and its digest settings; `themes` empty means every theme.

    `digest_time` is "HH:MM" in `timezone` (an IANA name); `last_digest_at` is when the last
    digest was sent (UTC), so a restart neither skips nor repeats one.
    """

    chat_id: int
    user_id: int = 0
    lang: str = "en"
    themes: tuple[str, ...] = ()
    digest_time: str = "08:30"
    timezone: str = "UTC"
    subscribed: bool = False
    active: bool = True
    last_digest_at: datetime | None = None
    created_at: datetime | None = None
    frequency: str = "daily"  # or "weekly": one report on `weekly_day` (0 = Monday) at `digest_time`
    weekly_day: int = 0
    alerts: bool = False  # breaking alerts pushed at once, outside `quiet` ("HH:MM-HH:MM", local time)
    quiet: str = ""


@dataclass(frozen=True, slots=True)
class Follow:
    """A semantic topic subscription: stories close in meaning to `text` join the chat's digest."""

    id: int
    chat_id: int
    text: str
