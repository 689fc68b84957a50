"""RSS/Atom/RDF sources: fetch with a conditional GET, parse with feedparser, emit `RawEntry`s.

The only module that touches feedparser. Parsing is a pure function of the bytes and the
response headers (the charset in Content-Type decides how GB2312/GBK Chinese feeds decode),
so it is tested on recorded documents without a network. Real feeds are often broken: a
document feedparser can salvage keeps its entries and the breakage becomes a warning; a
document that is not a feed at all (an HTML page, an empty reply) is one readable error for
that source. arXiv listing feeds (rss.arxiv.org RSS/Atom, the old export.arxiv.org RDF) also
come through here; their ids, versions and announcement boilerplate are decoded here, where
the knowledge of those formats lives. Entries announced as `replace-cross` (a new version of
a paper from another category, merely cross-listed here) are dropped as not news; `replace`
entries stay, and `arxiv_version > 1` tells the pipeline that they are revisions.
"""

from __future__ import annotations

import asyncio
import calendar
import html
import io
import itertools
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from bot.core.config import SourceConfig
from bot.core.errors import FetchError
from bot.core.models import FetchResult, FetchStatus, RawEntry, SourceState
from bot.ingest.sources.http import FeedHttp, HttpResponse

TITLE_MAX = 1_000
TEXT_MAX = 100_000
MAX_TAGS = 300_000  # a 50k-entry feed (fetch.max_entries_per_pass) at six tags an entry; ~12 s of feedparser

_ARXIV_ID = r"(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[a-z-]{2,})?/\d{7})(?:v(\d+))?"
_ARXIV_PAGE = re.compile(r"^(?:oai:arxiv\.org:|https?://(?:www\.|export\.)?arxiv\.org/abs/)" + _ARXIV_ID, re.I)
_ARXIV_MENTION = re.compile(r"\barxiv:" + _ARXIV_ID, re.I)
_OLD_ARXIV_TITLE_SUFFIX = re.compile(r"\.?\s*\(arXiv:\S+ \[[^\]]*\][^)]*\)\s*$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2}))?")
_ANNOUNCE_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?")
_SKIPPED_ANNOUNCE_TYPES = frozenset({"replace-cross"})
_TAG = re.compile(r"<[^>]+>")
_TAG_START = re.compile(rb"<[a-z_]|&lt;[a-z]|&#0*60;[a-z]|&#x0*3c;[a-z]", re.I)
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)


def parse_feed(
    body: bytes, headers: dict[str, str], source: str, fetched_at: datetime, lang_hint: str = ""
) -> tuple[list[RawEntry], list[str]]:
    """Entries of one feed document plus warnings; `FetchError` when it is not a feed at all, or one
    too costly to parse."""
    _refuse_costly(body)
    parsed = _parse(body, headers)
    if not parsed.entries and _lied_about_utf8(parsed, body):
        declared = parsed.get("encoding", "")
        parsed = _parse(body, {**headers, "content-type": "application/xml; charset=utf-8"})
        parsed["bozo_exception"] = f"declared as {declared} but the bytes are UTF-8; read as UTF-8"
        parsed["bozo"] = True
    warnings = [_bozo_warning(parsed)] if parsed.get("bozo") else []
    if not parsed.entries:
        _reject_if_not_a_feed(parsed, body, headers)
    _reject_arxiv_api_error(parsed.entries)
    base = headers.get("content-location") or parsed.feed.get("link", "")
    lang = lang_hint or _primary_language(parsed.feed.get("language", ""))
    entries = [
        _to_raw_entry(entry, source, fetched_at, base, lang)
        for entry in parsed.entries
        if entry.get("arxiv_announce_type", "").strip() not in _SKIPPED_ANNOUNCE_TYPES
    ]
    kept = [entry for entry in entries if entry.title or entry.link or entry.summary_html]
    if len(kept) < len(entries):
        warnings.append(f"skipped {len(entries) - len(kept)} entries with no title, link or text")
    return kept, warnings


