"""Issue 16: hostile feeds, concurrent writers, bad config and a damaged disk.

Each test here failed on the code before the fix it guards. What is mocked is only what lies
outside our control, and each such test says so (the DNS answers for a rebinding name).
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botapi import BotApi, check_text
from feedserver import OWN_FEEDS, FeedServer

from bot.cli import main
from bot.core.config import FetchConfig, Settings, SourceConfig, load_settings, resolve_paths
from bot.core.models import FetchStatus, Item, RawEntry, SourceState
from bot.deliver.digest import render_story
from bot.ingest.normalize import normalize
from bot.ingest.overlay import OverlayError, require_public_host
from bot.ingest.pipeline import Pipeline, open_pipeline
from bot.ingest.sources import FeedHttp, fetch_rss
from bot.ingest.sources.address import is_public
from bot.ingest.sources.rss import MAX_TAGS
from bot.query.answer import Answer, Citation
from bot.query.search import MoveEvent, search_stories
from bot.render.split import clip_html, visible_len
from bot.render.telegram import render_answer, render_timeline
from bot.storage import Store
from bot.storage.connection import Connection
from bot.storage.schema import MIGRATIONS, statements

REPO = Path(__file__).resolve().parents[1]

NOW = datetime(2024, 11, 15, 12, 0, tzinfo=UTC)
REBINDING_HOST = "feeds.rebind.test"
PUBLIC_ANSWER = "93.184.216.34"  # a global address; no server of ours listens there


@pytest.fixture
def empty_config(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text("sources: []\n", encoding="utf-8")
    return path


@pytest.fixture
def two_feed_config(feed_server: FeedServer, tmp_path: Path) -> Path:
    """Two real feeds on 127.0.0.1 (English and Chinese) in a config that allows fetching them."""
    feed_server.serve_file("/en.xml", OWN_FEEDS / "rss20_ai_news.xml")
    feed_server.serve_file("/zh.xml", OWN_FEEDS / "zh_gb2312_prolog.xml", content_type="application/xml")
    path = tmp_path / "sources.yaml"
    path.write_text(
        "fetch: {allow_private: true, total_timeout: 5s}\n"
        "sources:\n"
        f"  - {{name: en_news, kind: rss, url: '{feed_server.url('/en.xml')}'}}\n"
        f"  - {{name: zh_news, kind: rss, url: '{feed_server.url('/zh.xml')}', lang: zh}}\n",
        encoding="utf-8",
    )
    return path


async def fetch_public_only(url: str):
    config = FetchConfig(timeout=1, total_timeout=3)  # allow_private off: the default
    async with FeedHttp(config) as http:
        return await fetch_rss(
            SourceConfig(name="hostile", kind="rss", url=url), SourceState(name="hostile"), http, NOW
        )


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The DNS (outside our control) for one name: a public address first, 127.0.0.1 on every later lookup.

    Patched at `socket.getaddrinfo`, below both our resolver and httpx's, so it answers whoever asks.
    Returns the log of names asked.
    """
    real = socket.getaddrinfo
    asked: list[str] = []

    def answer(host, port, *args, **kwargs):
        if (host.decode() if isinstance(host, bytes) else host) != REBINDING_HOST:  # anyio asks in IDNA bytes
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = PUBLIC_ANSWER if len(asked) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", answer)
    return asked


# 1. DNS rebinding and the private-address check ---------------------------------------------


async def test_rebinding_name_never_reaches_the_loopback_server(feed_server: FeedServer, rebinding_dns) -> None:
    url = feed_server.serve_file("/internal.xml", OWN_FEEDS / "rss20_ai_news.xml")
    rebound = url.replace("127.0.0.1", REBINDING_HOST)
    result = await fetch_public_only(rebound)
    assert result.status is FetchStatus.ERROR
    assert feed_server.requests_to("/internal.xml") == []  # the connection went to the address that was checked
    assert rebinding_dns == [REBINDING_HOST]  # resolved once


