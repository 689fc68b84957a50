"""One shared HTTP client for every feed, built so that a bad server cannot hurt the bot.

A feed server may drip bytes forever, send a gzip bomb, loop redirects, answer 503 with
Retry-After, or point us at an address inside our own network. `FeedHttp.get` bounds each of
these (a total deadline, a cap on decoded bytes, `max_redirects`, a private-address check made
at connect time on the address connected to, in `address`) and
turns every failure into a `FetchError` with a short message a user can read in `bot sources`.
Per-host and global semaphores keep us polite when many sources live on one host, and connections
are kept alive between feeds (a 304's empty body is read, so its connection serves the next one:
2000 304s from one host took 2000 handshakes before). `file://`
URLs are read from disk under the same size cap, so demo feeds and tests need no server.
"""

from __future__ import annotations

import asyncio
import socket
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from bot.core.config import FetchConfig
from bot.core.errors import FetchError
from bot.ingest.sources.address import pinned_transport, public_addresses

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


_LONGEST_RETRY_AFTER = timedelta(days=365)  # beyond this a Retry-After is garbage, not advice


class HttpError(FetchError):
    """The server answered with a status >= 400; `retry_after` is set from 429/503 replies."""

    def __init__(self, status: int, retry_after: datetime | None = None) -> None:
        super().__init__(f"HTTP {status} {_reason(status)}".rstrip())
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A fetched document: header names are lower-case; `body` is empty on 304."""

    status: int
    body: bytes
    headers: dict[str, str]
    final_url: str
    permanent_redirect: bool = False


class FeedHttp:
    """The bot's feed client: conditional GET with a deadline, a size cap and politeness limits."""

    def __init__(self, config: FetchConfig) -> None:
        self._config = config
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout.total_seconds()),
            follow_redirects=True,
            max_redirects=config.max_redirects,
            headers={"User-Agent": config.user_agent, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"},
            transport=None if config.allow_private else pinned_transport(),
            trust_env=False,  # no proxy, netrc or CA bundle from the environment: see `FetchConfig.proxy`
            proxy=config.proxy,
            event_hooks={"request": [_check_before_proxy]} if config.proxy and not config.allow_private else None,
        )
        self._global = asyncio.Semaphore(config.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> FeedHttp:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> HttpResponse:
        """Fetch `url`; 304 comes back as a response, every failure as a `FetchError`."""
        if urlsplit(url).scheme == "file":
            return await asyncio.to_thread(_read_file, url, last_modified, self._config.max_bytes)
        host = urlsplit(url).hostname or ""
        async with self._host_slot(host), self._global:
            return await self._get_with_deadline(url, _conditional_headers(etag, last_modified))

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(self._config.per_host)
        return self._hosts[host]

    async def _get_with_deadline(self, url: str, headers: dict[str, str]) -> HttpResponse:
        total = self._config.total_timeout.total_seconds()
        try:
            async with asyncio.timeout(total):
                return await self._stream(url, headers)
        except TimeoutError:
            raise FetchError(f"timed out after {total:g}s") from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self._config.timeout.total_seconds():g}s") from None
        except httpx.TooManyRedirects:
            raise FetchError(f"too many redirects (more than {self._config.max_redirects})") from None
        except httpx.HTTPError as exc:
            raise FetchError(_describe_transport_error(exc, url)) from None

    async def _stream(self, url: str, headers: dict[str, str]) -> HttpResponse:
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code >= 400:
                raise HttpError(response.status_code, _retry_after_of(response))
            if response.status_code == 304:
                body = await response.aread()  # empty; read, the connection goes back to the pool for the next feed
            else:
                body = await self._read_capped(response)
            return HttpResponse(
                status=response.status_code,
                body=body,
                headers={name.lower(): value for name, value in response.headers.items()},
                final_url=str(response.url),
                permanent_redirect=bool(response.history)
                and all(hop.status_code in (301, 308) for hop in response.history),
            )

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """Read until the end or the cap, whatever Content-Length claims."""
        body = _CappedBody(response.headers.get("content-encoding", ""), self._config.max_bytes)
        async for chunk in response.aiter_raw():
            body.feed(chunk)
        return body.finish()