async def fetch_rss(
    source: SourceConfig, state: SourceState, http: FeedHttp, now: datetime, use_fallback: bool = False
) -> FetchResult:
    """One fetch of a feed; every failure is returned as an ERROR result, not raised.

    The fallback URL is fetched without the primary's validators (they belong to the primary).
    """
    url = source.fallback_url if use_fallback else source.url
    if not url:
        raise ValueError(f"source {source.name!r} has no {'fallback_url' if use_fallback else 'url'}")
    etag, modified = (None, None) if use_fallback else (state.etag, state.last_modified)
    try:
        response = await http.get(url, etag=etag, last_modified=modified)
        if response.status == 304:
            return _not_modified(source.name, response, etag, modified, use_fallback)
        entries, warnings = await asyncio.to_thread(
            parse_feed, response.body, _parse_headers(response), source.name, now, source.lang
        )
    except FetchError as exc:
        return FetchResult(
            source=source.name,
            status=FetchStatus.ERROR,
            error=str(exc),
            retry_after=getattr(exc, "retry_after", None),
            used_fallback=use_fallback,
        )
    return FetchResult(
        source=source.name,
        status=FetchStatus.OK,
        entries=entries,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        final_url=response.final_url if response.permanent_redirect else None,
        used_fallback=use_fallback,
        warnings=warnings,
    )


def _refuse_costly(body: bytes) -> None:
    """Refuse a document with more than MAX_TAGS tags before feedparser sees it.

    feedparser spends 20-55 µs and about 0.5 kB per element and cannot be interrupted, so a 10 MB
    document of nested elements held a core for 70 s and 0.85 GB. Tags are counted by a scan at C
    speed, escaped HTML (`&lt;p&gt;`, which feedparser unescapes and sanitizes) included, and with
    NUL bytes dropped so that UTF-16 and UTF-32 documents are counted too.
    """
    text = body.replace(b"\0", b"") if b"\0" in body[:4096] else body
    if next(itertools.islice(_TAG_START.finditer(text), MAX_TAGS, None), None) is not None:
        raise FetchError(
            f"too many elements to parse: more than {MAX_TAGS} tags (parsing it would hold the bot for minutes)"
        )


def _parse(body: bytes, headers: dict[str, str]) -> Any:
    """feedparser on the charset-bearing headers only.

    Content-Location is withheld: feedparser would resolve non-URI Atom ids against it, and a
    guid must not change when the feed's address does. Entry links are resolved by us instead.
    """
    wanted = {k: v for k, v in headers.items() if k.lower() in ("content-type", "content-language")}
    # A stream, never bytes: feedparser tries bytes as a local file name before parsing them.
    return feedparser.parse(io.BytesIO(body), response_headers=wanted)


def _lied_about_utf8(parsed: Any, body: bytes) -> bool:
    """A document that failed under its declared encoding but is valid UTF-8 (a common lie)."""
    if parsed.get("encoding", "").lower() in ("utf-8", "") or not _broken_xml(parsed):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _not_modified(
    name: str, response: HttpResponse, etag: str | None, modified: str | None, used_fallback: bool
) -> FetchResult:
    return FetchResult(
        source=name,
        status=FetchStatus.NOT_MODIFIED,
        etag=response.headers.get("etag", etag),
        last_modified=response.headers.get("last-modified", modified),
        final_url=response.final_url if response.permanent_redirect else None,
        used_fallback=used_fallback,
    )


def _parse_headers(response: HttpResponse) -> dict[str, str]:
    """The response headers, with Content-Location made absolute: the base for relative links."""
    headers = dict(response.headers)
    headers["content-location"] = urljoin(response.final_url, response.headers.get("content-location", ""))
    return headers