async def test_admission_check_then_fetch_of_a_rebinding_name_is_refused(
    feed_server: FeedServer, rebinding_dns
) -> None:
    url = feed_server.serve_file("/internal.xml", OWN_FEEDS / "rss20_ai_news.xml")
    rebound = url.replace("127.0.0.1", REBINDING_HOST)
    await require_public_host(rebound)  # the admin's early check sees the public answer
    result = await fetch_public_only(rebound)  # the fetch resolves again, sees 127.0.0.1 and refuses
    assert result.status is FetchStatus.ERROR
    assert "127.0.0.1 is not a public address" in result.error
    assert feed_server.requests_to("/internal.xml") == []


async def test_failed_lookup_is_a_refusal() -> None:
    with pytest.raises(OverlayError, match="cannot resolve"):
        await require_public_host("http://no-such-host.invalid/feed.xml")


@pytest.mark.parametrize(
    "address",
    ["::ffff:127.0.0.1", "2002:7f00:1::", "64:ff9b::7f00:1", "::127.0.0.1", "2002:a00:1::", "64:ff9b::a9fe:a9fe"],
)
def test_ipv6_forms_embedding_a_private_ipv4_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses_stay_public() -> None:
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert is_public(ipaddress.ip_address("2606:4700:4700::1111"))
    assert is_public(ipaddress.ip_address("2002:5db8:d822::"))  # 6to4 of a public IPv4


