"""Every way a source can misbehave, end to end through `bot fetch` and `bot sources list`.

The fetchers' own tests (test_rss.py, test_arxiv.py) prove each fault becomes a readable error;
this suite proves what a user sees: one config holding two healthy sources (RSS and arXiv)
beside one source per fault, fetched in one `bot fetch --all`, must leave each faulty source
with its own clear error and a backed-off next try, and the healthy ones stored as if nothing
happened. Feeds that fetch fine but carry bad data (a 2 MB title, invalid dates, no link or
GUID) are not errors: their items must be stored sensibly, and stored once.

Design decisions:
- One scenario, many small tests. A fetch pass costs seconds (the slow drip runs into its
  2 s deadline, the CLI loads its embedder), so the passes are module-scoped fixtures run once
  and in order — the first `fetch --all`, a plain `fetch` right after (nothing may be retried
  before it is due), a second `fetch --all` (no duplicates, longer backoff). Each pass records
  what the CLI printed, the request log and the item count at that moment, and the tests read
  those records, so their own order does not matter.
- The CLI runs in-process through `bot.cli.main`, as test_cli.py does; capsys is per test, so
  stdout is captured with `redirect_stdout`. The CLI loads its own embedder (the session's
  `embedder` fixture cannot be passed through `main`).
- The DNS failure uses a name under `.invalid` (RFC 2606: it never resolves), so no network is
  needed and nothing leaves the machine; `fetch.allow_private` is on for the 127.0.0.1 feeds.
- Both arXiv sources share the one configured API URL, so the local API answers by query.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from feedserver import OWN_FEEDS, FeedServer, Reply, Request, gzip_bomb

from bot.cli import main
from bot.core.config import FetchConfig
from bot.ingest.sources.rss import TITLE_MAX
from bot.ingest.sources.schedule import JITTER, backoff_delay

TOTAL_TIMEOUT_S = 2
MAX_BYTES = 3_000_000
MAX_REDIRECTS = 3
RETRY_AFTER = timedelta(hours=2)  # longer than the first backoff (one interval), so it must decide the next try
INTERVAL = FetchConfig().default_interval
MAX_BACKOFF = FetchConfig().max_backoff
ARXIV_API = "/api/query"
HEALTHY_QUERY = "cat:cs.CL"
FAILING_QUERY = "cat:cs.FAIL"
RESOLVER_SAYS = "Name or service not known|name resolution|nodename nor servname"  # glibc, no DNS server, macOS
HUGE_TITLE = "Lumen " * (2_000_000 // 6)  # one line of ~2 MB


# The faults: how each is served, and what a user must read about it ----------------------------


@dataclass(frozen=True)
class Fault:
    """One misbehaving source: `error` must match its full `last_error`, `gist` its clipped text row."""

    name: str
    serve: Callable[[FeedServer], dict[str, Any]]
    error: str
    gist: str


def _rss(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "kind": "rss", "url": url}


def _slow_drip(server: FeedServer) -> dict[str, Any]:
    body = b"<rss version='2.0'><channel>" + b" " * 100
    return _rss("slow_drip", server.route("/drip.xml", lambda request: Reply(body=body, drip=0.2)))


def _gzip_bomb(server: FeedServer) -> dict[str, Any]:
    bomb = gzip_bomb(20_000_000)
    assert len(bomb) < MAX_BYTES  # ~20 kB on the wire, 20 MB decoded: only the decoded size can trip the cap
    return _rss("gzip_bomb", server.serve("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"}))


def _endless_redirects(server: FeedServer) -> dict[str, Any]:
    return _rss("endless_redirects", server.redirect("/loop.xml", "/loop.xml", status=302))


def _html_page(server: FeedServer) -> dict[str, Any]:
    url = server.serve_file("/news", OWN_FEEDS / "not_a_feed.html", "text/html; charset=utf-8")
    return _rss("html_page", url)


def _dns_failure(server: FeedServer) -> dict[str, Any]:
    return _rss("dns_failure", "http://feed.invalid/feed.xml")


def _reset_mid_body(server: FeedServer) -> dict[str, Any]:
    body = (OWN_FEEDS / "rss20_ai_news.xml").read_bytes()
    return _rss("reset_mid_body", server.route("/reset.xml", lambda request: Reply(body=body, reset_after=200)))


def _arxiv_503(server: FeedServer) -> dict[str, Any]:
    """The API route itself is shared with the healthy arXiv source: see `_serve_arxiv_api`."""
    return {"name": "arxiv_503", "kind": "arxiv", "query": FAILING_QUERY, "max_results": 3}


FAULTS = (
    Fault("slow_drip", _slow_drip, rf"^timed out after {TOTAL_TIMEOUT_S}s$", "timed out"),
    Fault("gzip_bomb", _gzip_bomb, r"^response larger than 3 MB cap$", "larger than 3 MB cap"),
    Fault(
        "endless_redirects",
        _endless_redirects,
        rf"^too many redirects \(more than {MAX_REDIRECTS}\)$",
        "too many redirects",
    ),
    Fault("html_page", _html_page, r"^not a feed: the server sent an HTML page \(text/html\)$", "not a feed"),
    Fault(
        "dns_failure",
        _dns_failure,
        rf"^cannot resolve feed\.invalid \(DNS\): .*({RESOLVER_SAYS})",
        r"cannot resolve feed\.invalid \(DNS\)",
    ),
    Fault(
        "reset_mid_body",
        _reset_mid_body,
        r"^(connection to 127\.0\.0\.1 lost while reading|127\.0\.0\.1 broke off the response): \S",
        r"127\.0\.0\.1 (lost|broke off)|connection to 127\.0\.0\.1 lost",
    ),
    Fault("arxiv_503", _arxiv_503, r"^arXiv API answered HTTP 503$", "HTTP 503"),
)

# The data faults: fetched fine, stored sensibly ----------------------------------------------


@dataclass(frozen=True)
class BadDate:
    """An item whose pubDate is unusable: the fetch time must stand in, flagged as an estimate."""

    name: str
    raw: str

    @property
    def url(self) -> str:
        return f"https://dates.example/{self.name}"


BAD_DATES = (
    BadDate("garbage", "not a date"),
    BadDate("empty", ""),
    BadDate("day_45", "Thu, 45 Dec 2024 10:00:00 GMT"),
    BadDate("mysql_zero_date", "0000-00-00 00:00:00"),
    BadDate("far_future", "Sat, 01 Jan 2101 00:00:00 GMT"),
    BadDate("month_13_hour_99", "2024-13-45T99:00:00Z"),
    BadDate("go_zero_time", "Mon, 01 Jan 0001 00:00:00 +0000"),
)

NO_ID_TITLES = (
    "Open-weights lab releases a 3B vision-language model",
    "Chip maker cuts inference prices by half",
    "Benchmark suite for agent safety published",
)


def _feed(items: Sequence[str]) -> bytes:
    head = "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Faults</title>"
    return (head + "<link>https://faults.example/</link>" + "".join(items) + "</channel></rss>").encode()


def _huge_title_feed() -> bytes:
    return _feed(
        [
            f"<item><title>{HUGE_TITLE}</title><link>https://huge.example/1</link><description>Body.</description></item>",
            "<item><title>An ordinary neighbour</title><link>https://huge.example/2</link>"
            "<description>Stored as usual.</description></item>",
        ]
    )


def _bad_dates_feed() -> bytes:
    return _feed(
        [
            f"<item><title>Dated item {bad.name}</title><link>{bad.url}</link><pubDate>{bad.raw}</pubDate>"
            f"<description>A story whose date is {bad.name}.</description></item>"
            for bad in BAD_DATES
        ]
    )


def _no_ids_feed() -> bytes:
    return _feed(
        [
            f"<item><title>{title}</title><description>{title}, the report says.</description></item>"
            for title in NO_ID_TITLES
        ]
    )


# One scenario, three passes ------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    server: FeedServer
    config: Path
    data: Path
    sources: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Pass:
    """What one `bot fetch` printed, then `bot sources list` (JSON and text), and the request log and items then."""

    code: int
    fetched: dict[str, dict[str, Any]]
    health: dict[str, dict[str, Any]]
    listing: str
    requests: dict[str, int]
    items: int
    started: datetime
    finished: datetime


def _serve_arxiv_api(server: FeedServer) -> None:
    """One API for both arXiv sources: the failing query gets 503 + Retry-After, the other a recorded page."""
    page = (OWN_FEEDS / "arxiv_api_page1.xml").read_bytes()

    def answer(request: Request) -> Reply:
        if request.query.get("search_query") == FAILING_QUERY:
            return Reply(status=503, headers={"Retry-After": str(int(RETRY_AFTER.total_seconds()))})
        return Reply(body=page, headers={"Content-Type": "application/atom+xml"})

    server.route(ARXIV_API, answer)


def _write_config(path: Path, server: FeedServer, sources: Sequence[dict[str, Any]]) -> Path:
    config = {
        "fetch": {
            "allow_private": True,  # the feeds are served on 127.0.0.1
            "timeout": "5s",
            "total_timeout": f"{TOTAL_TIMEOUT_S}s",
            "max_bytes": MAX_BYTES,
            "max_redirects": MAX_REDIRECTS,
        },
        "arxiv": {"api_url": server.url(ARXIV_API), "delay_seconds": 0, "num_retries": 1, "page_size": 3},
        "sources": list(sources),
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scene(_feed_server_for_session: FeedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    server = _feed_server_for_session
    server.reset()
    _serve_arxiv_api(server)
    sources = (
        _rss("healthy_rss", server.serve_file("/en.xml", OWN_FEEDS / "rss20_ai_news.xml", etag='"en-1"')),
        {"name": "healthy_arxiv", "kind": "arxiv", "query": HEALTHY_QUERY, "max_results": 3},
        *(fault.serve(server) for fault in FAULTS),
        _rss("huge_title", server.serve("/huge.xml", _huge_title_feed())),
        _rss("bad_dates", server.serve("/dates.xml", _bad_dates_feed())),
        _rss("no_ids", server.serve("/no-ids.xml", _no_ids_feed())),  # no validators: every fetch is a full one
    )
    root = tmp_path_factory.mktemp("faults")
    yield Scene(server, _write_config(root / "sources.yaml", server, sources), root / "data", sources)
    server.reset()


def _cli(scene: Scene, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--config", str(scene.config), "--data-dir", str(scene.data), *argv])
    return code, out.getvalue()


def _by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows}


def _requests_per_source(scene: Scene) -> dict[str, int]:
    """Requests the server saw for each source: by path for feeds, by query for the shared arXiv API."""
    counts = dict.fromkeys((source["name"] for source in scene.sources), 0)
    for source in scene.sources:
        if source["kind"] == "arxiv":
            api = scene.server.requests_to(ARXIV_API)
            counts[source["name"]] = sum(r.query.get("search_query") == source["query"] for r in api)
        else:
            counts[source["name"]] = len(scene.server.requests_to(urlsplit(source["url"]).path))
    return counts


def _items_in(data: Path) -> int:
    with contextlib.closing(sqlite3.connect(data / "bot.db")) as db:
        return int(db.execute("SELECT count(*) FROM items").fetchone()[0])


def _run_pass(scene: Scene, *fetch_flags: str) -> Pass:
    started = datetime.now(UTC).replace(microsecond=0)  # `sources list` prints whole seconds
    code, fetched = _cli(scene, "fetch", "--json", *fetch_flags)
    finished = datetime.now(UTC)
    _, health = _cli(scene, "sources", "list", "--json")
    _, listing = _cli(scene, "sources", "list")
    return Pass(
        code=code,
        fetched=_by_name(json.loads(fetched)["sources"]),
        health=_by_name(json.loads(health)["sources"]),
        listing=listing,
        requests=_requests_per_source(scene),
        items=_items_in(scene.data),
        started=started,
        finished=finished,
    )


@pytest.fixture(scope="module")
def first_pass(scene: Scene) -> Pass:
    return _run_pass(scene, "--all")


@pytest.fixture(scope="module")
def due_pass(scene: Scene, first_pass: Pass) -> Pass:
    """A plain `bot fetch` right after: only what is due, which is nothing."""
    return _run_pass(scene)


@pytest.fixture(scope="module")
def second_pass(scene: Scene, due_pass: Pass) -> Pass:
    return _run_pass(scene, "--all")


# Helpers of the assertions -------------------------------------------------------------------


def _wait(health: dict[str, Any]) -> timedelta:
    return datetime.fromisoformat(health["next_due"]) - datetime.fromisoformat(health["last_attempt"])


def _least_backoff(errors: int) -> timedelta:
    """The shortest next try after `errors` failures in a row: the jitter may shorten it by 10 %,
    and `sources list` prints whole seconds."""
    return backoff_delay(errors, INTERVAL, MAX_BACKOFF) * (1 - JITTER) - timedelta(seconds=1)


def _listing_row(listing: str, name: str) -> str:
    rows = [line for line in listing.splitlines() if line.split()[:1] == [name]]
    assert len(rows) == 1, listing
    return rows[0]


def _stored(data: Path, query: str, *params: object) -> list[sqlite3.Row]:
    with contextlib.closing(sqlite3.connect(data / "bot.db")) as db:
        db.row_factory = sqlite3.Row
        return db.execute(query, params).fetchall()


# The first `bot fetch --all` ------------------------------------------------------------------


def test_fetch_succeeds_when_not_every_source_failed(first_pass: Pass) -> None:
    assert first_pass.code == 0
    failed = {name for name, row in first_pass.fetched.items() if row["status"] == "error"}
    assert failed == {fault.name for fault in FAULTS}


@pytest.mark.parametrize("name", ["healthy_rss", "healthy_arxiv"])
def test_healthy_sources_are_unaffected(first_pass: Pass, name: str) -> None:
    fetched, health = first_pass.fetched[name], first_pass.health[name]
    assert fetched["status"] == "ok" and fetched["new"] > 0
    assert health["items"] == fetched["new"]
    assert health["consecutive_errors"] == 0 and health["last_error"] == ""


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_each_fault_is_its_own_readable_error_with_backoff(first_pass: Pass, fault: Fault) -> None:
    fetched, health = first_pass.fetched[fault.name], first_pass.health[fault.name]
    assert fetched["status"] == "error" and fetched["new"] == 0
    assert re.search(fault.error, health["last_error"]), health["last_error"]
    assert fetched["error"] == health["last_error"]
    assert health["consecutive_errors"] == 1 and health["items"] == 0
    assert _wait(health) >= _least_backoff(1)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_text_listing_tells_what_went_wrong(first_pass: Pass, fault: Fault) -> None:
    row = _listing_row(first_pass.listing, fault.name)
    assert re.search(fault.gist, row), row


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_error_message_has_no_empty_detail(first_pass: Pass, fault: Fault) -> None:
    error = first_pass.health[fault.name]["last_error"]
    assert not re.search(r":\s*$", error), repr(error)


def test_arxiv_retry_after_decides_the_next_try(first_pass: Pass) -> None:
    next_due = datetime.fromisoformat(first_pass.health["arxiv_503"]["next_due"])
    assert first_pass.started + RETRY_AFTER <= next_due <= first_pass.finished + RETRY_AFTER
    assert first_pass.requests["arxiv_503"] == 2  # the first try and num_retries=1


def test_redirect_loop_stops_at_the_limit(first_pass: Pass) -> None:
    assert first_pass.requests["endless_redirects"] == MAX_REDIRECTS + 1


def test_huge_title_is_capped_and_its_neighbour_stored(scene: Scene, first_pass: Pass) -> None:
    fetched, health = first_pass.fetched["huge_title"], first_pass.health["huge_title"]
    assert fetched["status"] == "ok" and fetched["new"] == 2 and health["items"] == 2
    rows = _stored(scene.data, "SELECT url, title FROM items WHERE source = ?", "huge_title")
    titles = {row["url"]: row["title"] for row in rows}
    assert titles == {
        "https://huge.example/1": HUGE_TITLE[:TITLE_MAX],
        "https://huge.example/2": "An ordinary neighbour",
    }


def test_feed_with_bad_dates_is_stored_whole(first_pass: Pass) -> None:
    fetched, health = first_pass.fetched["bad_dates"], first_pass.health["bad_dates"]
    assert fetched["status"] == "ok" and fetched["new"] == len(BAD_DATES) == health["items"]
    assert health["consecutive_errors"] == 0


@pytest.mark.parametrize("bad", BAD_DATES, ids=lambda bad: bad.name)
def test_unusable_date_becomes_the_fetch_time_flagged_as_estimated(
    scene: Scene, first_pass: Pass, bad: BadDate
) -> None:
    (row,) = _stored(scene.data, "SELECT published, published_estimated, fetched_at FROM items WHERE url = ?", bad.url)
    assert (row["published"], row["published_estimated"]) == (row["fetched_at"], 1)


def test_items_without_link_or_guid_are_stored(scene: Scene, first_pass: Pass) -> None:
    fetched = first_pass.fetched["no_ids"]
    assert fetched["status"] == "ok" and fetched["new"] == len(NO_ID_TITLES)
    rows = _stored(scene.data, "SELECT title, url, guid FROM items WHERE source = ?", "no_ids")
    assert sorted((r["title"], r["url"], r["guid"]) for r in rows) == sorted((t, "", "") for t in NO_ID_TITLES)


# A plain `bot fetch` right after: backoff is honoured ------------------------------------------


def test_nothing_is_retried_before_it_is_due(first_pass: Pass, due_pass: Pass) -> None:
    assert all(count > 0 for name, count in first_pass.requests.items() if name != "dns_failure")
    assert due_pass.code == 0 and due_pass.fetched == {}
    assert due_pass.requests == first_pass.requests


def test_states_read_back_unchanged_from_the_same_data_dir(first_pass: Pass, due_pass: Pass) -> None:
    assert due_pass.health == first_pass.health
    assert all(row["last_attempt"] for row in due_pass.health.values())
    assert due_pass.items == first_pass.items


# A second `bot fetch --all`: nothing duplicated, failures wait longer -------------------------


def test_refetch_stores_no_duplicates(first_pass: Pass, second_pass: Pass) -> None:
    assert second_pass.code == 0
    assert second_pass.items == first_pass.items
    assert {n: h["items"] for n, h in second_pass.health.items()} == {
        n: h["items"] for n, h in first_pass.health.items()
    }


def test_items_without_link_or_guid_are_recognised_on_refetch(second_pass: Pass) -> None:
    fetched = second_pass.fetched["no_ids"]
    assert (fetched["status"], fetched["new"], fetched["duplicate"]) == ("ok", 0, len(NO_ID_TITLES))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_a_second_failure_doubles_the_wait(second_pass: Pass, fault: Fault) -> None:
    health = second_pass.health[fault.name]
    assert health["consecutive_errors"] == 2
    assert _wait(health) >= _least_backoff(2)
