"""Crash safety of `bot fetch`: a real process, SIGKILLed mid-pass, then restarted.

DESIGN.md §3 "Storage": SQLite (WAL) is the truth, one batch commits together, FAISS is derived,
saved atomically and repaired at start-up by comparing ids. These tests run `python -m bot fetch`
as a subprocess against feeds served on 127.0.0.1, kill it with SIGKILL once a batch is committed
while a dripping source is still in flight, and check what a restart finds and makes of it:
an intact database, an index in step with the store, every served entry stored exactly once, and
healthy source states. A second test truncates and garbles the saved index between runs and shows
the next run rebuilds it from SQLite.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
from feedserver import FeedServer, Reply, Request

from bot.core.config import load_settings, resolve_paths
from bot.ingest.embed import UseEmbedder
from bot.ingest.harvest import INGEST_BATCH
from bot.ingest.normalize import canonical_url
from bot.ingest.pipeline import open_pipeline
from bot.storage.index import INDEX_FILE

REPO = Path(__file__).resolve().parents[1]
SITE = "https://news.crash-test.example"
RUN_TIMEOUT = 60  # seconds; a bound, far above what a pass takes here
COMMIT_WAIT = 25  # seconds to see the first committed batch of the killed run

pytestmark = pytest.mark.slow

# -- feeds of our own making -----------------------------------------------------------------

LABS = ["Lumen Labs", "Northwind AI", "Gripwise", "Cobalt Research", "Halcyon", "Parallax", "Quill AI", "Tessera"]
THINGS = ["a coding model", "a speech model", "a robot policy", "a video generator", "an agent kit", "a reasoner"]
EVENTS = ["releases", "open-sources", "benchmarks", "delays", "prices", "retires"]
LABS_ZH = ["智源研究院", "月之暗面", "深度求索", "百川智能", "零一万物", "面壁智能", "阶跃星辰", "智谱"]
THINGS_ZH = ["代码模型", "语音模型", "机器人策略", "视频生成模型", "智能体工具包", "推理模型"]
EVENTS_ZH = ["发布", "开源", "公布评测", "推迟上线", "下调价格", "停止服务"]


@dataclass(frozen=True)
class Entry:
    url: str
    guid: str
    title: str
    text: str
    published: datetime


def english(feed: str, i: int, now: datetime) -> Entry:
    lab, thing, event = LABS[i % 8], THINGS[(i // 8) % 6], EVENTS[(i // 48) % 6]
    title = f"{lab} {event} {thing} no. {i} ({feed})"
    text = (
        f"{lab} said on day {i} that it {event} {thing} with {100 + 7 * i} million parameters. "
        f"Engineers measured {i % 97} percent fewer errors on the internal suite number {i * 13}."
    )
    return Entry(f"{SITE}/{feed}/{i}", f"{feed}-{i}", title, text, now - timedelta(minutes=3 * i + 1))


def chinese(feed: str, i: int, now: datetime) -> Entry:
    lab, thing, event = LABS_ZH[i % 8], THINGS_ZH[(i // 8) % 6], EVENTS_ZH[(i // 48) % 6]
    title = f"{lab}{event}{thing}第{i}号（{feed}）"
    text = f"{lab}在第{i}天表示，其{thing}参数量为{100 + 7 * i}百万，在第{i * 13}号内部测试中错误减少百分之{i % 97}。"
    return Entry(f"{SITE}/{feed}/{i}", f"{feed}-{i}", title, text, now - timedelta(minutes=3 * i + 2))


def rss(title: str, entries: list[Entry], lang: str = "en") -> bytes:
    items = "".join(
        "<item>"
        f"<title>{escape(e.title)}</title><link>{escape(e.url)}</link>"
        f'<guid isPermaLink="false">{escape(e.guid)}</guid>'
        f"<pubDate>{format_datetime(e.published)}</pubDate>"
        f"<description>{escape(e.text)}</description>"
        "</item>\n"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{SITE}/</link><description>crash test</description>"
        f"<language>{lang}</language>\n{items}</channel></rss>\n"
    ).encode()


def reposted(entry: Entry, feed: str) -> Entry:
    """The same story carried by another feed under a spelling of its URL that canonicalizes the same."""
    url = entry.url.replace("https://news.", "HTTPS://NEWS.") + f"?utm_source={feed}#comments"
    return Entry(url, f"{feed}-repost-{entry.guid}", entry.title, entry.text, entry.published)


@dataclass
class Feeds:
    """What the server carries: entries per source, and the switch that makes one source slow."""

    entries: dict[str, list[Entry]]
    config: Path
    data: Path
    slow_source: str
    slow: threading.Event

    def canonical_urls(self) -> set[str]:
        return {canonical_url(e.url) for entries in self.entries.values() for e in entries}


def serve_feeds(server: FeedServer, tmp_path: Path, big: int = 300) -> Feeds:
    now = datetime.now(UTC).replace(microsecond=0)
    # More new entries than one chunk: at least two commits come before the slow source, whatever order
    # the feeds arrive in (results that arrive together are stored together).
    en = [english("en_big", i, now) for i in range(max(big, INGEST_BATCH + 50))]
    zh = [chinese("zh_big", i, now) for i in range(big)]
    mixed = [english("mixed", i, now) if i % 2 else chinese("mixed", i, now) for i in range(big // 2)]
    mixed += [reposted(e, "mixed") for e in en[:20]] + [reposted(e, "mixed") for e in zh[:20]]
    small = [english("small", i, now) for i in range(10)]
    slow_entries = [chinese("slow", i, now) for i in range(12)] + [reposted(e, "slow") for e in en[20:25]]
    entries = {"en_big": en, "zh_big": zh, "mixed": mixed, "small": small, "slow": slow_entries}
    langs = {"zh_big": "zh", "slow": "zh"}
    for name in ("en_big", "zh_big", "mixed", "small"):
        server.serve(f"/{name}.xml", rss(name, entries[name], langs.get(name, "en")), etag=f'"{name}-1"')

    slow = threading.Event()
    slow_body = rss("slow", slow_entries, "zh")

    def slow_handler(request: Request) -> Reply:
        headers = {"Content-Type": "application/xml", "ETag": '"slow-1"'}
        if request.headers.get("if-none-match") == '"slow-1"':
            return Reply(status=304, headers=headers)
        # While `slow` is set the body trickles in over ~len(body) * 20 ms: far longer than the kill.
        return Reply(body=slow_body, headers=headers, drip=0.02 if slow.is_set() else 0.0)

    server.route("/slow.xml", slow_handler)
    lines = [
        "fetch:",
        "  allow_private: true  # the feeds are served on 127.0.0.1",
        "  per_host: 4",
        "  timeout: 30s",
        "  total_timeout: 120s",
        "  default_interval: 1h",
        "sources:",
    ]
    for name in entries:
        lines += [f"  - name: {name}", "    kind: rss", f"    url: {server.url(f'/{name}.xml')}"]
        if name in langs:
            lines.append(f"    lang: {langs[name]}")
    config = tmp_path / "sources.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Feeds(entries, config, tmp_path / "data", "slow", slow)


# -- running the real process ----------------------------------------------------------------


def bot_command(feeds: Feeds, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot", "--config", str(feeds.config), "--data-dir", str(feeds.data), *args]


def run_bot(feeds: Feeds, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        bot_command(feeds, *args), cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=_env()
    )


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def committed_items(db: Path) -> int:
    """Items visible to a read-only reader; 0 while the file or the schema is not there yet."""
    if not db.exists():
        return 0
    try:
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return 0
    try:
        return reader.execute("SELECT count(*) FROM items").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        reader.close()


def kill_after_commits(feeds: Feeds, server: FeedServer, commits: int) -> tuple[int, float]:
    """Start `fetch --all`, SIGKILL it once `commits` batches are seen committed; (items then, seconds)."""
    before = committed_items(feeds.data / "bot.db")
    log = feeds.config.with_name("killed.stderr")
    started = time.monotonic()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            bot_command(feeds, "fetch", "--all", "--json"),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=_env(),
        )
    try:
        seen, changes = before, 0
        deadline = started + COMMIT_WAIT
        while time.monotonic() < deadline and process.poll() is None and changes < commits:
            now_seen = committed_items(feeds.data / "bot.db")
            changes += now_seen > seen
            seen = max(seen, now_seen)
            time.sleep(0.01)
        assert process.poll() is None, f"the fetch ended before it could be killed: {log.read_text()!r}"
        assert changes == commits, f"saw {changes} of {commits} commits within {COMMIT_WAIT}s"
        assert server.requests_to("/slow.xml"), "the slow source was not in flight"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    return seen, time.monotonic() - started


# -- what must hold after a crash and a restart ----------------------------------------------


@pytest.fixture
def feeds(feed_server: FeedServer, tmp_path: Path) -> Iterator[Feeds]:
    served = serve_feeds(feed_server, tmp_path)
    try:
        yield served
    finally:
        served.slow.clear()


def open_db(feeds: Feeds) -> sqlite3.Connection:
    db = sqlite3.connect(feeds.data / "bot.db")
    db.row_factory = sqlite3.Row
    return db


def assert_integrity(feeds: Feeds) -> None:
    db = open_db(feeds)
    try:
        assert [row[0] for row in db.execute("PRAGMA integrity_check")] == ["ok"]
        assert not list(db.execute("PRAGMA foreign_key_check"))
    finally:
        db.close()


def assert_every_entry_once(feeds: Feeds) -> None:
    """Each served entry is one stored item (found by its URL identity), and no URL is stored twice."""
    db = open_db(feeds)
    try:
        wanted = feeds.canonical_urls()
        stored = [row["url"] for row in db.execute("SELECT url FROM items")]
        assert len(stored) == len(set(stored)), "an item is stored twice"
        assert set(stored) == wanted
        keys = {row["key"]: row["item_id"] for row in db.execute("SELECT key, item_id FROM item_keys")}
        for url in wanted:
            assert "url:" + url.split("://", 1)[1] in keys, url
        carried: dict[str, set[str]] = {}
        for row in db.execute("SELECT i.url, s.source FROM items i JOIN item_sources s ON s.item_id = i.id"):
            carried.setdefault(row["url"], set()).add(row["source"])
        for source, entries in feeds.entries.items():
            for entry in entries:
                assert source in carried[canonical_url(entry.url)], (source, entry.url)
        # Every item is in a story and has its vector: both are written in the batch's one transaction.
        assert db.execute("SELECT count(*) FROM items WHERE story_id IS NULL").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM items WHERE id NOT IN (SELECT item_id FROM vectors)").fetchone()[0] == 0
        fts = db.execute("SELECT count(*) FROM items_fts").fetchone()[0]
        assert fts == len(stored)
    finally:
        db.close()


def assert_sources_healthy(feeds: Feeds) -> None:
    now = datetime.now(UTC)
    db = open_db(feeds)
    try:
        states = {row["name"]: row for row in db.execute("SELECT * FROM source_state")}
        counts = dict(db.execute("SELECT source, count(*) FROM item_sources GROUP BY source").fetchall())
    finally:
        db.close()
    assert set(states) == set(feeds.entries)
    for name, state in states.items():
        assert state["last_success"], name
        assert state["consecutive_errors"] == 0, (name, state["last_error"])
        assert state["last_error"] == "", name
        assert datetime.fromisoformat(state["next_due"]) > now, name
        assert state["items_total"] == counts[name] == len(feeds.entries[name]), name


def assert_index_matches_store(feeds: Feeds, embedder: UseEmbedder) -> tuple[set[int], str]:
    """The index's ids are exactly the ids of items with vectors; returns them and the repair reason."""
    pipeline, repair = open_pipeline(load_settings(feeds.config), resolve_paths(feeds.data), embedder)
    try:
        indexed = pipeline.index.ids()
        with_vectors = set(pipeline.store.vector_ids(embedder.name).tolist())
        assert len(indexed) == len(set(indexed.tolist())), "an id is indexed twice"
        assert set(indexed.tolist()) == with_vectors
        assert len(with_vectors) == pipeline.store.count_items()
        # A stored vector is found as its own nearest neighbour: the index holds the right vectors.
        ids, vectors = pipeline.store.vectors(embedder.name, embedder.dim)
        sample = np.linspace(0, len(ids) - 1, num=min(25, len(ids)), dtype=int)
        _, found = pipeline.index.search(vectors[sample], 1)
        assert found[:, 0].tolist() == ids[sample].tolist()
        return with_vectors, repair.reason
    finally:
        pipeline.store.close()  # not pipeline.close(): that would save the index we are judging


