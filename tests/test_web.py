"""The web site and feeds, through the real server on 127.0.0.1 over the demo feeds ingested by the real pipeline.

Pages are driven in headless Chromium from Debian (Playwright with `executable_path`, JavaScript off:
the pages must work without it); feeds are fetched over HTTP and parsed with feedparser as a reader
would. A hostile feed (a title carrying markup and a script) is ingested beside the demo feeds.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest

from bot.app import App
from bot.core.config import SourceConfig, StorageConfig, WebConfig, load_settings, resolve_paths
from bot.core.models import Item
from bot.deliver.digest import render_story
from bot.demo import demo_sources
from bot.ingest.harvest import fetch_pass
from bot.query.answer import Answer, Citation
from bot.query.search import StoryHit
from bot.render.telegram import render_answer
from bot.storage import StorySummary
from bot.web.server import WebServer
from bot.web.site import RateLimiter, accepted_language

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian package `chromium`)")
HOSTILE_TITLE = '<script>alert("pwned")</script> <img src=x onerror=alert(1)> Robots & "quotes"'
HOSTILE_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>https://hostile.example/</link><language>en</language>
<item><title>{title}</title><link>https://hostile.example/a1</link><guid>hostile-1</guid>
<pubDate>Mon, 06 May 2024 10:00:00 GMT</pubDate>
<description>A humanoid robot lab shows a new arm that folds laundry, with a script in its title.</description></item>
</channel></rss>
"""


@dataclass
class Site:
    base: str
    app: App
    hostile_story: int


def _escaped_for_xml(text: str) -> str:
    """Escaped twice, as feeds that mean literal markup in a title write it: feedparser and the normalizer each
    undo one level (a title escaped once is taken as HTML and its tags are dropped at ingest)."""
    return html.escape(html.escape(text))


@pytest.fixture(scope="module")
def site(tmp_path_factory, embedder) -> Iterator[Site]:
    """The demo feeds (and one hostile feed) ingested into a fresh data dir, served on a free port."""
    root = tmp_path_factory.mktemp("web")
    hostile = root / "hostile.xml"
    hostile.write_text(HOSTILE_FEED.format(title=_escaped_for_xml(HOSTILE_TITLE)), encoding="utf-8")
    extra = SourceConfig(name="hostile", kind="rss", url=hostile.as_uri(), lang="en")
    settings = load_settings(REPO / "sources.yaml").model_copy(
        update={
            "sources": (*demo_sources(), extra),
            "storage": StorageConfig(),
            "web": WebConfig(port=0),
        }
    )
    app = App(resolve_paths(root / "data"), settings=settings, embedder=embedder)
    asyncio.run(fetch_pass(settings, app.pipeline, settings.sources))
    story_id = _story_titled(app, HOSTILE_TITLE)
    started, stop = threading.Event(), threading.Event()
    holder: dict[str, object] = {}

    def serve() -> None:
        async def main() -> None:
            server = WebServer(app, settings.web)
            await server.start()
            holder["port"] = server.port
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)
            await server.stop()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30), "the web server did not start"
    try:
        yield Site(f"http://127.0.0.1:{holder['port']}", app, story_id)
    finally:
        stop.set()
        thread.join(10)
        app.close()


def _story_titled(app: App, words: str) -> int:
    for story in app.store.recent_stories(500):
        if words in story.title:
            return story.id
    raise AssertionError(f"no story titled with {words!r}")


def _get(site: Site, path: str, **headers: str) -> httpx.Response:
    return httpx.get(site.base + path, headers=headers, timeout=30)


# -- pages in a real browser ---------------------------------------------------------------------


