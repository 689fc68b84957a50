"""The packaged demo feeds: they parse, carry every labeled item once, intact, and rebuild identically."""

from __future__ import annotations

import calendar
import html
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from bot.demo import FEEDS_DIR, dated_demo_sources, demo_sources

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
ITEMS = SHARED / "eval" / "items.jsonl"
BUILDER = REPO_ROOT / "tools" / "build_demo_feeds.py"

needs_shared = pytest.mark.skipif(not ITEMS.is_file(), reason=f"labeled set not found at {ITEMS}")


def _items() -> list[dict]:
    with ITEMS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _plain(text: str) -> str:
    """HTML → comparable text: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


@pytest.fixture(scope="module")
def parsed() -> dict[str, feedparser.FeedParserDict]:
    return {path.stem: feedparser.parse(path.read_bytes()) for path in sorted(FEEDS_DIR.glob("*.xml"))}


@pytest.fixture(scope="module")
def entries_by_url(parsed) -> dict[str, tuple[str, dict]]:
    found: dict[str, tuple[str, dict]] = {}
    for name, feed in parsed.items():
        for entry in feed.entries:
            assert entry.link not in found, f"{entry.link} appears twice"
            found[entry.link] = (name, entry)
    return found


def test_every_feed_parses_cleanly(parsed):
    assert parsed, "no demo feeds packaged"
    for name, feed in parsed.items():
        assert not feed.bozo, f"{name}: {feed.get('bozo_exception')}"
        assert feed.version in ("rss20", "atom10"), name
        assert feed.entries, name
    assert {feed.version for feed in parsed.values()} == {"rss20", "atom10"}


def test_demo_sources_describe_the_files(parsed):
    sources = demo_sources()
    assert [s.name for s in sources] == sorted(parsed)
    for source in sources:
        assert source.kind == "rss" and source.enabled and source.tags == ("demo",)
        assert source.url and source.url.startswith("file://")
        assert Path(source.url.removeprefix("file://")).is_file()
        assert source.lang in ("en", "zh")
    assert {s.lang for s in sources} == {"en", "zh"}


@needs_shared
def test_every_item_appears_exactly_once(entries_by_url):
    items = _items()
    assert set(entries_by_url) == {item["url"] for item in items}
    for item in items:
        name, _ = entries_by_url[item["url"]]
        assert name == item["source"]


@needs_shared
def test_text_is_intact(entries_by_url):
    for item in _items():
        _, entry = entries_by_url[item["url"]]
        assert entry.title.strip() == item["title"].strip()
        assert _plain(entry.summary) == _plain(item["summary"]), item["id"]


@needs_shared
def test_chinese_survives(entries_by_url):
    chinese = [item for item in _items() if item["lang"] == "zh"]
    assert chinese
    for item in chinese:
        _, entry = entries_by_url[item["url"]]
        assert re.search(r"[\u4e00-\u9fff]", entry.title)
        assert item["title"].strip() in entry.title


@needs_shared
def test_dates_keep_the_instant(entries_by_url):
    for item in _items():
        _, entry = entries_by_url[item["url"]]
        expected = datetime.fromisoformat(item["published"]).timestamp()
        assert calendar.timegm(entry.published_parsed) == expected, item["id"]


@needs_shared
def test_language_by_majority(parsed):
    by_source: dict[str, list[str]] = {}
    for item in _items():
        by_source.setdefault(item["source"], []).append(item["lang"])
    for name, feed in parsed.items():
        langs = by_source[name]
        expected = "zh" if langs.count("zh") > langs.count("en") else "en"
        assert feed.feed.get("language", "").startswith(expected), name


@needs_shared
def test_rebuild_is_byte_identical(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BUILDER), "--items", str(ITEMS), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    packaged = {p.name: p.read_bytes() for p in FEEDS_DIR.glob("*.xml")}
    rebuilt = {p.name: p.read_bytes() for p in tmp_path.glob("*.xml")}
    assert sorted(rebuilt) == sorted(packaged)
    for name, content in rebuilt.items():
        assert content == packaged[name], f"{name} differs from a fresh build; rerun the builder"


def _published(feeds: dict[str, feedparser.FeedParserDict]) -> dict[str, int]:
    """Every entry's link → its publication instant (Unix seconds, UTC)."""
    return {e.link: calendar.timegm(e.published_parsed) for feed in feeds.values() for e in feed.entries}


def test_dated_copies_end_within_the_last_day_and_keep_the_spacing(parsed, tmp_path):
    """`bot demo` shows the set as if it were current: every date moved by the same whole number of days."""
    now = datetime(2026, 12, 6, 20, 30, tzinfo=UTC)
    sources = dated_demo_sources(tmp_path, now)
    assert [s.name for s in sources] == [s.name for s in demo_sources()]
    assert all(Path(source.url.removeprefix("file://")).parent == tmp_path for source in sources)
    moved = _published({s.name: feedparser.parse((tmp_path / f"{s.name}.xml").read_bytes()) for s in sources})
    original = _published(parsed)
    assert moved.keys() == original.keys()
    shifts = {moved[link] - original[link] for link in moved}
    assert len(shifts) == 1 and shifts.pop() % 86400 == 0  # one shift, whole days
    newest = max(moved.values())
    assert now.timestamp() - 86400 < newest <= now.timestamp()
