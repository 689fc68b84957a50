"""arXiv API fetching through the real `arxiv` package, pointed at a local server."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path

from feedserver import OWN_FEEDS, FeedServer, Reply, Request

from bot.core.config import ArxivConfig, FetchConfig, Settings, SourceConfig
from bot.core.models import FetchStatus, SourceState
from bot.ingest.sources import FeedHttp, fetch_source
from bot.ingest.sources.arxiv import fetch_arxiv, split_version

NOW = datetime(2024, 11, 15, 12, 0, tzinfo=UTC)
PAGES = {"0": OWN_FEEDS / "arxiv_api_page1.xml", "3": OWN_FEEDS / "arxiv_api_page2.xml"}
EMPTY_PAGE = b"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/empty</id><title>arXiv Query</title><updated>2024-11-15T01:00:00Z</updated>
  <opensearch:itemsPerPage>3</opensearch:itemsPerPage>
  <opensearch:totalResults>0</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
</feed>
"""

ERROR_PAGE = b"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/</id><title>arXiv Search Results</title><updated>2024-11-15T01:00:00Z</updated>
  <opensearch:totalResults>1</opensearch:totalResults>
  <entry>
    <id>https://arxiv.org/api/errors#unbalanced_parentheses_in_query</id>
    <title>Error</title>
    <updated>2024-11-15T01:00:00Z</updated>
    <summary>unbalanced parentheses in query &amp; nothing searched</summary>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>
