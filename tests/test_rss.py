"""RSS fetching over real HTTP on 127.0.0.1: parsing, politeness and every way a server misbehaves."""

from __future__ import annotations

import asyncio
import gzip
import random
import socket
import time
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from feedserver import OWN_FEEDS, FeedServer, Reply, gzip_bomb

from bot.core.config import FetchConfig, Settings, SourceConfig
from bot.core.models import FetchStatus, SourceState
from bot.ingest.sources import FeedHttp, apply_result, fetch_rss, fetch_source, parse_feed
from bot.ingest.sources.http import parse_retry_after
from bot.ingest.sources.rss import TEXT_MAX, TITLE_MAX

NOW = datetime(2024, 11, 15, 12, 0, tzinfo=UTC)
LOCAL = FetchConfig(allow_private=True)


def rss_source(url: str, **fields: object) -> SourceConfig:
    return SourceConfig(name="test-feed", kind="rss", url=url, **fields)


async def fetch(url: str, state: SourceState | None = None, config: FetchConfig = LOCAL, **fields: object):
    async with FeedHttp(config) as http:
        return await fetch_rss(rss_source(url, **fields), state or SourceState(name="test-feed"), http, NOW)


# Parsing real documents of each format ------------------------------------------------------


async def test_rss20_entries_are_mapped(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/feed.xml", OWN_FEEDS / "rss20_ai_news.xml", etag='"v1"')
    result = await fetch(url)
    assert result.status is FetchStatus.OK, result.error
    assert result.etag == '"v1"'
    first, relative, undated = result.entries
    assert first.title == "Lumen-7B tops the open leaderboard for code repair"
    assert first.link == "https://modelwatch.example/2024/11/lumen-7b-code-repair"
    assert first.guid == "modelwatch-2024-11-12-lumen"
    assert first.published == datetime(2024, 11, 12, 14, 0, tzinfo=UTC)
    assert first.updated is None  # not feedparser's silent fallback to the published date
    assert first.authors == ("Priya Raman",)
    assert first.tags == ("models", "benchmarks")
    assert "<b>Lumen Labs</b>" in first.summary_html
    assert 'href="/2024/11/lumen-weights"' in first.content_html  # HTML is left as the source wrote it
    assert first.lang_hint == "en"
    assert first.source == "test-feed" and first.fetched_at == NOW
    # a relative link resolves against the document's own URL (RSS has no xml:base)
    assert relative.link == feed_server.url("/2024/11/relative-link-check")
    assert undated.title.startswith("Robotics start-up Gripwise")
    assert undated.published is None


async def test_atom_resolves_xml_base_and_escapes_plain_text(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.serve_file("/atom.xml", OWN_FEEDS / "atom10_lab_blog.xml"))
    sparse, notes = result.entries
    assert sparse.link == "https://lab.example/blog/posts/sparse-mixtures"
    assert sparse.guid == "tag:lab.example,2024:post-412"
    assert sparse.title == "Scaling sparse mixtures to 1<sup>T</sup> parameters"
    assert sparse.published == datetime(2024, 11, 14, 14, 30, tzinfo=UTC)
    assert sparse.updated == datetime(2024, 11, 14, 16, 0, tzinfo=UTC)
    assert sparse.authors == ("Tomás Ferreira", "Mei Lin")
    assert sparse.tags == ("scaling", "mixture-of-experts")
    assert "so a&lt;b stays cheap" in sparse.summary_html  # plain text became HTML
    assert 'href="https://lab.example/blog/figures/routing.png"' in sparse.content_html
    assert notes.published is None and notes.updated == datetime(2024, 11, 2, 8, 0, tzinfo=UTC)
    assert notes.summary_html.startswith("<p>Three failure modes")


async def test_rdf_feed(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.serve_file("/digest.rdf", OWN_FEEDS / "rdf_research_digest.rdf"))
    assert [e.title for e in result.entries] == [
        "Retrieval still beats long context on multi-hop questions",
        "Tiny vision transformers on microcontrollers",
    ]
    # feedparser 6 reads dc:date as `updated`; published stays None (what the source said)
    assert result.entries[0].published is None
    assert result.entries[0].updated == datetime(2024, 10, 30, 6, 45, tzinfo=UTC)
    assert result.entries[0].tags == ("retrieval",)
    assert result.entries[0].lang_hint == "en"


async def test_valid_feed_without_entries_is_ok(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.serve_file("/quiet.xml", OWN_FEEDS / "rss20_no_items.xml"))
    assert result.status is FetchStatus.OK and result.entries == [] and result.warnings == []


async def test_source_lang_wins_over_feed_language(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.serve_file("/f.xml", OWN_FEEDS / "rss20_ai_news.xml"), lang="zh")
    assert {e.lang_hint for e in result.entries} == {"zh"}


async def test_arxiv_listing_ids_versions_and_announce_types(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.serve_file("/cs.AI", OWN_FEEDS / "arxiv_listing_cs_ai.xml"))
    found = {(e.arxiv_id, e.arxiv_version) for e in result.entries}
    assert found == {("2411.09120", 1), ("2411.08877", 1), ("2406.01532", 4)}  # replace-cross dropped
    new = result.entries[0]
    assert new.summary_html.startswith("We plan inside a learned world model")
    assert new.authors == ("Ingrid Solberg", "Rafael Ortiz", "Yuki Tanaka")
    assert new.guid == "oai:arXiv.org:2411.09120v1"
    assert new.published == datetime(2024, 11, 14, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("guid", "link", "expected"),
    [
        ("oai:arXiv.org:2401.01234v2", "https://arxiv.org/abs/2401.01234", ("2401.01234", 2)),
        ("", "http://arxiv.org/abs/2401.01234v3", ("2401.01234", 3)),
        ("oai:arXiv.org:hep-ex/0101001v2", "", ("hep-ex/0101001", 2)),
        ("", "http://arxiv.org/abs/math.GT/0309136", ("math.GT/0309136", 0)),
        ("blog-post-17", "https://blog.example/arxiv:2401.01234v2-explained", ("", 0)),
    ],
)
def test_arxiv_ids_from_guid_or_link(guid: str, link: str, expected: tuple[str, int]) -> None:
    doc = "<rss version='2.0'><channel><title>x</title><item><title>A paper</title>"
    doc += f"<guid isPermaLink='false'>{guid}</guid><link>{link}</link></item></channel></rss>"
    (entry,), _ = parse_feed(doc.encode(), {}, "s", NOW)
    assert (entry.arxiv_id, entry.arxiv_version) == expected


# Chinese encodings --------------------------------------------------------------------------


async def test_gb2312_declared_in_prolog(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/zh.xml", OWN_FEEDS / "zh_gb2312_prolog.xml", "text/xml; charset=GB2312")
    result = await fetch(url)
    assert result.entries[0].title == "国产大模型在数学推理评测中首次超过人类平均水平"
    assert result.entries[1].summary_html == "该模型可以根据自然语言指令完成抓取和摆放任务。"
    assert result.entries[0].lang_hint == "zh"
    assert result.entries[0].published == datetime(2024, 11, 12, 0, 0, tzinfo=UTC)
    assert result.warnings == []


async def test_gbk_charset_only_in_http_header(feed_server: FeedServer) -> None:
    body = (OWN_FEEDS / "zh_gbk_header_only.xml").read_bytes()
    url = feed_server.serve("/gbk.xml", body, "application/rss+xml; charset=GBK")
    result = await fetch(url)
    assert result.warnings == []  # decoded by the header's charset, no guessing
    assert result.entries[0].title == "王喆团队发布新一代推理芯片，能效提升三倍"
    assert "朱镕" in result.entries[0].summary_html


def test_parse_feed_is_pure_and_honours_headers() -> None:
    body = (OWN_FEEDS / "zh_gbk_header_only.xml").read_bytes()
    entries, warnings = parse_feed(body, {"content-type": "text/xml; charset=gbk"}, "s", NOW, "zh")
    assert entries[0].title.startswith("王喆") and warnings == []


# Politeness: conditional GET, Retry-After, redirects ------------------------------------------


async def test_not_modified_sends_validators(feed_server: FeedServer) -> None:
    stamp = "Tue, 12 Nov 2024 09:30:00 GMT"
    url = feed_server.serve_file("/cond.xml", OWN_FEEDS / "rss20_ai_news.xml", etag='"abc"', last_modified=stamp)
    first = await fetch(url)
    assert (first.etag, first.last_modified) == ('"abc"', stamp)
    state = SourceState(name="test-feed", etag=first.etag, last_modified=first.last_modified)
    second = await fetch(url, state)
    assert second.status is FetchStatus.NOT_MODIFIED and second.entries == []
    assert (second.etag, second.last_modified) == ('"abc"', stamp)
    sent = feed_server.requests_to("/cond.xml")[1].headers
    assert sent["if-none-match"] == '"abc"' and sent["if-modified-since"] == stamp


async def test_polite_request_headers(feed_server: FeedServer) -> None:
    await fetch(feed_server.serve_file("/ua.xml", OWN_FEEDS / "rss20_no_items.xml"))
    headers = feed_server.requests_to("/ua.xml")[0].headers
    assert headers["user-agent"] == LOCAL.user_agent
    assert "gzip" in headers["accept-encoding"]
    assert "if-none-match" not in headers


async def test_503_with_retry_after_then_recovery(feed_server: FeedServer) -> None:
    feed = (OWN_FEEDS / "rss20_ai_news.xml").read_bytes()
    url = feed_server.script("/busy.xml", [Reply(status=503, headers={"Retry-After": "120"}), Reply(body=feed)])
    before = datetime.now(UTC)
    failed = await fetch(url)
    assert failed.status is FetchStatus.ERROR
    assert failed.error == "HTTP 503 Service Unavailable"
    assert failed.retry_after is not None
    assert before + timedelta(seconds=119) <= failed.retry_after <= datetime.now(UTC) + timedelta(seconds=121)
    recovered = await fetch(url)
    assert recovered.status is FetchStatus.OK and len(recovered.entries) == 3


async def test_429_retry_after_as_http_date(feed_server: FeedServer) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    url = feed_server.script("/slowdown", [Reply(status=429, headers={"Retry-After": format_datetime(when, True)})])
    result = await fetch(url)
    assert result.error == "HTTP 429 Too Many Requests" and result.retry_after == when


async def test_404_has_no_retry_after(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.url("/missing.xml"))
    assert result.error == "HTTP 404 Not Found" and result.retry_after is None


async def test_permanent_redirect_is_recorded(feed_server: FeedServer) -> None:
    new = feed_server.serve_file("/new.xml", OWN_FEEDS / "rss20_ai_news.xml")
    old = feed_server.redirect("/old.xml", "/new.xml", status=301)
    result = await fetch(old)
    assert result.status is FetchStatus.OK and result.final_url == new
    assert len(result.entries) == 3


async def test_temporary_redirect_is_followed_but_not_recorded(feed_server: FeedServer) -> None:
    feed_server.serve_file("/today.xml", OWN_FEEDS / "rss20_ai_news.xml")
    result = await fetch(feed_server.redirect("/moving.xml", "/today.xml", status=302))
    assert result.status is FetchStatus.OK and result.final_url is None


async def test_redirect_loop(feed_server: FeedServer) -> None:
    url = feed_server.redirect("/loop.xml", "/loop.xml", status=302)
    result = await fetch(url, config=FetchConfig(allow_private=True, max_redirects=3))
    assert result.status is FetchStatus.ERROR
    assert result.error == "too many redirects (more than 3)"
    assert len(feed_server.requests_to("/loop.xml")) == 4


# A hostile or broken server ------------------------------------------------------------------


async def test_slow_drip_hits_the_total_deadline(feed_server: FeedServer) -> None:
    url = feed_server.route("/drip.xml", lambda request: Reply(body=b"<rss>" + b" " * 40, drip=0.2))
    config = FetchConfig(allow_private=True, timeout=5, total_timeout=1)
    started = time.monotonic()
    result = await fetch(url, config=config)
    assert result.status is FetchStatus.ERROR and result.error == "timed out after 1s"
    assert time.monotonic() - started < 2.5


async def test_body_over_cap_ignores_content_length(feed_server: FeedServer) -> None:
    body = b"<rss><channel>" + b"x" * 300_000 + b"</channel></rss>"
    url = feed_server.serve("/big.xml", body, headers={"Content-Length": str(len(body))})
    result = await fetch(url, config=FetchConfig(allow_private=True, max_bytes=100_000))
    assert result.error == "response larger than 100 kB cap"


async def test_gzip_bomb_is_stopped_by_decoded_size(feed_server: FeedServer) -> None:
    bomb = gzip_bomb(30_000_000)
    assert len(bomb) < 100_000
    url = feed_server.serve("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        result = await fetch(url, config=FetchConfig(allow_private=True, max_bytes=1_000_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.error == "response larger than 1 MB cap"
    assert peak < 16_000_000  # never inflated much past the 1 MB cap (the bomb is 30 MB; httpx alone peaks ~60 MB)
    # (tracemalloc counts every thread of the test process, hence the slack)


async def test_deflate_feed_is_decoded(feed_server: FeedServer) -> None:
    body = zlib.compress((OWN_FEEDS / "rss20_ai_news.xml").read_bytes())
    result = await fetch(feed_server.serve("/z.xml", body, headers={"Content-Encoding": "deflate"}))
    assert len(result.entries) == 3


async def test_unknown_content_encoding(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.serve("/br.xml", b"\x00\x01", headers={"Content-Encoding": "br"}))
    assert result.error == "unsupported Content-Encoding 'br'"


async def test_corrupt_gzip(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.serve("/bad.gz", b"\x1f\x8bnot really gzip", headers={"Content-Encoding": "gzip"}))
    assert result.error.startswith("cannot decode the compressed response")


async def test_gzip_feed_is_decoded(feed_server: FeedServer) -> None:
    body = gzip.compress((OWN_FEEDS / "rss20_ai_news.xml").read_bytes())
    result = await fetch(feed_server.serve("/gz.xml", body, headers={"Content-Encoding": "gzip"}))
    assert len(result.entries) == 3


async def test_connection_reset_mid_body(feed_server: FeedServer) -> None:
    body = (OWN_FEEDS / "rss20_ai_news.xml").read_bytes()
    url = feed_server.route("/reset.xml", lambda request: Reply(body=body, reset_after=200))
    result = await fetch(url)
    assert result.status is FetchStatus.ERROR
    assert result.error.startswith(("connection to 127.0.0.1 lost", "127.0.0.1 broke off"))


async def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await fetch(f"http://127.0.0.1:{port}/feed.xml")
    assert result.status is FetchStatus.ERROR
    assert result.error.startswith("cannot connect to 127.0.0.1")


async def test_private_addresses_refused_by_default(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/f.xml", OWN_FEEDS / "rss20_ai_news.xml")
    result = await fetch(url, config=FetchConfig())
    assert result.status is FetchStatus.ERROR
    assert "127.0.0.1 is not a public address" in result.error
    assert feed_server.requests_to("/f.xml") == []


async def test_html_page_is_not_a_feed(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/news", OWN_FEEDS / "not_a_feed.html", "text/html; charset=utf-8")
    result = await fetch(url)
    assert result.status is FetchStatus.ERROR
    assert result.error == "not a feed: the server sent an HTML page (text/html)"


async def test_empty_body_is_not_a_feed(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.serve("/empty.xml", b""))
    assert result.error == "not a feed: the document is empty"


def test_absurd_fields_are_truncated() -> None:
    title = "T" * 2_000_000
    summary = "s" * 300_000
    doc = f"<rss version='2.0'><channel><title>x</title><item><title>{title}</title>"
    doc += f"<link>https://x.example/1</link><description>{summary}</description></item></channel></rss>"
    entries, _ = parse_feed(doc.encode(), {}, "s", NOW)
    assert len(entries[0].title) == TITLE_MAX and len(entries[0].summary_html) == TEXT_MAX


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        ("Wed, 20 Nov 2024 07:28:00 GMT", datetime(2024, 11, 20, 7, 28, tzinfo=UTC)),
        ("99999999999999999999999", NOW + timedelta(days=365)),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_retry_after(header: str, expected: datetime | None) -> None:
    assert parse_retry_after(header, NOW) == expected


# file:// URLs ------------------------------------------------------------------------------------


async def test_file_url_with_conditional_read() -> None:
    url = (OWN_FEEDS / "atom10_lab_blog.xml").as_uri()
    first = await fetch(url)
    assert first.status is FetchStatus.OK and len(first.entries) == 2
    assert first.last_modified
    again = await fetch(url, SourceState(name="test-feed", last_modified=first.last_modified))
    assert again.status is FetchStatus.NOT_MODIFIED


async def test_missing_file_url() -> None:
    result = await fetch((OWN_FEEDS / "no-such-feed.xml").as_uri())
    assert result.status is FetchStatus.ERROR and result.error.startswith("no such file:")


async def test_file_over_cap() -> None:
    url = (OWN_FEEDS / "rss20_ai_news.xml").as_uri()
    result = await fetch(url, config=FetchConfig(max_bytes=1024))
    assert result.error == "file larger than 1.024 kB cap"


# Fallback URL and the per-host limit ---------------------------------------------------------


async def test_fallback_after_repeated_failures(feed_server: FeedServer) -> None:
    primary = feed_server.script("/primary.xml", [Reply(status=503)])
    mirror = feed_server.serve_file("/mirror.xml", OWN_FEEDS / "rss20_ai_news.xml")
    source = rss_source(primary, fallback_url=mirror)
    settings = Settings(sources=(source,), fetch=FetchConfig(allow_private=True, fallback_after=2))
    state, rng, outcomes = SourceState(name=source.name), random.Random(1), []
    async with FeedHttp(settings.fetch) as http:
        for _ in range(4):
            result = await fetch_source(source, state, settings, http, NOW)
            state = apply_result(state, result, NOW, timedelta(hours=1), timedelta(days=1), "rss", rng)
            outcomes.append((result.status, result.used_fallback, len(result.entries)))
    assert outcomes == [
        (FetchStatus.ERROR, False, 0),
        (FetchStatus.ERROR, False, 0),
        (FetchStatus.OK, True, 3),
        (FetchStatus.OK, True, 3),
    ]
    assert len(feed_server.requests_to("/primary.xml")) == 4  # the primary is still probed first
    assert all("if-none-match" not in r.headers for r in feed_server.requests_to("/mirror.xml"))
    assert state.consecutive_errors == 4 and state.last_error == "HTTP 503 Service Unavailable"
    assert state.next_due is not None and state.next_due <= NOW + timedelta(hours=1.1)


async def test_primary_back_after_fallback(feed_server: FeedServer) -> None:
    feed = (OWN_FEEDS / "rss20_ai_news.xml").read_bytes()
    primary = feed_server.script("/p.xml", [Reply(status=500), Reply(body=feed)])
    source = rss_source(primary, fallback_url=feed_server.serve("/m.xml", feed))
    settings = Settings(fetch=FetchConfig(allow_private=True, fallback_after=1))
    state = SourceState(name=source.name, consecutive_errors=1)
    async with FeedHttp(settings.fetch) as http:
        via_fallback = await fetch_source(source, state, settings, http, NOW)
        back = await fetch_source(source, state, settings, http, NOW)
    assert via_fallback.used_fallback and via_fallback.error == "HTTP 500 Internal Server Error"
    assert not back.used_fallback and back.status is FetchStatus.OK


async def test_both_primary_and_fallback_failing(feed_server: FeedServer) -> None:
    source = rss_source(feed_server.url("/gone1"), fallback_url=feed_server.url("/gone2"))
    settings = Settings(fetch=FetchConfig(allow_private=True, fallback_after=1))
    async with FeedHttp(settings.fetch) as http:
        result = await fetch_source(source, SourceState(name="t", consecutive_errors=3), settings, http, NOW)
    assert result.status is FetchStatus.ERROR and result.used_fallback
    assert result.error == "HTTP 404 Not Found; fallback also failed: HTTP 404 Not Found"


async def test_per_host_limit_serialises_requests(feed_server: FeedServer) -> None:
    url = feed_server.route("/slow.xml", lambda request: Reply(body=b"<rss/>", drip=0.05))
    config = FetchConfig(allow_private=True, per_host=1)
    started = time.monotonic()
    async with FeedHttp(config) as http:
        await asyncio.gather(http.get(url), http.get(url))
    assert time.monotonic() - started >= 0.6  # 2 x 6 bytes x 0.05 s, one after the other


@pytest.mark.parametrize("status", [200, 204])
async def test_fetch_never_raises_for_odd_success(feed_server: FeedServer, status: int) -> None:
    result = await fetch(feed_server.serve("/odd", b"", status=status))
    assert result.status is FetchStatus.ERROR and result.error.startswith("not a feed")


def test_feeds_that_answer_not_modified_leave_the_connection_open_for_the_next() -> None:
    """A pass of 2000 304s from one host is 2000 requests over a few connections, not 2000 handshakes:
    the empty body of a 304 is read, so the client may send the next request on the same connection.
    (An HTTP/1.1 server of our own: the shared test server speaks HTTP/1.0 and closes every time.)"""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    connections: list[int] = []

    class KeepAlive(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            connections.append(1)

        def do_GET(self) -> None:
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.send_header("ETag", '"v1"')
                self.end_headers()
                return
            body = b"<rss><channel><title>t</title></channel></rss>"
            self.send_response(200)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    server.daemon_threads = True
    Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"

    async def fetch_many() -> list[int]:
        async with FeedHttp(FetchConfig(allow_private=True, per_host=1)) as http:
            return [(await http.get(url, etag='"v1"')).status for _ in range(20)]

    try:
        assert asyncio.run(fetch_many()) == [304] * 20
    finally:
        server.shutdown()
        server.server_close()
    assert len(connections) == 1
