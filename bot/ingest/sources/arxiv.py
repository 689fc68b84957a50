"""arXiv API sources: a search query, newest updates first, through the `arxiv` package.

The only module that imports `arxiv` (and the `requests` session under it). The package pages
and paces requests by the API's rules (one request every `delay_seconds`); we stop paging as
soon as results reach what we already have (`stop_at`), so a poll costs one request on most days.
Two gaps in the package are closed here with a transport adapter on its session: requests get a
timeout (the package sets none, so a stalled server would hang the worker thread), and an API
error reply (`<title>Error</title>`, e.g. a malformed id, sent with HTTP 400) becomes one readable
error instead of the package retrying it `num_retries` times and reporting only "HTTP 400".
Runs synchronously; the caller puts it in a worker thread.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import arxiv
import requests
from requests.adapters import HTTPAdapter

from bot.core.config import ArxivConfig, SourceConfig
from bot.core.errors import FetchError
from bot.core.models import FetchResult, FetchStatus, RawEntry, SourceState
from bot.ingest.sources.http import parse_retry_after

DEFAULT_TIMEOUT = 30.0

_VERSIONED = re.compile(r"^(?P<id>.+?)(?:v(?P<version>\d+))?$")
_ERROR_ENTRY = re.compile(rb"<entry>\s*<id>[^<]*/api/errors[^<]*</id>.*?<summary>(?P<summary>.*?)</summary>", re.S)


class _ApiAdapter(HTTPAdapter):
    """Transport for the package's session: a timeout, API errors raised, Retry-After kept."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.retry_after: datetime | None = None

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        response = super().send(
            request, stream=stream, timeout=timeout or self.timeout, verify=verify, cert=cert, proxies=proxies
        )
        match = _ERROR_ENTRY.search(response.content) if b"/api/errors" in response.content else None
        if match:
            text = html.unescape(match["summary"].decode("utf-8", "replace")).strip()
            raise FetchError(f"arXiv API error: {text or 'unspecified'}")
        self.retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        return response


def fetch_arxiv(
    source: SourceConfig,
    state: SourceState,
    cfg: ArxivConfig,
    now: datetime,
    stop_at: datetime | None,
    timeout: float = DEFAULT_TIMEOUT,
) -> FetchResult:
    """One poll of an arXiv query, newest first, stopping at entries updated before `stop_at`.

    `state` is not consulted: the API has no conditional GET, and `stop_at` plays that part.

    Entries updated exactly at `stop_at` are kept (a tie may hide one we have not seen; the
    store drops duplicates). A failure on any page fails the whole poll: keeping the first
    pages would move `stop_at` past the entries of the page that failed.
    """
    client, adapter = _client(cfg, source.max_results, timeout)
    search = arxiv.Search(
        query=source.query or "",
        max_results=source.max_results,
        sort_by=arxiv.SortCriterion.LastUpdatedDate,
        sort_order=arxiv.SortOrder.Descending,
    )
    try:
        entries = _collect(client.results(search), source, now, stop_at)
    except (FetchError, arxiv.ArxivError, requests.RequestException) as exc:
        return FetchResult(
            source=source.name,
            status=FetchStatus.ERROR,
            error=_describe(exc, timeout),
            retry_after=adapter.retry_after if isinstance(exc, arxiv.HTTPError) else None,
        )
    return FetchResult(source=source.name, status=FetchStatus.OK, entries=entries)


def _client(cfg: ArxivConfig, max_results: int, timeout: float) -> tuple[arxiv.Client, _ApiAdapter]:
    client = arxiv.Client(
        page_size=min(cfg.page_size, max_results),
        delay_seconds=cfg.delay_seconds,
        num_retries=cfg.num_retries,
    )
    separator = "&" if "?" in cfg.api_url else "?"
    client.query_url_format = cfg.api_url + separator + "{}"
    adapter = _ApiAdapter(timeout)
    # The package exposes no hook for its session; mounting an adapter is the requests way in.
    for prefix in ("http://", "https://"):
        client._session.mount(prefix, adapter)
    return client, adapter


def _collect(
    results: Iterator[arxiv.Result], source: SourceConfig, now: datetime, stop_at: datetime | None
) -> list[RawEntry]:
    """Map results until one is older than `stop_at`."""
    entries = []
    for result in _well_formed(results):
        if stop_at is not None and result.updated < stop_at:
            break
        entries.append(to_raw_entry(result, source.name, now))
    return entries


def _well_formed(results: Iterator[arxiv.Result]) -> Iterator[arxiv.Result]:
    """The package's parser raises a bare ValueError on a garbled date; make it a fetch error."""
    try:
        yield from results
    except ValueError as exc:
        raise FetchError(f"arXiv API sent a malformed response: {_first_line(exc)}") from None


def to_raw_entry(result: arxiv.Result, source: str, fetched_at: datetime) -> RawEntry:
    """An API result as a RawEntry: id without version, abstract escaped into HTML."""
    arxiv_id, version = split_version(result.get_short_id())
    return RawEntry(
        source=source,
        title=result.title.strip(),
        link=f"https://arxiv.org/abs/{arxiv_id}",
        fetched_at=fetched_at,
        guid=result.entry_id,
        summary_html=html.escape(result.summary.strip(), quote=False),
        published=result.published,
        updated=result.updated,
        authors=tuple(author.name for author in result.authors if author.name),
        tags=tuple(dict.fromkeys(tag for tag in (result.primary_category, *result.categories) if tag)),
        lang_hint="en",
        arxiv_id=arxiv_id,
        arxiv_version=version,
    )


def split_version(short_id: str) -> tuple[str, int]:
    """'2401.01234v2' -> ('2401.01234', 2); 'hep-ex/0101001' -> ('hep-ex/0101001', 0)."""
    match = _VERSIONED.match(short_id)
    if not match:
        return short_id, 0
    return match["id"], int(match["version"] or 0)


def _describe(exc: Exception, timeout: float) -> str:
    if isinstance(exc, FetchError):
        return str(exc)
    if isinstance(exc, arxiv.HTTPError):
        return f"arXiv API answered HTTP {exc.status}"
    if isinstance(exc, arxiv.UnexpectedEmptyPageError):
        return "arXiv API returned an empty page in the middle of the results"
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc):
        return f"arXiv API timed out after {timeout:g}s"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect to the arXiv API: {_first_line(exc)}"
    return f"arXiv API request failed: {_first_line(exc)}"


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
