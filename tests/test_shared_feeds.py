"""Every real recorded document in ../shared/fixtures/feeds, served over local HTTP.

Each document either yields its salvageable entries or becomes one clear per-source error,
never an exception. Expected entry counts come from the fixtures' own MANIFEST.md (measured
there with feedparser on the raw bytes); where we deliberately differ, `DIFFERENT_ON_PURPOSE`
says why. Spot checks assert real content: titles, ids, dates, decoded Chinese.
The arXiv API responses are also fed to `fetch_arxiv` with the client pointed at the server.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from feedserver import SHARED_FEEDS, FeedServer, Reply, Request

from bot.core.config import ArxivConfig, FetchConfig, SourceConfig
from bot.core.models import FetchResult, FetchStatus, SourceState
from bot.ingest.sources import FeedHttp, fetch_rss
from bot.ingest.sources.arxiv import fetch_arxiv
from bot.ingest.sources.rss import TEXT_MAX, TITLE_MAX

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
API_XML = "arxiv-api/arxiv.py-fixtures/xml"
CONTENT_TYPES = {".json": "application/json", ".html": "text/html"}
HEADER_LINE = re.compile(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)
MANIFEST_ROW = re.compile(
    r"^\| `(?P<path>[^`]+)` \| \d+ \| (?P<format>[^|]+?) \| (?P<entries>[^|]+?) \| (?P<bozo>[^|]+?) \|"
)

SKIPPED_EMPTY = "its only entry has no title, link or text, so it is dropped"
DIFFERENT_ON_PURPOSE: dict[str, tuple[int | str, str]] = {
    "edge-cases/encoding/utf-8.not-utf-16.xml": (877, "declared UTF-16 but UTF-8: we re-read it as UTF-8"),
    f"{API_XML}/id_abc_s0_m100_b79c8dcf6bc3.xml": ("HTTP 400 Bad Request", "served with its recorded status"),
    "feedparser-suite/illformed/rss_incomplete_cdata.xml": (0, SKIPPED_EMPTY),
    "feedparser-suite/illformed/geo/georss_point_no_coords.xml": (0, SKIPPED_EMPTY),
    "feedparser-suite/illformed/geo/georss_polygon_insufficient_coords.xml": (0, SKIPPED_EMPTY),
    "feedparser-suite/illformed/geo/gml_point.xml": (0, SKIPPED_EMPTY),
    "feedparser-suite/wellformed/rss/item_dc_date.xml": (0, SKIPPED_EMPTY),
    "feedparser-suite/wellformed/rss/item_pubDate.xml": (0, SKIPPED_EMPTY),
    "real-world/rss-parser/incomplete-fields.atom": (0, SKIPPED_EMPTY),
}


@dataclass(frozen=True)
class Recorded:
    """What MANIFEST.md measured for one document."""

    format: str
    entries: int
    bozo: str


def _manifest() -> dict[str, Recorded]:
    path = SHARED_FEEDS / "MANIFEST.md"
    rows = (MANIFEST_ROW.match(line) for line in path.read_text(encoding="utf-8").splitlines())
    return {
        m["path"]: Recorded(m["format"], int(m["entries"]), m["bozo"]) for m in rows if m and m["entries"].isdigit()
    }


def _documents() -> list[object]:
    if not (SHARED_FEEDS / "MANIFEST.md").is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no recorded feeds at {SHARED_FEEDS}"))]
    return [
        path.relative_to(SHARED_FEEDS).as_posix()
        for path in sorted(SHARED_FEEDS.rglob("*"))
        if path.is_file() and path.name != "MANIFEST.md" and "/json/" not in path.as_posix()
    ]


MANIFEST = _manifest() if (SHARED_FEEDS / "MANIFEST.md").is_file() else {}


def serve_recorded(server: FeedServer, shared: Path, name: str) -> str:
    """Serve a document as its origin would: its own `Header:` lines, its recorded status."""
    body = (shared / name).read_bytes()
    headers = {"Content-Type": CONTENT_TYPES.get(Path(name).suffix, "application/xml")}
    headers |= {k.decode(): v.decode("latin-1") for k, v in HEADER_LINE.findall(body[:2000])}
    return server.serve(
        "/" + name, body, headers["Content-Type"], status=_recorded_status(shared, name), headers=headers
    )


def _recorded_status(shared: Path, name: str) -> int:
    twin = shared / name.replace("/xml/", "/json/").replace(".xml", ".json")
    if name.startswith(API_XML) and twin.is_file():
        return int(json.loads(twin.read_text(encoding="utf-8"))["status_code"])
    return 200


async def fetch_recorded(server: FeedServer, shared: Path, name: str, lang: str = "") -> FetchResult:
    url = serve_recorded(server, shared, name)
    source = SourceConfig(name="recorded", kind="rss", url=url, lang=lang)
    async with FeedHttp(FetchConfig(allow_private=True)) as http:
        return await fetch_rss(source, SourceState(name="recorded"), http, NOW)


def expected_outcome(name: str) -> int | str:
    """An entry count, or the start of the error message."""
    if name in DIFFERENT_ON_PURPOSE:
        return DIFFERENT_ON_PURPOSE[name][0]
    recorded = MANIFEST[name]
    if recorded.entries:
        return recorded.entries
    if recorded.format == "not a feed":
        return "not a feed"
    if recorded.bozo.startswith("yes: SAXParseException"):
        return "malformed feed"
    return 0


@pytest.mark.parametrize("name", _documents())
async def test_every_recorded_document(feed_server: FeedServer, shared_feeds: Path, name: str) -> None:
    result = await fetch_recorded(feed_server, shared_feeds, name)
    expected = expected_outcome(name)
    if isinstance(expected, str):
        assert result.status is FetchStatus.ERROR, f"{name}: expected an error, got {len(result.entries)} entries"
        assert result.error.startswith(expected), result.error
        assert "\n" not in result.error and len(result.error) < 300
        return
    assert result.status is FetchStatus.OK, f"{name}: {result.error}"
    assert len(result.entries) == expected
    for entry in result.entries:
        assert entry.title or entry.link or entry.summary_html
        assert len(entry.title) <= TITLE_MAX and len(entry.summary_html) <= TEXT_MAX
        for moment in (entry.published, entry.updated):
            assert moment is None or moment.utcoffset() is not None


# Spot checks: real content from real feeds ------------------------------------------------------

Check = Callable[[FetchResult], None]
SPOT_CHECKS: dict[str, Check] = {}


def spot(name: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        SPOT_CHECKS[name] = check
        return check

    return register


def has_cjk(text: str) -> bool:
    return any(unicodedata.name(char, "").startswith("CJK UNIFIED") for char in text)


def no_mojibake(text: str) -> bool:
    return "\ufffd" not in text and not re.search("[ÃÂåæçèé][\x80-\xbf]", text)


@spot("chinese/qq-news-china-gb2312.xml")
def _qq_news(result: FetchResult) -> None:
    assert result.entries[0].title == "习近平为何如此强调崇尚英雄？"
    assert all(has_cjk(e.title) and no_mojibake(e.title + e.summary_html) for e in result.entries)
    assert result.entries[0].lang_hint == "zh"  # from <language>zh-cn</language>
    # "2018-09-18 14:38:10" has no zone; feedparser reads it as UTC
    assert result.entries[0].published == datetime(2018, 9, 18, 14, 38, 10, tzinfo=UTC)


@spot("chinese/qq-tech-internet-gb2312.xml")
def _qq_tech(result: FetchResult) -> None:
    (entry,) = result.entries
    assert entry.title == "拟298亿元重组盛大游戏后 世纪华通发20亿回购预案"
    assert entry.summary_html.startswith("腾讯科技讯9月18日")
    assert entry.published == datetime(2018, 9, 19, 5, 11, 22, tzinfo=UTC)  # ISO 8601 in pubDate


@spot("chinese/deskhub/qbitai.xml")
def _qbitai(result: FetchResult) -> None:
    first = result.entries[0]
    assert first.title == "阿里研究员透露Qwen4.5后模型将扩展至5-10T参数"
    assert first.link == "https://www.qbitai.com/2026/09/493629.html"
    assert first.guid == "https://www.qbitai.com/?p=493629"
    assert first.tags[:2] == ("资讯", "阿里巴巴") and first.lang_hint == "zh"


@spot("chinese/deskhub/infoq.xml")
def _infoq(result: FetchResult) -> None:
    assert result.entries[0].title == "Meta 开源 Astryx：面向 Agent 的 React 设计系统"
    assert result.entries[0].authors == ("作者：Bruno Couriol",)


@spot("chinese/AI-News-Direct/aibase_daily.xml")
def _aibase(result: FetchResult) -> None:
    assert result.entries[0].title.startswith("AI日报：DeepSeek识图模式灰测")
    assert result.entries[0].updated == datetime(2026, 4, 30, 13, 3, 3, tzinfo=UTC)


@spot("chinese/ai-rss-feeds/wenweipo.xml")
def _wenweipo(result: FetchResult) -> None:
    assert result.entries[0].title.startswith("香港特區立法會")  # Traditional Chinese intact
    assert {e.lang_hint for e in result.entries} == {"zh"}


@spot("chinese/rssant/https-www-oschina-net-news-rss-show-industry.xml")
def _oschina(result: FetchResult) -> None:
    assert result.entries[0].title == "Chrome OS 的 Linux 终端迎来一系列新功能，运行更轻松"
    assert result.warnings and "not well-formed" in result.warnings[0]


@spot("chinese/rssant/https-www-waerfa-com-feed.xml")
def _waerfa(result: FetchResult) -> None:
    assert result.entries[0].title == "Recheck! 快速检查待办/任务的清单 APP"
    assert result.warnings


@spot("chinese/rssant/v2ex-jsonfeed.json")
def _json_feed(result: FetchResult) -> None:
    assert result.error == "not a feed: the server sent JSON (JSON Feed is not supported)"


@spot("edge-cases/encoding/utf-8.not-utf-16.xml")
def _lying_declaration(result: FetchResult) -> None:
    assert "declared as utf-16 but the bytes are UTF-8" in result.warnings[0]
    assert all(no_mojibake(e.title) for e in result.entries)


@spot("edge-cases/not-a-feed/http-wappblog-com-feed.xml")
def _parked_domain(result: FetchResult) -> None:
    assert result.error == "not a feed: the server sent an HTML page (application/xml)"


@spot("ai-labs/AI-News-Direct/openai_feeds.xml")
def _openai(result: FetchResult) -> None:
    first = result.entries[0]
    assert first.title == "Resolving digital threats 100x faster with OpenAI"
    assert first.link == "https://openai.com/index/outtake"
    assert first.guid == "e1e4572a5872eddfde6e75e60f8458cf"
    assert first.published is None and first.updated == datetime(2025, 7, 24, tzinfo=UTC)


@spot("ai-labs/AI-News-Direct/anthropic_news.xml")
def _anthropic(result: FetchResult) -> None:
    assert result.entries[0].title == "Claude for Creative Work"
    assert result.entries[0].tags == ("Announcements",)


@spot("ai-labs/AI-News-Direct/huggingface_daily_papers.xml")
def _hf_papers(result: FetchResult) -> None:
    first = result.entries[0]
    assert first.title == "Adam's Law: Textual Frequency Law on Large Language Models"
    assert (first.arxiv_id, first.arxiv_version) == ("2604.02176", 0)  # from the arxiv.org/abs link


@spot("ai-labs/ai-rss-feeds/deepmind-blog.xml")
def _deepmind(result: FetchResult) -> None:
    assert result.entries[0].title == "Introducing Gemini 3.7 Flash"
    assert result.entries[0].published == datetime(2026, 8, 1, tzinfo=UTC)


@spot("ai-labs/ai-rss-feeds/deeplearning-ai.xml")
def _the_batch(result: FetchResult) -> None:
    assert result.entries[0].title.startswith("Kimi K3 Redraws the Open Frontier")
    assert len(result.entries[0].content_html) > 10_000  # full issues survive (under the cap)


@spot("arxiv-rss/new-rss2024/laya-reader_arxiv_rss_cs.LG+cs.AI+cs.CL+stat.ML.xml")
def _arxiv_rss(result: FetchResult) -> None:
    first = result.entries[0]
    assert first.title == "The Drift Contract: Spectral Updates for Depth-Robust Local Learning"
    assert (first.arxiv_id, first.arxiv_version) == ("2609.26811", 1)
    assert first.summary_html.startswith("Local learning trains each layer")
    assert first.authors == ("Fabien Polly",)
    assert first.published == datetime(2026, 9, 24, 4, 0, tzinfo=UTC)
    assert result.entries[1].authors == ("Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan")


@spot("arxiv-rss/new-rss2024/paper-forge_arxiv_atom_cs.LG.xml")
def _arxiv_atom(result: FetchResult) -> None:
    ids = [(e.arxiv_id, e.arxiv_version) for e in result.entries]
    assert ids == [("2609.28553", 1), ("2402.10149", 3), ("2401.08875", 3)]
    assert result.entries[1].tags == ("hep-ph", "cs.LG", "hep-ex")


@spot("arxiv-rss/old-rdf/physbiblio_sampleDailyFeed1_hep-ex_2021.xml")
def _arxiv_rdf(result: FetchResult) -> None:
    ids = [(e.arxiv_id, e.arxiv_version) for e in result.entries]
    assert ids == [("2107.03419", 1), ("2106.00550", 2), ("2007.03939", 2)]
    assert result.entries[1].title == "Potential applications of modular representation theory to quantum mechanics"
    assert result.entries[0].authors == ("LHCb collaboration: R. Aaij",)  # HTML and "et al." dropped


@spot(f"{API_XML}/q_testing_s0_m10_bc5a6c384fe9.xml")
def _api_page(result: FetchResult) -> None:
    first = result.entries[0]
    assert first.title == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert (first.arxiv_id, first.arxiv_version) == ("2202.12139", 1)
    assert first.tags == ("cs.SE", "cs.LG")


@spot(f"{API_XML}/id_astro-ph_0601001_s0_m100_3150dca9dc76.xml")
def _old_style_id(result: FetchResult) -> None:
    assert (result.entries[0].arxiv_id, result.entries[0].arxiv_version) == ("astro-ph/0601001", 1)


@spot("real-world/rss-parser/encoding.rss")
def _latin1(result: FetchResult) -> None:
    assert result.entries[0].title == "Mãe de utente é a nova presidente da Raríssimas"
    assert result.entries[0].lang_hint == "pt"


@spot("real-world/rss-parser/uolNoticias.rss")
def _portuguese_dates(result: FetchResult) -> None:
    assert result.entries[0].title.startswith("Ibope: Bolsonaro perde de Haddad")
    assert all(e.published is None for e in result.entries)  # "Seg, 24 Set 2018": unparseable, no crash


@spot("real-world/rss-parser/latin2.rss")
def _latin2(result: FetchResult) -> None:
    assert result.entries[0].title == "ZAŻÓŁĆ GĘSLĄ JAŹŃ"


@spot("feedparser-suite/encoding/http_text_xml_charset_overrides_encoding_2.xml")
def _header_charset_wins(result: FetchResult) -> None:
    assert result.entries[0].summary_html == "This is a \xa3\u201ctest.\u201d"  # windows-1252 from the header


@spot("feedparser-suite/illformed/chardet/gb2312.xml")
def _undeclared_gb2312(result: FetchResult) -> None:
    assert result.entries[0].title == "不归移民漫画系列：专业工作"  # chardet's guess


@spot("feedparser-suite/illformed/rss_item_link_corrupted_ampersands.xml")
def _ampersands(result: FetchResult) -> None:
    assert result.entries[0].link == "http://link/get?a=1&b=2"


@spot("feedparser-suite/encoding/double-encoded-html.xml")
def _double_encoded(result: FetchResult) -> None:
    assert result.entries[0].summary_html == "\u2026"


@pytest.mark.parametrize("name", sorted(SPOT_CHECKS))
async def test_spot_check(feed_server: FeedServer, shared_feeds: Path, name: str) -> None:
    SPOT_CHECKS[name](await fetch_recorded(feed_server, shared_feeds, name))


async def test_gb2312_with_charset_in_header_as_tencent_served_it(feed_server: FeedServer, shared_feeds: Path) -> None:
    body = (shared_feeds / "chinese/qq-news-china-gb2312.xml").read_bytes()
    url = feed_server.serve("/qq.xml", body, "text/xml; charset=GB2312")
    async with FeedHttp(FetchConfig(allow_private=True)) as http:
        source = SourceConfig(name="qq", kind="rss", url=url)
        result = await fetch_rss(source, SourceState(name="qq"), http, NOW)
    assert result.warnings == [] and len(result.entries) == 20
    assert result.entries[1].title and has_cjk(result.entries[1].title)


async def test_arxiv_api_error_entry_served_as_200(feed_server: FeedServer, shared_feeds: Path) -> None:
    body = (shared_feeds / API_XML / "id_abc_s0_m100_b79c8dcf6bc3.xml").read_bytes()
    async with FeedHttp(FetchConfig(allow_private=True)) as http:
        source = SourceConfig(name="api", kind="rss", url=feed_server.serve("/api", body))
        result = await fetch_rss(source, SourceState(name="api"), http, NOW)
    assert result.error == "arXiv API error: incorrect id format for abc"


# The same API responses through the arxiv package -----------------------------------------------


def serve_api(server: FeedServer, shared: Path, by_start: dict[str, str], status: int = 200) -> ArxivConfig:
    def handler(request: Request) -> Reply:
        body = (shared / API_XML / by_start[request.query.get("start", "0")]).read_bytes()
        return Reply(status=status, body=body, headers={"Content-Type": "application/atom+xml"})

    server.route("/api/query", handler)
    return ArxivConfig(api_url=server.url("/api/query"), delay_seconds=0, page_size=10, num_retries=2)


def arxiv_fetch(cfg: ArxivConfig, max_results: int = 10, stop_at: datetime | None = None) -> FetchResult:
    source = SourceConfig(name="api", kind="arxiv", query="all:testing", max_results=max_results)
    return fetch_arxiv(source, SourceState(name="api"), cfg, NOW, stop_at)


def test_arxiv_paging_across_two_recorded_pages(feed_server: FeedServer, shared_feeds: Path) -> None:
    pages = {"0": "q_testing_s0_m10_bc5a6c384fe9.xml", "10": "q_testing_s10_m10_34e56e15aaac.xml"}
    result = arxiv_fetch(serve_api(feed_server, shared_feeds, pages), max_results=20)
    assert result.status is FetchStatus.OK and len(result.entries) == 20
    assert result.entries[0].arxiv_id == "2202.12139"
    assert result.entries[10].title == "The Sample Complexity of Simple Binary Hypothesis Testing"
    assert result.entries[10].arxiv_version == 2
    assert [r.query["start"] for r in feed_server.requests_to("/api/query")] == ["0", "10"]


def test_arxiv_stop_at_on_recorded_page(feed_server: FeedServer, shared_feeds: Path) -> None:
    pages = {"0": "q_testing_s0_m10_bc5a6c384fe9.xml", "10": "q_testing_s10_m10_34e56e15aaac.xml"}
    cfg = serve_api(feed_server, shared_feeds, pages)
    everything = arxiv_fetch(cfg, max_results=20).entries
    stop_at = everything[0].updated
    assert stop_at is not None
    newer_or_equal = arxiv_fetch(cfg, max_results=20, stop_at=stop_at).entries
    assert newer_or_equal and newer_or_equal[0].arxiv_id == "2202.12139"
    assert len(newer_or_equal) < 20  # paging stopped at the first older result


def test_arxiv_error_entry_is_one_readable_error_without_retries(feed_server: FeedServer, shared_feeds: Path) -> None:
    cfg = serve_api(feed_server, shared_feeds, {"0": "id_abc_s0_m100_b79c8dcf6bc3.xml"}, status=400)
    result = arxiv_fetch(cfg)
    assert result.status is FetchStatus.ERROR
    assert result.error == "arXiv API error: incorrect id format for abc"
    assert len(feed_server.requests) == 1  # not retried as an HTTP error


def test_arxiv_empty_result(feed_server: FeedServer, shared_feeds: Path) -> None:
    result = arxiv_fetch(serve_api(feed_server, shared_feeds, {"0": "id_0000.0000_s0_m100_8b51d9633a68.xml"}))
    assert result.status is FetchStatus.OK and result.entries == []


def test_arxiv_non_ascii_authors_and_old_style_ids(feed_server: FeedServer, shared_feeds: Path) -> None:
    cfg = serve_api(feed_server, shared_feeds, {"0": "id_astro-ph_0601001_s0_m100_3150dca9dc76.xml"})
    (entry,) = arxiv_fetch(cfg).entries
    assert (entry.arxiv_id, entry.arxiv_version) == ("astro-ph/0601001", 1)
    assert entry.link == "https://arxiv.org/abs/astro-ph/0601001"
    cfg = serve_api(feed_server, shared_feeds, {"0": "id_1707.08567_s0_m100_6a1afebfc6a3.xml"})
    (entry,) = arxiv_fetch(cfg).entries
    assert all(no_mojibake(name) for name in entry.authors)
    assert any(not name.isascii() for name in entry.authors)