@needs_chromium
def test_a_reader_follows_a_story_searches_in_chinese_and_switches_language(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(java_script_enabled=False, locale="en-US")
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        response = page.goto(site.base + "/")
        assert response is not None and response.status == 200
        assert "script-src" not in response.headers["content-security-policy"]  # no script allowed at all
        assert page.locator("h1").inner_text() == "Latest stories"

        bilingual = page.locator("article.card").filter(has=page.locator(".badge", has_text="zh"))
        bilingual = bilingual.filter(has=page.locator(".badge", has_text="en")).first
        title = bilingual.locator("h3 a").inner_text()
        bilingual.locator("h3 a").click()
        assert re.search(r"/story/\d+", page.url)
        assert page.locator("h1").inner_text() == title
        assert page.locator("ol.items li[lang=en]").count() >= 1
        assert page.locator("ol.items li[lang=zh]").count() >= 1
        assert page.locator("ol.timeline li").count() >= 2
        assert page.locator("ul.related li").count() >= 1
        for href in page.locator("ol.items a.title").evaluate_all("links => links.map(a => a.href)"):
            assert urlsplit(href).scheme in ("http", "https")

        page.fill("input[name=q]", "生成可玩游戏环境的世界模型")
        page.press("input[name=q]", "Enter")
        assert "/search" in page.url
        english_results = page.locator("ul.hit-items li[lang=en]")
        assert english_results.count() >= 1
        assert re.search(r"world model|game|playable", " ".join(english_results.all_inner_texts()), re.IGNORECASE)
        assert page.locator(".answer ol.citations li").count() >= 1

        page.goto(site.base + "/")
        page.click("header a.lang")
        assert "lang=zh" in page.url
        assert page.locator("h1").inner_text() == "最新报道"
        page.locator("article.card h3 a").first.click()
        assert "lang=zh" in page.url  # the reader's language follows the links
        assert page.locator("h2", has_text="报道时间线").count() == 1

        page.goto(f"{site.base}/story/{site.hostile_story}")
        assert HOSTILE_TITLE in page.locator("h1").inner_text()  # shown as text …
        assert page.locator("main img").count() == 0  # … never as markup
        assert dialogs == []
        browser.close()


# -- HTML: escaping, language, errors, bounds -------------------------------------------------------


def test_a_title_with_markup_and_a_script_is_shown_escaped_everywhere(site):
    stored = site.app.store.stories([site.hostile_story])[site.hostile_story]
    assert "<script>" in stored.title  # the hostile text really reached the store
    page = _get(site, f"/story/{site.hostile_story}").text
    assert "&lt;script&gt;alert(" in page
    assert "<script" not in page and "<img src=x" not in page
    atom = feedparser.parse(_get(site, "/feeds/all.atom").content)
    titles = [entry.title for entry in atom.entries]
    assert stored.title in titles
    entries = json.loads(_get(site, "/feeds/all.json").content)["items"]
    assert stored.title in [entry["title"] for entry in entries]


def test_the_language_comes_from_the_query_then_accept_language(site):
    assert "最新报道" in _get(site, "/", **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).text
    assert "Latest stories" in _get(site, "/?lang=en", **{"Accept-Language": "zh-CN"}).text
    assert accepted_language("fr-FR, en;q=0.3, zh;q=0.7") == "zh"
    assert accepted_language("de, fr;q=0.8") == "en"
    assert accepted_language("zh;q=bogus, en") == "en"


@pytest.mark.parametrize(
    "path",
    ["/story/999999", "/story/abc", "/theme/nope", "/theme/nope/chart.png", "/feeds/nope.atom", "/feeds/all.rss",
     "/feeds/all.atom?lang=fr", "/nothing/here"],
)  # fmt: skip
def test_unknown_ids_and_paths_are_404_pages_with_the_security_headers(site, path):
    response = _get(site, path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text and "Traceback" not in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_the_site_is_read_only(site):
    for method in ("POST", "PUT", "DELETE"):
        assert httpx.request(method, site.base + "/search?q=x", timeout=10).status_code == 405


def test_theme_page_shows_its_chart_and_person_page_its_moves(site):
    theme = _get(site, "/theme/llm?lang=en")
    assert theme.status_code == 200 and "/theme/llm/chart.png" in theme.text
    chart = _get(site, "/theme/llm/chart.png?lang=zh")
    assert chart.headers["content-type"] == "image/png" and chart.content.startswith(b"\x89PNG")
    person = _get(site, "/who?name=Karpathy&lang=en")
    assert person.status_code == 200 and "OpenAI" in person.text
    assert "<li><time>" in person.text


def test_a_search_too_long_is_refused_with_a_message(site):
    response = _get(site, "/search?q=" + "x" * 201 + "&lang=en")
    assert response.status_code == 400 and "at most 200 characters" in response.text


def test_the_rate_limiter_allows_a_burst_then_refills():
    limiter = RateLimiter(burst=3, per_minute=60)
    assert [limiter.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", now=0.0)  # per client
    assert limiter.allow("a", now=1.0) and not limiter.allow("a", now=1.0)


# -- feeds ---------------------------------------------------------------------------------------------


def test_atom_feeds_parse_with_feedparser_one_entry_per_story_linking_its_page(site):
    for path, lang in (("/feeds/all.atom", "en"), ("/feeds/llm.atom?lang=zh", "zh")):
        response = _get(site, path)
        assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
        feed = feedparser.parse(response.content)
        assert not feed.bozo, feed.get("bozo_exception")
        assert feed.version == "atom10"
        assert 0 < len(feed.entries) <= 50
        ids = [entry.id for entry in feed.entries]
        assert len(set(ids)) == len(ids) and all(re.fullmatch(r"urn:ai-news-bot:story:\d+", i) for i in ids)
        for entry in feed.entries:
            story_id = entry.id.rsplit(":", 1)[1]
            assert entry.link == f"{site.base}/story/{story_id}?lang={lang}"
            assert entry.link in entry.content[0].value  # the content links the story page …
            assert "<li><a href=" in entry.content[0].value or "1 " in entry.content[0].value  # … and its outlets
            assert entry.updated_parsed and entry.published_parsed
    zh = feedparser.parse(_get(site, "/feeds/llm.atom?lang=zh").content)
    assert zh.feed.language == "zh"
    assert sum(bool(re.search(r"[\u4e00-\u9fff]", entry.title)) for entry in zh.entries) > len(zh.entries) // 2


def test_json_feed_is_json_feed_1_1(site):
    response = _get(site, "/feeds/llm.json?lang=en")
    assert response.headers["content-type"] == "application/feed+json; charset=utf-8"
    body = json.loads(response.content)
    assert body["version"] == "https://jsonfeed.org/version/1.1"
    assert body["feed_url"].endswith("/feeds/llm.json?lang=en") and body["language"] == "en"
    assert 0 < len(body["items"]) <= 50
    for item in body["items"]:
        assert {"id", "url", "title", "content_html", "date_published", "date_modified"} <= item.keys()
        assert "llm" in item["tags"]
        datetime.fromisoformat(item["date_modified"])


def test_opml_lists_every_feed(site):
    response = _get(site, "/feeds.opml?lang=zh")
    assert response.headers["content-type"].startswith("text/x-opml")
    outlines = re.findall(r'xmlUrl="([^"]+)"', response.text)
    assert f"{site.base}/feeds/all.atom?lang=zh" in outlines
    assert f"{site.base}/feeds/llm.atom?lang=zh" in outlines
    for url in outlines:
        assert not feedparser.parse(_get(site, url[len(site.base) :]).content).bozo


def test_conditional_get_answers_304_until_a_story_grows(site, tmp_path):
    first = _get(site, "/feeds/all.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    unchanged = _get(site, "/feeds/all.atom", **{"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert _get(site, "/feeds/all.atom", **{"If-Modified-Since": modified}).status_code == 304
    assert _get(site, "/feeds/all.json", **{"If-None-Match": etag}).status_code == 200  # another format, another tag

    before = {entry.id: entry for entry in feedparser.parse(first.content).entries}
    story = site.app.store.stories([site.hostile_story])[site.hostile_story]
    copy = tmp_path / "copy.xml"  # the same article carried by a second outlet: the story grows
    copy.write_text(HOSTILE_FEED.format(title=_escaped_for_xml(HOSTILE_TITLE)).replace("Hostile", "Mirror"), "utf-8")
    mirror = SourceConfig(name="mirror", kind="rss", url=copy.as_uri(), lang="en")
    asyncio.run(fetch_pass(site.app.settings, site.app.pipeline, [mirror]))
    grown = site.app.store.stories([story.id])[story.id]
    assert grown.outlets == story.outlets + 1

    changed = _get(site, "/feeds/all.atom", **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    after = {entry.id: entry for entry in feedparser.parse(changed.content).entries}
    key = f"urn:ai-news-bot:story:{story.id}"
    assert key in after  # the same id …
    assert key not in before or after[key].updated_parsed >= before[key].updated_parsed  # … updated, not new
    assert ">mirror</a>" in after[key].content[0].value


def test_searches_beyond_the_rate_are_refused_per_client(site):
    statuses = [_get(site, "/search?q=robot&lang=en").status_code for _ in range(12)]
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429


# -- Telegram links and `bot run` -------------------------------------------------------------------------


def _story(story_id: int = 7) -> StorySummary:
    moment = datetime(2024, 5, 6, tzinfo=UTC)
    return StorySummary(story_id, 3, 2, ("en", "zh"), "A <b> title", "A <b> title", "", "llm", ("llm",), moment, moment)


def test_digest_and_answer_lines_link_the_story_page_when_base_url_is_set():
    web = WebConfig(base_url="https://news.example/")
    line = render_story(_story(), "en", [("reuters", "https://r.example/1")], 3800, page=web.story_url(7))
    assert line.startswith('• <a href="https://news.example/story/7">A &lt;b&gt; title</a>')
    assert render_story(_story(), "en", [], 3800).startswith("• A &lt;b&gt; title")
    moment = datetime(2024, 5, 6, tzinfo=UTC)
    item = Item("reuters", "g", "https://r.example/1", "t", "", "en", moment, moment, content_hash="h")
    hit = StoryHit(_story(), 1.0, {"en": item}, [("reuters", "https://r.example/1")])
    answer = Answer("Top:\n[1] t", "en", [Citation(1, 7, "t", "https://r.example/1")])
    assert '<a href="https://news.example/story/7">all coverage</a>' in "\n".join(render_answer(answer, [hit], web))
    assert "news.example" not in render_answer(answer, [hit], WebConfig())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_bot_run_without_telegram_serves_the_site_on_the_same_loop(tmp_path):
    port = _free_port()
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources: []\nweb:\n  port: {port}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "--data-dir", str(tmp_path), "run", "--no-telegram"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/feeds/all.atom", timeout=5).status_code
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert status == 200, process.stderr.read().decode() if process.poll() is not None else "no answer"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