"""


def arxiv_source(max_results: int = 5, query: str = "cat:cs.CL") -> SourceConfig:
    return SourceConfig(name="arxiv-cl", kind="arxiv", query=query, max_results=max_results)


def api_config(server: FeedServer, **fields: object) -> ArxivConfig:
    values: dict[str, object] = {"api_url": server.url("/api/query"), "delay_seconds": 0, "page_size": 3}
    return ArxivConfig(**(values | fields))


def serve_pages(server: FeedServer, pages: dict[str, Path]) -> None:
    """Answer by the `start` query parameter, as the API pages."""

    def handler(request: Request) -> Reply:
        page = pages.get(request.query.get("start", ""))
        return Reply(body=page.read_bytes() if page else EMPTY_PAGE, headers={"Content-Type": "application/atom+xml"})

    server.route("/api/query", handler)


def run(server: FeedServer, stop_at: datetime | None = None, source: SourceConfig | None = None, **cfg: object):
    return fetch_arxiv(source or arxiv_source(), SourceState(name="arxiv-cl"), api_config(server, **cfg), NOW, stop_at)


def test_pages_until_max_results(feed_server: FeedServer) -> None:
    serve_pages(feed_server, PAGES)
    result = run(feed_server)
    assert result.status is FetchStatus.OK, result.error
    assert [e.arxiv_id for e in result.entries] == [
        "2411.04821",
        "2411.09013",
        "2410.22107",
        "2411.08550",
        "2411.07731",
    ]
    sent = [r.query for r in feed_server.requests_to("/api/query")]
    assert [q["start"] for q in sent] == ["0", "3"]
    assert sent[0]["search_query"] == "cat:cs.CL"
    assert (sent[0]["sortBy"], sent[0]["sortOrder"], sent[0]["max_results"]) == (
        "lastUpdatedDate",
        "descending",
        "3",
    )


def test_result_is_mapped_to_raw_entry(feed_server: FeedServer) -> None:
    serve_pages(feed_server, PAGES)
    watermark = run(feed_server).entries[2]
    assert watermark.arxiv_id == "2410.22107" and watermark.arxiv_version == 3
    assert watermark.link == "https://arxiv.org/abs/2410.22107"
    assert watermark.guid == "http://arxiv.org/abs/2410.22107v3"
    assert watermark.title == "Watermarks That Survive Paraphrasing"
    assert "with p &lt; 0.01 on 200-token passages" in watermark.summary_html
    assert watermark.authors == ("Omar Haddad", "Julia Nowak", "Chen Wei")
    assert watermark.tags == ("cs.CR", "cs.CL")
    assert watermark.published == datetime(2024, 10, 29, 9, 2, 33, tzinfo=UTC)
    assert watermark.updated == datetime(2024, 11, 13, 20, 41, 19, tzinfo=UTC)
    assert watermark.lang_hint == "en" and watermark.source == "arxiv-cl" and watermark.fetched_at == NOW


def test_stop_at_ends_paging_early(feed_server: FeedServer) -> None:
    serve_pages(feed_server, PAGES)
    stop_at = datetime(2024, 11, 14, 0, 0, tzinfo=UTC)
    result = run(feed_server, stop_at=stop_at)
    assert [e.arxiv_id for e in result.entries] == ["2411.04821", "2411.09013"]
    assert len(feed_server.requests_to("/api/query")) == 1  # the second page was never needed


def test_stop_at_keeps_a_tie(feed_server: FeedServer) -> None:
    serve_pages(feed_server, PAGES)
    tie = datetime(2024, 11, 13, 9, 15, tzinfo=UTC)  # exactly the 4th entry's update time
    result = run(feed_server, stop_at=tie)
    assert [e.arxiv_id for e in result.entries][-1] == "2411.08550"
    assert len(result.entries) == 4


def test_max_results_smaller_than_page(feed_server: FeedServer) -> None:
    serve_pages(feed_server, PAGES)
    result = run(feed_server, source=arxiv_source(max_results=2))
    assert len(result.entries) == 2
    assert feed_server.requests_to("/api/query")[0].query["max_results"] == "2"


def test_empty_result_is_ok(feed_server: FeedServer) -> None:
    serve_pages(feed_server, {})
    result = run(feed_server)
    assert result.status is FetchStatus.OK and result.entries == []


def test_http_error_after_retries_with_retry_after(feed_server: FeedServer) -> None:
    feed_server.script("/api/query", [Reply(status=503, headers={"Retry-After": "60"})])
    result = run(feed_server, num_retries=1)
    assert result.status is FetchStatus.ERROR
    assert result.error == "arXiv API answered HTTP 503"
    assert result.retry_after is not None and result.retry_after > datetime.now(UTC)
    assert len(feed_server.requests_to("/api/query")) == 2  # the package retried once


def test_api_error_entry_is_reported_without_retries(feed_server: FeedServer) -> None:
    feed_server.serve("/api/query", ERROR_PAGE, status=400)
    result = run(feed_server, num_retries=3)
    assert result.status is FetchStatus.ERROR
    assert result.error == "arXiv API error: unbalanced parentheses in query & nothing searched"
    assert len(feed_server.requests_to("/api/query")) == 1


def test_api_error_entry_with_status_200(feed_server: FeedServer) -> None:
    """The package would skip the entry (it has no <published>) and report an empty result."""
    feed_server.serve("/api/query", ERROR_PAGE)
    assert run(feed_server).error.startswith("arXiv API error: unbalanced parentheses")


def test_failed_second_page_fails_the_poll(feed_server: FeedServer) -> None:
    page1 = PAGES["0"].read_bytes()
    feed_server.script("/api/query", [Reply(body=page1), Reply(status=500)])
    result = run(feed_server, num_retries=0)
    assert result.status is FetchStatus.ERROR and result.entries == []
    assert result.error == "arXiv API answered HTTP 500"


def test_unexpected_empty_later_page(feed_server: FeedServer) -> None:
    serve_pages(feed_server, {"0": PAGES["0"]})
    result = run(feed_server, num_retries=0)
    assert result.error == "arXiv API returned an empty page in the middle of the results"


def test_garbled_date_is_an_error_not_a_crash(feed_server: FeedServer) -> None:
    broken = PAGES["0"].read_bytes().replace(b"2024-11-14T18:59:02Z", b"yesterday-ish")
    feed_server.serve("/api/query", broken)
    result = run(feed_server)
    assert result.status is FetchStatus.ERROR
    assert result.error.startswith("arXiv API sent a malformed response")


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = ArxivConfig(api_url=f"http://127.0.0.1:{port}/api/query", delay_seconds=0, num_retries=0)
    result = fetch_arxiv(arxiv_source(), SourceState(name="a"), cfg, NOW, None)
    assert result.status is FetchStatus.ERROR
    assert result.error == "cannot connect to the arXiv API: 127.0.0.1 refused the connection"
    assert "ConnectionPool" not in result.error and "Max retries" not in result.error


def test_stalled_server_times_out(feed_server: FeedServer) -> None:
    feed_server.route("/api/query", lambda request: Reply(body=EMPTY_PAGE, drip=0.5))
    cfg = api_config(feed_server, num_retries=0)
    started = time.monotonic()
    result = fetch_arxiv(arxiv_source(), SourceState(name="a"), cfg, NOW, None, timeout=0.3)
    assert result.status is FetchStatus.ERROR and result.error == "arXiv API timed out after 0.3s"
    assert time.monotonic() - started < 3


def test_split_version() -> None:
    assert split_version("2401.01234v2") == ("2401.01234", 2)
    assert split_version("2401.01234") == ("2401.01234", 0)
    assert split_version("hep-ex/0101001v3") == ("hep-ex/0101001", 3)


async def test_fetch_source_runs_arxiv_in_a_thread(feed_server: FeedServer) -> None:
    serve_pages(feed_server, PAGES)
    source = arxiv_source()
    settings = Settings(sources=(source,), arxiv=api_config(feed_server), fetch=FetchConfig(allow_private=True))
    async with FeedHttp(settings.fetch) as http:
        result = await fetch_source(source, SourceState(name=source.name), settings, http, NOW)
    assert result.status is FetchStatus.OK and len(result.entries) == 5