@pytest.mark.parametrize("commits", [1, 2], ids=["after-1st-batch", "after-2nd-batch"])
def test_sigkill_mid_fetch_loses_and_duplicates_nothing(
    feeds: Feeds, feed_server: FeedServer, embedder, commits: int
) -> None:
    timings: dict[str, float] = {}
    # A first, complete run of one source leaves a saved index behind, as a running bot would.
    started = time.monotonic()
    first = run_bot(feeds, "fetch", "--source", "small")
    timings["first run"] = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    assert (feeds.data / "index" / INDEX_FILE).exists()

    feeds.slow.set()
    seen, timings["killed run"] = kill_after_commits(feeds, feed_server, commits)
    feeds.slow.clear()

    assert_integrity(feeds)
    db = open_db(feeds)
    try:
        at_kill = {row[0]: row[1] for row in db.execute("SELECT source, count(*) FROM items GROUP BY source")}
        slow_state = db.execute("SELECT last_success FROM source_state WHERE name='slow'").fetchone()
    finally:
        db.close()
    assert sum(at_kill.values()) >= seen > len(feeds.entries["small"])
    assert "slow" not in at_kill and slow_state is None, "the slow source finished before the kill"
    everything = sum(len(entries) for entries in feeds.entries.values())
    assert sum(at_kill.values()) < everything, "the pass was not cut short"

    started = time.monotonic()
    restart = run_bot(feeds, "fetch", "--all", "--json")
    timings["restart"] = time.monotonic() - started
    assert restart.returncode == 0, restart.stderr
    report = json.loads(restart.stdout)
    assert report["errors"] == 0, report
    # The items the killed run committed were never saved to the index: the restart repaired it from SQLite.
    assert "index out of step with the store" in restart.stderr, restart.stderr

    assert_integrity(feeds)
    assert_every_entry_once(feeds)
    assert_sources_healthy(feeds)
    ids, reason = assert_index_matches_store(feeds, embedder)
    assert reason == ""  # the restart saved an index in step with the store
    assert len(ids) == len(feeds.canonical_urls())

    # And a third run changes nothing: every source answers 304, nothing is added twice.
    again = run_bot(feeds, "fetch", "--all", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["new"] == 0
    assert_every_entry_once(feeds)
    print(f"\ncrash test: {seen} items committed at the kill, timings {_rounded(timings)}")


def damage_index(index_file: Path, how: str) -> None:
    intact = index_file.read_bytes()
    if how == "truncate":
        index_file.write_bytes(intact[: len(intact) // 3])
    elif how == "garble header":
        index_file.write_bytes(bytes(range(256)) * 8 + intact[2048:])
    elif how == "rot vectors":  # same size, parses fine: only a checksum can tell
        middle = len(intact) // 2
        index_file.write_bytes(
            intact[:middle] + bytes(b ^ 0xFF for b in intact[middle : middle + 4096]) + intact[middle + 4096 :]
        )
    else:
        index_file.unlink()


def test_damaged_index_is_rebuilt_from_sqlite(feeds: Feeds, embedder) -> None:
    first = run_bot(feeds, "fetch", "--all")
    assert first.returncode == 0, first.stderr
    index_file = feeds.data / "index" / INDEX_FILE
    size = index_file.stat().st_size
    for how in ("truncate", "garble header", "rot vectors", "delete"):
        damage_index(index_file, how)
        again = run_bot(feeds, "fetch", "--all", "--json")
        assert again.returncode == 0, (how, again.stderr)
        assert json.loads(again.stdout)["new"] == 0, how
        assert "index" not in again.stderr, (how, again.stderr)  # nothing new: the index is not even opened
        asked = run_bot(feeds, "ask", "which lab released a model?")
        assert asked.returncode == 0, (how, asked.stderr)
        assert "index missing, unreadable or built for another model" in asked.stderr, (how, asked.stderr)
        assert index_file.stat().st_size == size, how
        ids, reason = assert_index_matches_store(feeds, embedder)
        assert reason == "", how
        assert len(ids) == len(feeds.canonical_urls()), how
    assert_integrity(feeds)
    assert_every_entry_once(feeds)
    assert_sources_healthy(feeds)


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {name: round(seconds, 1) for name, seconds in timings.items()}