async def test_ipv6_mapped_loopback_url_is_refused(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/mapped.xml", OWN_FEEDS / "rss20_ai_news.xml")
    result = await fetch_public_only(url.replace("127.0.0.1", "[64:ff9b::7f00:1]"))
    assert result.status is FetchStatus.ERROR
    assert "not a public address" in result.error


# 7. A damaged database, a full disk -------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real bot.db (and index) made by `bot demo` once for the module; tests copy it."""
    base = tmp_path_factory.mktemp("demo")
    assert main(["--data-dir", str(base), "demo"]) == 0
    return base / "demo"


def corrupted_copy(demo_db: Path, target: Path) -> Path:
    """A copy of the demo data dir whose items table's root page (4 KB) is overwritten with noise."""
    shutil.copytree(demo_db, target)
    with sqlite3.connect(target / "bot.db") as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name='items'").fetchone()[0]
    with open(target / "bot.db", "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(random.Random(16).randbytes(page_size))
    return target


def test_status_fails_on_a_damaged_page_and_says_how_to_recover(
    demo_db: Path, empty_config: Path, tmp_path: Path, capsys
) -> None:
    data = corrupted_copy(demo_db, tmp_path / "data")
    code = main(["--config", str(empty_config), "--data-dir", str(data), "status", "--no-scheduler"])
    err = capsys.readouterr().err
    assert code == 1
    assert "is damaged" in err and ".recover" in err and "backup" in err


@pytest.mark.parametrize("argv", [["ask", "Who joined Microsoft?"], ["digest", "--since", "3000d"]])
def test_every_command_on_a_damaged_database_prints_one_line(
    demo_db: Path, empty_config: Path, tmp_path: Path, argv: list[str]
) -> None:
    data = corrupted_copy(demo_db, tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(empty_config), "--data-dir", str(data), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "bot.db is damaged" in errors[0] and ".recover" in errors[0]


def test_disk_full_while_storing_is_one_line(
    two_feed_config: Path, tmp_path: Path, monkeypatch, capsys, caplog
) -> None:
    """The disk filling up is outside our control: SQLite's own page cap (`max_page_count`) at the
    database's size when opened makes every later write fail with SQLITE_FULL, as a full disk does.
    The pass then closes its embedding process under the other batch still embedding: that batch
    stops, with no second failure (CI once saw EBADF there) and no model loaded here instead."""
    real_open = Connection.open.__func__

    def open_on_a_full_disk(cls, path: Path):
        store = real_open(cls, path)
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")
        return store

    monkeypatch.setattr(Connection, "open", classmethod(open_on_a_full_disk))
    code = main(["--config", str(two_feed_config), "--data-dir", str(tmp_path / "data"), "fetch", "--all"])
    err = capsys.readouterr().err
    assert code == 1
    assert "is full: free some space" in err
    assert "Traceback" not in err
    assert not [record for record in caplog.records if record.name == "bot.ingest.embed"]


# 6. Config that destroys or hangs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "complaint"),
    [
        ("storage: {retention: 0}", "field storage.retention: must be more than 0"),
        ("fetch: {default_interval: -5}", "field fetch.default_interval: must be more than 0"),
        ("topics: {window: 1.0e+300}", "field topics.window: must be more than 0 and at most 100 years"),
        ("alerts: {within: 99999999999999d}", "field alerts.within: must be more than 0 and at most 100 years"),
        ("fetch: {timeout: .nan}", "field fetch.timeout: must be more than 0"),
        ("sources: [{name: a, kind: rss, url: 'http://0177.0.0.1/feed'}]", "four decimal numbers a.b.c.d"),
        ("sources: [{name: a, kind: rss, url: 'http://2130706433/feed'}]", "four decimal numbers a.b.c.d"),
        ("sources: [{name: a, kind: rss, url: 'http://example.org:99999/feed'}]", "invalid port (1-65535)"),
        ("sources: [{name: a, kind: rss, url: 'https://example.org/f', interval: -1h}]", "'interval'"),
        ("sources: [{name: a, kind: rss, url: 'https://example.org/f', interval: -60}]", "must be more than 0"),
        ("arxiv: {api_url: 'http://[::1]:0/api'}", "invalid port"),
    ],
)
def test_config_out_of_range_is_one_clear_message(tmp_path: Path, capsys, snippet: str, complaint: str) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(snippet + "\n", encoding="utf-8")
    code = main(["--config", str(config), "--data-dir", str(tmp_path / "data"), "sources", "check"])
    err = capsys.readouterr().err
    assert code == 2
    assert complaint in err
    assert len(err.strip().splitlines()) == 1, err


# 5. The Telegram token never reaches the logs -----------------------------------------------------

REJECTED_TOKEN = "987654:REJECTED-secret-token-value"


def run_bot_with_rejected_token(api, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """`bot run` as a user starts it, against the Bot API stand-in, which answers 401 to this token."""
    config = tmp_path / "sources.yaml"
    config.write_text(f"telegram: {{base_url: '{api.base_url}'}}\nsources: []\n", encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bot", *flags, "--config", str(config), "--data-dir", str(tmp_path / "data"), "run"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "TELEGRAM_BOT_TOKEN": REJECTED_TOKEN},
    )


def test_rejected_token_is_one_line_and_exit_2(api, tmp_path: Path) -> None:
    done = run_bot_with_rejected_token(api, tmp_path)
    assert REJECTED_TOKEN not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    assert done.returncode == 2, done.stderr
    complaints = [line for line in done.stderr.splitlines() if "rejected the bot token" in line]
    assert complaints == ["config error: Telegram rejected the bot token (check telegram.token_env)"], done.stderr


def test_verbose_logs_never_show_the_token(api, tmp_path: Path) -> None:
    done = run_bot_with_rejected_token(api, tmp_path, "-v")
    assert "api.telegram.org" not in done.stderr and api.base_url in done.stderr.replace("<token>", "")  # it did log
    assert REJECTED_TOKEN not in done.stderr + done.stdout
    assert REJECTED_TOKEN.split(":")[1] not in done.stderr
    assert done.returncode == 2
    stamped = [line for line in done.stderr.splitlines() if line.startswith(("DEBUG", "INFO", "WARNING", "ERROR"))]
    assert stamped == []  # every log line starts with its timestamp


# 3. Two writers on one data dir -----------------------------------------------------------------


def test_two_fetches_at_once_store_each_guid_once(feed_server: FeedServer, two_feed_config: Path, tmp_path) -> None:
    """Two real `bot fetch --all` processes started together on one data dir, the feeds slow enough
    (a second per request) that both would be fetching at the same time."""
    for path in ("/en.xml", "/zh.xml"):
        serve = feed_server.routes[path]
        feed_server.routes[path] = lambda request, serve=serve: (time.sleep(1.0), serve(request))[1]
    data = tmp_path / "data"
    command = [sys.executable, "-m", "bot", "--config", str(two_feed_config), "--data-dir", str(data)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = [
        subprocess.Popen(
            [*command, "fetch", "--all"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    finished = [(process.wait(timeout=120), process.stderr.read()) for process in started]
    codes = sorted(code for code, _ in finished)
    assert codes in ([0, 0], [0, 2]), finished
    if codes == [0, 2]:
        refused = next(err for code, err in finished if code == 2)
        assert "another bot process (pid " in refused and f"is writing to {data}" in refused
    with sqlite3.connect(data / "bot.db") as db:
        items = db.execute("SELECT count(*) FROM items").fetchone()[0]
        guids = db.execute("SELECT count(DISTINCT source || ' ' || guid) FROM items").fetchone()[0]
    assert items == guids > 0


def test_migration_drops_copies_a_second_writer_stored(demo_db: Path, tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_db, data)
    with sqlite3.connect(data / "bot.db") as db:
        before = db.execute("SELECT count(*) FROM items").fetchone()[0]
        columns = [row[1] for row in db.execute("PRAGMA table_info(items)") if row[1] != "id"]
        # what the race left: the same entry stored again, its identities ignored
        db.execute(f"INSERT INTO items ({','.join(columns)}) SELECT {','.join(columns)} FROM items WHERE id = 1")
        db.execute("PRAGMA user_version = 5")
    Store.open(data / "bot.db").close()
    with sqlite3.connect(data / "bot.db") as db:
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] == before
        assert db.execute("SELECT count(*) FROM items WHERE id NOT IN (SELECT item_id FROM item_keys)").fetchone() == (
            0,
        )


# 8. A running bot sees what a CLI fetch stored ----------------------------------------------------


def test_running_pipeline_finds_what_another_process_fetched(
    two_feed_config: Path, tmp_path: Path, embedder, feed_server: FeedServer
) -> None:
    data = tmp_path / "data"
    settings = load_settings(two_feed_config)
    running, _ = open_pipeline(settings, resolve_paths(data), embedder)  # the bot, started on an empty store
    try:
        assert search_stories(running, "Lumen-7B code repair leaderboard") == []
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(two_feed_config), "--data-dir", str(data), "fetch", "--all"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert done.returncode == 0, done.stderr
        hits = search_stories(running, "Lumen-7B code repair leaderboard")
        assert hits and "Lumen-7B" in next(iter(hits[0].items.values())).title
        assert len(running.index) == running.store.count_items()
    finally:
        running.close()


# 9. Replies Telegram would reject -----------------------------------------------------------------


def test_long_answers_are_split_into_messages_telegram_accepts() -> None:
    title = "Helix robotics lab " * 52  # ~990 characters, as a hostile feed may title an entry
    answer = Answer(
        text="Here is what the stories say.",
        lang="en",
        citations=[Citation(n, n, f"{title} {n}", f"https://news.example/{n}?a=1&b=2") for n in range(1, 7)],
    )
    messages = render_answer(answer, [])
    assert len(messages) > 1
    for message in messages:
        check_text(message, "HTML")  # the stand-in's own check: entities parse, length after parsing
    assert "".join(messages).count("https://news.example/") == 6  # split, not dropped


def test_who_with_a_huge_link_is_never_cut_mid_tag() -> None:
    link = "https://people.example/" + "x" * 6000
    events = [
        MoveEvent(
            datetime(2024, 5, day, tzinfo=UTC),
            {"person": "Ada Li", "action": "join", "to_org": "Helix"},
            "Ada " * 300,
            link,
        )
        for day in range(1, 4)
    ]
    for message in render_timeline("Ada Li", events, "en"):
        check_text(message, "HTML")


def test_clip_html_keeps_tags_whole_and_closes_them() -> None:
    clipped = clip_html('<b>bold &amp; long</b> <a href="https://x.example/">' + "y" * 50 + "</a>", 20)
    check_text(clipped, "HTML")
    assert clipped.endswith("…</a>") and visible_len(clipped) == 20


def test_bidi_overrides_are_stripped_from_titles() -> None:
    entry = RawEntry(
        source="hostile",
        guid="1",
        link="https://a.example/1",
        title="Helix \u202egnp.exe\u202c lab \u2067x\u2069",
        summary_html="",
        content_html="",
        published=NOW,
        fetched_at=NOW,
    )
    assert normalize(entry).title == "Helix gnp.exe lab x"


def test_lone_surrogates_in_a_question_do_not_crash_ask(demo_db: Path, empty_config: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_db, data)
    question = b"Who joined Microsoft? \xff\xfe".decode("utf-8", "surrogateescape")  # as argv decodes bad bytes
    code = main(["--config", str(empty_config), "--data-dir", str(data), "ask", question])
    assert code == 0


# C. A proxy from the environment would resolve names for us, past the private-address check ------


@pytest.fixture
def env_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    """A second local server named as the HTTP(S) proxy in the environment: a proxied request would
    reach it as `GET http://host:port/path`, which its request log records under `/path`."""
    proxy = FeedServer().start()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy.origin)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield proxy
    finally:
        proxy.stop()


async def fetch_with(config: FetchConfig, url: str):
    async with FeedHttp(config) as http:
        return await fetch_rss(SourceConfig(name="feed", kind="rss", url=url), SourceState(name="feed"), http, NOW)


async def test_proxy_in_the_environment_is_ignored(feed_server: FeedServer, env_proxy: FeedServer) -> None:
    url = feed_server.serve_file("/direct.xml", OWN_FEEDS / "rss20_ai_news.xml")
    result = await fetch_with(FetchConfig(allow_private=True, timeout=2, total_timeout=5), url)
    assert result.status is FetchStatus.OK and result.entries
    assert len(feed_server.requests_to("/direct.xml")) == 1
    assert env_proxy.requests == []
    refused = await fetch_with(FetchConfig(timeout=2, total_timeout=5), url)  # allow_private off: the check holds
    assert refused.status is FetchStatus.ERROR and "not a public address" in refused.error
    assert env_proxy.requests == [] and len(feed_server.requests_to("/direct.xml")) == 1


async def test_configured_proxy_is_used_and_private_hosts_are_still_refused(
    feed_server: FeedServer, env_proxy: FeedServer
) -> None:
    url = feed_server.serve_file("/via-proxy.xml", OWN_FEEDS / "rss20_ai_news.xml")
    env_proxy.serve_file("/via-proxy.xml", OWN_FEEDS / "rss20_ai_news.xml")
    result = await fetch_with(FetchConfig(allow_private=True, proxy=env_proxy.origin, timeout=2, total_timeout=5), url)
    assert result.status is FetchStatus.OK
    assert len(env_proxy.requests_to("/via-proxy.xml")) == 1 and feed_server.requests == []
    refused = await fetch_with(FetchConfig(proxy=env_proxy.origin, timeout=2, total_timeout=5), url)
    assert refused.status is FetchStatus.ERROR and "not a public address" in refused.error
    assert len(env_proxy.requests_to("/via-proxy.xml")) == 1  # the proxy was never asked for it


# 2. Only the owner of an item changes its text -------------------------------------------------

OUTLETS = Settings(
    sources=(
        SourceConfig(name="arxiv_ai", kind="arxiv", query="cat:cs.AI"),
        SourceConfig(name="reuters", kind="rss", url="https://feeds.reuters.com/reuters/technologyNews"),
        SourceConfig(name="hostile", kind="rss", url="https://hostile.example/feed.xml"),
    )
)
ARTICLE = "https://www.reuters.com/technology/helix-lab-opens-robotics-model-2024-11-15/"
REAL_HEADLINE = "Helix lab opens its robotics foundation model to researchers"


def entry(source: str, title: str, link: str, text: str, hours: float = 0) -> RawEntry:
    return RawEntry(
        source=source,
        title=title,
        link=link,
        guid=f"{source}:{link}",
        summary_html=text,
        published=NOW - timedelta(hours=hours),
        fetched_at=NOW,
    )


@pytest.fixture
def outlets(tmp_path: Path, embedder) -> Iterator[Pipeline]:
    pipeline, _ = open_pipeline(OUTLETS, resolve_paths(tmp_path / "data"), embedder)
    try:
        yield pipeline
    finally:
        pipeline.close()


PAPER_V1 = entry(
    "arxiv_ai",
    "DiffBid: Generative Auto-Bidding with Diffusion Models",
    "http://arxiv.org/abs/2412.04321v1",
    "We model auto-bidding as trajectory generation with a diffusion model.",
    hours=8,
)
PAPER_V2 = entry(
    "arxiv_ai",
    "DiffBid v2: Generative Auto-Bidding with Diffusion and Budget Constraints",
    "http://arxiv.org/abs/2412.04321v2",
    "Revised: adds budget pacing constraints and new experiments.",
)
HIJACK_V9 = entry(
    "hostile",
    "Paper retracted: authors admit fabricated results",
    "https://arxiv.org/abs/2412.04321v9",
    "Send your wallet seed phrase to verify the data.",
    hours=4,
)


def the_paper(pipeline: Pipeline) -> Item:
    [item] = pipeline.store.get_items([pipeline.store.lookup_keys(["arxiv:2412.04321"])["arxiv:2412.04321"]])
    return item


def test_another_feed_cannot_rewrite_an_arxiv_paper(outlets: Pipeline) -> None:
    outlets.ingest([PAPER_V1])
    report = outlets.ingest([HIJACK_V9])["hostile"]
    assert (report.updated, report.duplicate) == (0, 1)
    paper = the_paper(outlets)
    assert (paper.title, paper.source, paper.arxiv_version) == (PAPER_V1.title, "arxiv_ai", 1)
    assert "wallet" not in paper.text
    assert outlets.store.claimed_titles(paper.id) == {"arxiv_ai": PAPER_V1.title, "hostile": HIJACK_V9.title}
    assert outlets.ingest([PAPER_V2])["arxiv_ai"].updated == 1  # the real v2 still updates it
    assert (the_paper(outlets).title, the_paper(outlets).arxiv_version) == (PAPER_V2.title, 2)


def test_arxiv_takes_its_paper_back_from_a_feed_that_claimed_it_first(outlets: Pipeline) -> None:
    outlets.ingest([HIJACK_V9])
    outlets.ingest([PAPER_V1])
    paper = the_paper(outlets)
    assert (paper.title, paper.source, paper.arxiv_version) == (PAPER_V1.title, "arxiv_ai", 1)
    assert outlets.store.search_text("wallet seed") == []
    assert outlets.ingest([PAPER_V2])["arxiv_ai"].updated == 1


@pytest.mark.parametrize("one_batch", [False, True], ids=["later_fetch", "same_batch"])
def test_the_outlet_serving_the_link_owns_it_even_when_another_feed_had_it_first(
    outlets: Pipeline, one_batch: bool
) -> None:
    claim = entry("hostile", "Helix lab admits its robots injured workers", ARTICLE, "A fabricated scandal.", hours=6)
    real = entry("reuters", REAL_HEADLINE, ARTICLE, "Helix said on Friday it would release its model.", hours=1)
    if one_batch:
        outlets.ingest([claim, real])
    else:
        outlets.ingest([claim])
        outlets.ingest([real])
    assert outlets.store.count_items() == 1
    [item] = outlets.store.get_items([1])
    assert (item.title, item.source) == (REAL_HEADLINE, "reuters")
    assert item.published == real.published
    assert outlets.store.claimed_titles(item.id) == {"hostile": claim.title, "reuters": REAL_HEADLINE}
    assert outlets.store.search_text("fabricated scandal") == []
    story_id = outlets.store.story_of_items([item.id])[item.id]
    story = outlets.store.stories([story_id])[story_id]
    links = outlets.store.story_links(story_id)
    assert links[0] == ("reuters", ARTICLE)
    line = render_story(story, "en", links, 4096)  # the digest's line: the owner's headline, the owner first
    assert REAL_HEADLINE in line and "injured" not in line
    assert line.index(">reuters</a>") < line.index(">hostile</a>")
    # the claimant seen again changes nothing; the owner's own edit still does
    assert outlets.ingest([claim])["hostile"].updated == 0
    edited = entry("reuters", REAL_HEADLINE + " (updated)", ARTICLE, "Adds comment from the company.", hours=1)
    assert outlets.ingest([edited])["reuters"].updated == 1


def test_claimed_titles_table_is_added_to_an_older_file(demo_db: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_db, data)
    with sqlite3.connect(data / "bot.db") as db:
        db.execute("DROP TABLE item_claims")
        db.execute("PRAGMA user_version = 6")  # a file written before the table existed
        items = db.execute("SELECT count(*) FROM items").fetchone()[0]
    Store.open(data / "bot.db").close()
    with sqlite3.connect(data / "bot.db") as db:
        claims = db.execute("SELECT count(*) FROM item_claims").fetchone()[0]
        own = db.execute(
            "SELECT count(*) FROM item_claims c JOIN items i ON i.id = c.item_id"
            " WHERE c.source = i.source AND c.title = i.title"
        ).fetchone()[0]
        for statement in statements(MIGRATIONS[6]):  # the migration run again changes nothing
            db.execute(statement)
        again = db.execute("SELECT count(*) FROM item_claims").fetchone()[0]
    assert claims == own == items == again > 0


# 9. A document that costs minutes to parse -------------------------------------------------------


def nested_feed(depth: int, encoding: str = "utf-8") -> bytes:
    """An RSS document whose one description nests `depth` elements (~7 bytes each): 10 MB at 1.4 M."""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>deep</title>'
        "<item><title>deep</title><link>https://deep.example/1</link><description>"
        + "<a>" * depth
        + "x"
        + "</a>" * depth
        + "</description></item></channel></rss>"
    )
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
async def test_deeply_nested_document_is_refused_in_bounded_time_and_memory(
    feed_server: FeedServer, encoding: str
) -> None:
    body = nested_feed(1_400_000 if encoding == "utf-8" else 700_000, encoding)
    assert len(body) >= 9_800_000
    url = feed_server.serve("/deep.xml", body)
    config = FetchConfig(allow_private=True, max_bytes=10_000_000, timeout=5, total_timeout=10)
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = await fetch_with(config, url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5  # feedparser alone took 70 s and 0.85 GB on it
    assert peak < 80_000_000  # the body, a copy to scan, and slack for the other threads of the test process
    assert result.status is FetchStatus.ERROR
    assert result.error.startswith(f"too many elements to parse: more than {MAX_TAGS} tags")


async def test_a_large_real_feed_is_still_parsed(feed_server: FeedServer) -> None:
    """20,000 entries (issue 17's big feed, ~140k tags with the escaped HTML) are within the budget."""
    items = "".join(
        f"<item><title>Story {n}</title><link>https://big.example/{n}</link>"
        f"<description>&lt;p&gt;Paragraph {n}&lt;/p&gt;</description></item>"
        for n in range(20_000)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>{items}</channel></rss>'.encode()
    result = await fetch_with(FetchConfig(allow_private=True), feed_server.serve("/big.xml", body))
    assert result.status is FetchStatus.OK and len(result.entries) == 20_000


# 9. Telegram unreachable at start ------------------------------------------------------------------


def test_bot_run_fetches_while_telegram_is_unreachable_then_serves(feed_server: FeedServer, tmp_path: Path) -> None:
    """The Bot API stand-in is bound but not answering yet (getMe times out), then starts answering."""
    url = feed_server.serve_file("/en.xml", OWN_FEEDS / "rss20_ai_news.xml")
    api = BotApi()  # listening socket open, no one answering until start()
    config = tmp_path / "sources.yaml"
    config.write_text(
        f"telegram: {{base_url: '{api.base_url}'}}\nfetch: {{allow_private: true}}\n"
        f"sources:\n  - {{name: en_news, kind: rss, url: '{url}'}}\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "--data-dir", str(data), "run"],
        env={**os.environ, "PYTHONPATH": str(REPO), "TELEGRAM_BOT_TOKEN": api.token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: stored_items(data) > 0, 90), "nothing was fetched while Telegram was down"
        assert wait_for(lambda: any("Telegram not reachable yet" in line for line in lines), 30), lines
        api.start()
        api.queue_message(chat_id=7, user_id=7, text="/help")
        assert api.wait_for_sent(7, 1, timeout=60)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if not api._thread.is_alive():
            api.start()  # shutdown() waits for a serve loop that was never started
        api.stop()
    err = "".join(lines)
    warnings = [line for line in lines if "Telegram not reachable yet" in line]
    assert len(warnings) == 1 and "fetching goes on, retrying" in warnings[0], err
    assert "Traceback" not in err


def stored_items(data: Path) -> int:
    try:
        with sqlite3.connect(f"file:{data / 'bot.db'}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM items").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