class _CappedBody:
    """A response body decoded by us, never holding more than `cap` decoded bytes.

    httpx's own decoder inflates each network chunk in one go (64 kB of gzip can become
    64 MB); here zlib is asked for at most the room left under the cap, so a gzip bomb
    costs no more memory than the cap itself.
    """

    def __init__(self, content_encoding: str, cap: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip().lower() not in ("", "identity")]
        if codings and (len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(f"unsupported Content-Encoding {content_encoding!r}")
        # wbits 47: zlib or gzip framing, detected from the header
        self._inflater = zlib.decompressobj(47) if codings else None
        self._cap = cap
        self._chunks: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        if self._inflater is None:
            self._keep(data)
            return
        try:
            while data and not self._inflater.eof:
                self._keep(self._inflater.decompress(data, self._cap - self._size + 1))
                data = self._inflater.unconsumed_tail
        except zlib.error as exc:
            raise FetchError(f"cannot decode the compressed response: {exc}") from None

    def finish(self) -> bytes:
        if self._inflater is not None:
            self._keep(self._inflater.flush())
        return b"".join(self._chunks)

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._cap:
            raise FetchError(f"response larger than {human_size(self._cap)} cap")
        self._chunks.append(data)


async def _check_before_proxy(request: httpx.Request) -> None:
    """Through a configured proxy the connection is the proxy's, so the feed's host is checked here, on
    every request and redirect, by our own lookup (the proxy may still resolve it again: see docs/sources.md)."""
    await public_addresses(request.url.host, request.url.port or (443 if request.url.scheme == "https" else 80))


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as seconds or an HTTP date, as an aware UTC time; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return now + min(timedelta(seconds=int(value[:12])), _LONGEST_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)


def human_size(size: int) -> str:
    """10_000_000 -> '10 MB'; the unit a user reads in a cap message."""
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _retry_after_of(response: httpx.Response) -> datetime | None:
    if response.status_code not in (429, 503):
        return None
    return parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _describe_transport_error(exc: httpx.HTTPError, url: str) -> str:
    """What went wrong, in words: httpx's own message is often empty, so the innermost OS error speaks."""
    host = urlsplit(url).hostname or url
    cause = _root_cause(exc)
    if isinstance(exc, httpx.ConnectError) and _is_name_lookup(exc):
        return f"cannot resolve {host} (DNS): {cause or 'name lookup failed'}"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {host}: {cause or 'connection failed'}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{host} broke off the response: {cause or 'protocol error'}"
    if isinstance(exc, httpx.ReadError):
        return f"connection to {host} lost while reading: {cause or 'read error'}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"invalid URL {url!r}: {exc}"
    return f"network error talking to {host}: {cause or type(exc).__name__}"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it, outermost first (cycles cut)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _root_cause(exc: BaseException) -> str:
    """The most specific message in the chain: an OS error's text ("Connection reset by peer") when there is one."""
    for error in reversed(_chain(exc)):
        if isinstance(error, OSError) and error.strerror:
            return error.strerror
        if str(error):
            return str(error)
    return ""


def _is_name_lookup(exc: BaseException) -> bool:
    return any(isinstance(error, socket.gaierror) for error in _chain(exc)) or "name resolution" in str(exc).lower()


def _read_file(url: str, last_modified: str | None, cap: int) -> HttpResponse:
    """A `file://` URL read like a response: mtime as Last-Modified, so 304 works here too."""
    path = Path(url2pathname(urlsplit(url).path))
    try:
        stamp = formatdate(path.stat().st_mtime, usegmt=True)
        if last_modified == stamp:
            return HttpResponse(status=304, body=b"", headers={"last-modified": stamp}, final_url=url)
        with path.open("rb") as handle:
            body = handle.read(cap + 1)
    except FileNotFoundError:
        raise FetchError(f"no such file: {path}") from None
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(body) > cap:
        raise FetchError(f"file larger than {human_size(cap)} cap")
    return HttpResponse(status=200, body=body, headers={"last-modified": stamp}, final_url=url)