def _bozo_warning(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    detail = str(exc).strip() or type(exc).__name__
    return f"feed is not well-formed: {detail}"[:300]


def _reject_if_not_a_feed(parsed: Any, body: bytes, headers: dict[str, str]) -> None:
    """A feed with no entries is fine; a document with no feed in it is an error."""
    if parsed.get("version") and not _broken_xml(parsed):
        return
    if parsed.get("version"):
        raise FetchError(f"malformed feed, no entries could be read: {_bozo_detail(parsed)}")
    raise FetchError(f"not a feed: {_describe_non_feed(parsed, body, headers)}")


def _broken_xml(parsed: Any) -> bool:
    """Bozo for a reason worse than a wrong charset or Content-Type label."""
    soft = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
    return bool(parsed.get("bozo")) and not isinstance(parsed.get("bozo_exception"), soft)


def _describe_non_feed(parsed: Any, body: bytes, headers: dict[str, str]) -> str:
    content_type = headers.get("content-type", "").split(";")[0].strip()
    if not body.strip():
        return "the document is empty"
    if _HTML_START.match(body[:4096]):
        return "the server sent an HTML page" + (f" ({content_type})" if content_type else "")
    if body.lstrip()[:1] == b"{":
        return "the server sent JSON (JSON Feed is not supported)"
    return _bozo_detail(parsed) or "no RSS, Atom or RDF root element"


def _bozo_detail(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    return (str(exc).strip() or type(exc).__name__)[:200] if exc else ""


def _reject_arxiv_api_error(entries: Iterable[Any]) -> None:
    """The arXiv API reports a bad query as a feed with one entry titled Error."""
    for entry in entries:
        if "arxiv.org/api/errors" in entry.get("id", ""):
            message = entry.get("summary", "").strip() or entry.get("id", "")
            raise FetchError(f"arXiv API error: {message}")


def _to_raw_entry(entry: Any, source: str, fetched_at: datetime, base: str, lang: str) -> RawEntry:
    guid = entry.get("id", "").strip()
    link = _entry_link(entry, guid, base)
    arxiv_id, version = _arxiv_identity(entry, guid, link)
    title = _clean_title(entry.get("title", ""), bool(arxiv_id))
    summary = _html_of(entry.get("summary_detail"), entry.get("summary", ""))
    if arxiv_id:
        summary = _ANNOUNCE_PREFIX.sub("", summary, count=1)
    return RawEntry(
        source=source,
        title=title[:TITLE_MAX],
        link=link,
        fetched_at=fetched_at,
        guid=guid[:TITLE_MAX],
        summary_html=summary[:TEXT_MAX],
        content_html=_first_content(entry)[:TEXT_MAX],
        published=_checked_date(entry.get("published", ""), entry.get("published_parsed")),
        # dict.get: FeedParserDict.get("updated_parsed") silently falls back to published_parsed
        updated=_checked_date(dict.get(entry, "updated", ""), dict.get(entry, "updated_parsed")),
        authors=_authors(entry, split_commas=bool(arxiv_id)),
        tags=_unique(tag.get("term") or "" for tag in entry.get("tags", [])),
        lang_hint=lang,
        arxiv_id=arxiv_id,
        arxiv_version=version,
    )


def _entry_link(entry: Any, guid: str, base: str) -> str:
    link = (entry.get("link") or "").strip()
    if not link and guid.startswith(("http://", "https://")):
        link = guid
    return urljoin(base, link)[:TEXT_MAX] if link else ""


def _arxiv_identity(entry: Any, guid: str, link: str) -> tuple[str, int]:
    """(id without version, version) when the guid or link names an arXiv paper, else ("", 0).

    The version may live elsewhere: old RDF titles end "(arXiv:2107.03419v1 [hep-ex])" and
    new listing summaries start "arXiv:2609.26811v1 Announce Type: new".
    """
    pages = [m for m in (_ARXIV_PAGE.match(text) for text in (guid, link)) if m]
    if not pages:
        return "", 0
    arxiv_id = pages[0].group(1)
    mentions = _ARXIV_MENTION.finditer(entry.get("title", "") + " " + entry.get("summary", "")[:300])
    for match in [*pages, *mentions]:
        if match.group(1) == arxiv_id and match.group(2):
            return arxiv_id, int(match.group(2))
    return arxiv_id, 0


def _clean_title(title: str, is_arxiv: bool) -> str:
    title = title.strip()
    return _OLD_ARXIV_TITLE_SUFFIX.sub("", title) if is_arxiv else title


def _html_of(detail: Any, value: str) -> str:
    """Text as HTML: plain-text fields are escaped so that `<` in an abstract survives."""
    value = value or ""
    if detail and detail.get("type") == "text/plain":
        return html.escape(value, quote=False)
    return value


def _first_content(entry: Any) -> str:
    contents = entry.get("content") or []
    if not contents:
        return ""
    return _html_of(contents[0], contents[0].get("value", ""))


def _checked_date(raw: Any, parsed: Any) -> datetime | None:
    """The parsed date, unless the raw text is an ISO date with a field out of range: feedparser rolls
    2024-13-45 over into a real-looking 2025 date, which would be stored as if the feed had said so."""
    match = _ISO_DATE.match(str(raw or "").strip())
    if match and not _valid_fields(*(int(part or 0) for part in match.groups())):
        return None
    return _utc(parsed)


def _valid_fields(year: int, month: int, day: int, hour: int, minute: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(max(year, 1), month)[1] and hour <= 23 and minute <= 59


def _utc(parsed: Any) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime; None for anything unusable."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _authors(entry: Any, split_commas: bool) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors", []):
        name = html.unescape(_TAG.sub("", author.get("name") or author.get("email") or "")).strip()
        parts = [part.strip() for part in name.split(",")] if split_commas else [name]
        names.extend(part[:200] for part in parts if part and not part.startswith("et al"))
    return _unique(names)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value.strip() for value in values if value and value.strip()))


def _primary_language(code: str) -> str:
    """'zh-CN' -> 'zh', 'en-us' -> 'en'; '' for anything that is not a language tag."""
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else ""
