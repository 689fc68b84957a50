"""The Telegram bot end to end: real python-telegram-bot, built by `build_application`, polling a Bot
API stand-in on 127.0.0.1 (tests/botapi.py), over a real data dir (real embedder, SQLite, FAISS).

A conversation is checked through what the stand-in recorded. Updates are handled one at a time,
so each conversation ends with a marker command whose reply proves every earlier reply was sent:
no sleeps, no polling loops in the tests.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import shutil
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import count
from pathlib import Path

import pytest
from botapi import TOKEN, BotApi, Fault
from feedserver import OWN_FEEDS, FeedServer

from bot.app import App
from bot.core.config import Paths, Settings, SourceConfig, TelegramConfig, ThemeConfig, resolve_paths
from bot.core.errors import ConfigError
from bot.core.models import RawEntry
from bot.ingest.embed import UseEmbedder
from bot.ingest.overlay import OVERLAY_NAME, OverlayError, add_source, load_overlay, remove_source, with_overlay
from bot.ingest.pipeline import Pipeline, open_pipeline
from bot.render.telegram import SettingError, chunk_lines, help_text, parse_setting, parse_themes
from bot.service.runner import attach
from bot.service.scheduler import Service, fetch_job_id
from bot.telegram import handlers as telegram_handlers
from bot.telegram import services as telegram_services
from bot.telegram.app import bot_token, build_application, send_digest, serving
from bot.telegram.services import scheduled_delivery

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")  # inside PTB's rate limiter

NOW = datetime.now(UTC).replace(microsecond=0)
ADMIN = 4242
USER = 777
THEMES = {
    "llm": ThemeConfig(
        description="Large language models: releases, reasoning, open weights.",
        keywords={"en": ["language model", "LLM", "reasoning model"], "zh": ["大模型", "推理模型"]},
        examples=("A lab releases an open-weight reasoning model", "开源推理大模型发布"),
    ),
    "robotics": ThemeConfig(
        description="Robots: humanoids, manipulation, robot learning.",
        keywords={"en": ["robot", "humanoid"], "zh": ["机器人", "人形"]},
        examples=("A humanoid robot learns to sort parcels", "人形机器人完成融资"),
    ),
    "other": ThemeConfig(description="AI news that fits no other theme."),
}
STORED_TITLE = "Qubit <Labs> & AT&T ship the Q-9 robot arm"  # a headline with HTML-special characters
HTML_TITLE_ESCAPED = html.escape(STORED_TITLE, quote=False)  # how the feed encodes it, and what Telegram must get


def raw(source: str, title: str, link: str, summary: str, hours: float) -> RawEntry:
    published = NOW - timedelta(hours=hours)
    return RawEntry(source, title, link, NOW, guid=link, summary_html=summary, published=published)


ENTRIES = [
    raw(
        "lab_wire",
        "Aurora Labs releases Zephyr-7, an open-weight reasoning model",
        "https://aurora.example/zephyr-7",
        "Aurora Labs released Zephyr-7, a 70-billion-parameter open-weight reasoning language model.",
        10,
    ),
    raw(
        "ai_cn",
        "Aurora Labs 发布开源推理模型 Zephyr-7",
        "https://aicn.example/zephyr-7",
        "Aurora Labs 发布了开源推理大模型 Zephyr-7，参数量 700 亿。",
        9,
    ),
    raw(
        "tech_daily",
        "Orion AI chief scientist Dana Whitfield leaves to join Helix",
        "https://techdaily.example/whitfield-helix",
        "Dana Whitfield, chief scientist at Orion AI, has left the company and will join Helix as head of research.",
        8,
    ),
    raw(
        "money_news",
        "Nimbus Robotics raises $300 million to build humanoid robots for warehouses",
        "https://money.example/nimbus",
        "Humanoid robot start-up Nimbus Robotics raised $300 million in a Series C round.",
        7,
    ),
    raw(
        "robot_news",
        HTML_TITLE_ESCAPED,
        "https://robot.example/q9?a=1&b=2",
        "The Q-9 robot arm from Qubit Labs picks parts at twice the speed of its predecessor.",
        6,
    ),
]


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory, embedder: UseEmbedder) -> Path:
    """A data dir with the entries above ingested once; each test works on its own copy."""
    root = tmp_path_factory.mktemp("golden")
    pipeline, _ = open_pipeline(Settings(themes=THEMES), resolve_paths(root), embedder)
    pipeline.ingest(ENTRIES)
    pipeline.close()
    return root


@pytest.fixture
def paths(golden: Path, tmp_path: Path) -> Paths:
    shutil.copytree(golden, tmp_path / "data")
    return resolve_paths(tmp_path / "data")


def make_settings(api: BotApi, allow_private: bool = False) -> Settings:
    return Settings.model_validate(
        {
            "themes": THEMES,
            "telegram": TelegramConfig(base_url=api.base_url, admins=(ADMIN,)),
            "fetch": {"allow_private": allow_private, "timeout": 5, "total_timeout": 10},
        }
    )


@pytest.fixture
def settings(api: BotApi) -> Settings:
    api.reset()
    return make_settings(api)


@pytest.fixture
def pipeline(settings: Settings, paths: Paths, embedder: UseEmbedder) -> Iterator[Pipeline]:
    opened, _ = open_pipeline(settings, paths, embedder)
    yield opened
    opened.close()


@pytest.fixture
async def bot(settings: Settings, pipeline: Pipeline) -> AsyncIterator[object]:
    application = build_application(App.around(pipeline, settings), TOKEN)
    async with serving(application, poll_timeout=1) as running:
        yield running


_markers = count(1)


def converse(api: BotApi, chat: int, *texts: str, user: int = USER, language_code: str = "en") -> list[str]:
    """Send `texts` as `user` in `chat`; return every reply they produced, in order."""
    before = len(api.sent(chat))
    for text in texts:
        api.queue_message(chat, user, text, language_code=language_code)
    marker = f"/marker{next(_markers)}"
    api.queue_message(chat, user, marker, language_code=language_code)
    sent = api.wait_until(chat, lambda texts: any(marker in text for text in texts[before:]))
    return [text for text in sent[before:] if marker not in text]


async def reply_to(api: BotApi, chat: int, *texts: str, user: int = USER, language_code: str = "en") -> list[str]:
    """`converse` off the event loop, which the bot under test shares with the test."""
    return await asyncio.to_thread(converse, api, chat, *texts, user=user, language_code=language_code)


# -- conversations -----------------------------------------------------------------------------


async def test_start_subscribe_and_settings_are_saved_in_sqlite(api, bot, pipeline, caplog):
    caplog.set_level(logging.DEBUG)
    chat = 1001
    replies = await reply_to(
        api,
        chat,
        "/start",
        "/subscribe llm",
        "/settings time 09:00",
        "/settings tz Asia/Shanghai",
        "/subscribe nosuchtheme",
        "/settings tz Mars/Olympus_Mons",
        "/settings time 25:00",
        "/settings",
    )
    assert replies[0] == help_text()
    assert "Subscribed to llm" in replies[1]
    assert replies[2] == "Digest time set to 09:00."
    assert replies[3] == "Time zone set to Asia/Shanghai."
    assert "Unknown theme: nosuchtheme" in replies[4] and "llm, robotics, other" in replies[4]
    assert "Unknown time zone Mars/Olympus_Mons" in replies[5]
    assert "25:00 is not a time of day" in replies[6]
    assert "digest: daily at 09:00" in replies[7] and "time zone: Asia/Shanghai" in replies[7]
    saved = pipeline.store.subscriber(chat)
    assert saved is not None
    assert (saved.subscribed, saved.active, saved.themes) == (True, True, ("llm",))
    assert (saved.digest_time, saved.timezone, saved.user_id) == ("09:00", "Asia/Shanghai", USER)
    assert {c["command"] for c in api.commands} >= {"subscribe", "digest", "ask"}  # post_init ran
    assert TOKEN not in caplog.text  # httpx logs request URLs; the token is redacted


async def test_chinese_user_gets_chinese_replies_and_can_switch(api, bot):
    chat = 1002
    replies = await reply_to(api, chat, "/unsubscribe", "/settings lang en", "/unsubscribe", language_code="zh-hans")
    assert replies[0].startswith("已退订")
    assert replies[1] == "I'll reply in English."
    assert replies[2].startswith("Unsubscribed")


async def test_ask_in_english_and_chinese_answers_with_links(api, bot):
    chat = 1003
    english, chinese = await reply_to(api, chat, "/ask What did Aurora Labs release?", "Aurora Labs 发布了什么模型？")
    assert english.startswith("Top stories")
    assert '<a href="https://aurora.example/zephyr-7">Aurora Labs releases Zephyr-7' in english
    assert chinese.startswith("监控的来源中最相关的报道")
    assert '<a href="https://aicn.example/zephyr-7">Aurora Labs 发布开源推理模型 Zephyr-7</a>' in chinese
    messages = api.sent_messages(chat)
    assert all(m["parse_mode"] == "HTML" and m["link_preview_options"] == {"is_disabled": True} for m in messages)


async def test_html_in_titles_is_escaped(api, bot):
    (answer,) = await reply_to(api, 1004, "/ask Qubit Labs Q-9 robot arm")
    assert HTML_TITLE_ESCAPED in answer  # the stand-in, like Telegram, rejects an unescaped <Labs>
    assert '<a href="https://robot.example/q9?a=1&amp;b=2">' in answer
    assert "<Labs>" not in answer


async def test_unknown_command_gets_the_help_hint(api, bot):
    (reply,) = await reply_to(api, 1005, "/frobnicate now")
    assert reply == "I don't know the command /frobnicate. Send /help to see what I can do."


async def test_who_lists_people_moves_and_follow_round_trip(api, bot):
    chat = 1006
    replies = await reply_to(
        api, chat, "/who Dana Whitfield", "/who Nobody Atall", "/follow humanoid robots", "/follow", "/unfollow 99"
    )
    assert "People moves: Dana Whitfield" in replies[0] and "Helix" in replies[0]
    assert "techdaily.example/whitfield-helix" in replies[0]
    assert replies[1] == "No people moves found for Nobody Atall."
    assert replies[2].startswith("Following #") and "humanoid robots" in replies[2]
    follow_id = replies[2].split("#")[1].split(":")[0]
    assert f"#{follow_id} humanoid robots" in replies[3]
    assert replies[4] == "You follow no topic #99."
    assert await reply_to(api, chat, f"/unfollow {follow_id}") == [f"Stopped following #{follow_id}."]


async def test_themes_sources_and_stats(api, bot):
    themes, sources, stats = await reply_to(api, 1016, "/themes", "/sources", "/stats", user=ADMIN)
    assert "✓ <b>llm</b> — Large language models" in themes
    assert sources == "No sources are configured."
    assert "items: 5" in stats and "sources: 0 (0 failing)" in stats


async def test_plain_text_in_a_group_is_not_taken_as_a_question(api, bot):
    assert await reply_to(api, -1017, "Aurora Labs news?") == []


async def test_a_rejected_token_is_a_config_error_without_the_token(settings, pipeline):
    wrong = "999:WRONG-token-value"
    with pytest.raises(ConfigError) as raised:
        async with serving(build_application(App.around(pipeline, settings), wrong), poll_timeout=1):
            pass
    assert wrong not in str(raised.value)


def test_token_comes_from_the_environment(monkeypatch):
    settings = Settings(telegram=TelegramConfig(token_env="MY_BOT_TOKEN"))
    monkeypatch.delenv("MY_BOT_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="MY_BOT_TOKEN"):
        bot_token(settings)
    monkeypatch.setenv("MY_BOT_TOKEN", " 1:abc ")
    assert bot_token(settings) == "1:abc"


async def test_errors_are_logged_and_the_user_gets_no_details(api, bot, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(telegram_handlers, "search_stories", broken)
    (reply,) = await reply_to(api, 1007, "/ask anything at all")
    assert reply == "Sorry, something went wrong on my side. Please try again later."
    assert "secret internal detail" in caplog.text  # logged with the traceback, never sent


# -- sources -----------------------------------------------------------------------------------


def rss(items: list[tuple[str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=1))}</pubDate></item>"
        for title, link in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>{body}</channel></rss>'.encode()


async def test_non_admins_are_refused_admin_commands(api, bot, paths, feed_server: FeedServer):
    url = feed_server.serve("/feed.xml", rss([("A", "https://local.example/a")]))
    replies = await reply_to(api, 1008, f"/addsource {url}", "/removesource anything", "/stats")
    assert replies == ["Sorry, only the bot's admins can do that."] * 3
    assert not (paths.data_dir / OVERLAY_NAME).exists()
    assert feed_server.requests == []


async def test_addsource_refuses_loopback_and_non_http_without_allow_private(api, bot, feed_server: FeedServer):
    url = feed_server.serve("/feed.xml", rss([("A", "https://local.example/a")]))
    loopback, scheme = await reply_to(api, 1009, f"/addsource {url}", "/addsource ftp://example.org/feed", user=ADMIN)
    assert "127.0.0.1 is not a public address" in loopback
    assert "only http:// and https:// URLs" in scheme
    assert feed_server.requests == []


async def test_admin_adds_a_local_feed_and_its_items_are_stored(api, paths, embedder, feed_server: FeedServer):
    settings = make_settings(api, allow_private=True)
    api.reset()
    items = [
        ("Helix opens a robotics lab in Zurich", "https://local.example/helix-zurich"),
        ("Zephyr-8 preview shows longer context", "https://local.example/zephyr-8"),
    ]
    url = feed_server.serve("/feed.xml", rss(items))
    page = feed_server.serve_file("/page.html", OWN_FEEDS / "not_a_feed.html", content_type="text/html")
    pipeline, _ = open_pipeline(settings, paths, embedder)
    try:
        app = App.around(pipeline, settings)
        reloads: list[list[str]] = []

        async def record(old: Settings, new: Settings) -> None:
            reloads.append([s.name for s in new.sources])

        app.on_reload(record)
        async with serving(build_application(app, TOKEN), poll_timeout=1):
            added, not_feed, listing = await reply_to(
                api, 1010, f"/addsource {url} local_feed", f"/addsource {page}", "/sources", user=ADMIN
            )
            assert added == "Added local_feed: 2 entries in the feed, 2 new items stored."
            assert "is not a usable feed" in not_feed
            assert "<b>local_feed</b> (added) · rss · 2 items · ✓" in listing
            assert pipeline.store.count_source_items("local_feed") == 2
            assert [s.name for s in load_overlay(paths)] == ["local_feed"]
            (answer,) = await reply_to(api, 1010, "/ask Helix robotics lab Zurich")
            assert "https://local.example/helix-zurich" in answer
            removed, again = await reply_to(
                api, 1010, "/removesource local_feed", "/removesource local_feed", user=ADMIN
            )
            assert (removed, again) == ("Removed local_feed.", "No source named local_feed.")
            assert load_overlay(paths) == []
        assert reloads == [["local_feed"], []]
    finally:
        pipeline.close()


async def test_a_reload_and_an_addsource_in_a_running_bot_keep_each_other(api, paths, embedder, feed_server, tmp_path):
    """`bot run` as wired by the CLI: one App seen by Telegram and the scheduler. A SIGHUP that adds
    source b, then an admin's /addsource c: the scheduler fetches a, b and c, and /sources lists all three."""
    api.reset()
    urls = {
        name: feed_server.serve(f"/{name}.xml", rss([(f"{name} news", f"https://{name}.example/1")])) for name in "abc"
    }

    def write(*names: str) -> None:
        sources = "".join(f"  - {{name: {n}, kind: rss, url: '{urls[n]}'}}\n" for n in names)
        config.write_text(
            f"telegram: {{base_url: '{api.base_url}', admins: [{ADMIN}]}}\n"
            f"fetch: {{allow_private: true, timeout: 5, total_timeout: 10}}\nsources:\n{sources}",
            encoding="utf-8",
        )

    config = tmp_path / "sources.yaml"
    write("a")
    app = App(paths, config_path=config, embedder=embedder)
    application = build_application(app, TOKEN)
    service = Service(app, scheduled_delivery(application, app, lambda: None))
    attach(application, service)
    try:
        async with serving(application, poll_timeout=1):
            write("a", "b")
            os.kill(os.getpid(), signal.SIGHUP)  # what `kill -HUP` does to a running `bot run`
            for _ in range(100):
                if service.scheduler.get_job(fetch_job_id("b")):
                    break
                await asyncio.sleep(0.05)
            (added,) = await reply_to(api, 1020, f"/addsource {urls['c']} c", user=ADMIN)
            assert added.startswith("Added c:")
            jobs = {job.id for job in service.scheduler.get_jobs()}
            assert {fetch_job_id(name) for name in "abc"} <= jobs
            (listing,) = await reply_to(api, 1020, "/sources")
            assert all(f"<b>{name}</b>" in listing for name in "abc"), listing
    finally:
        app.close()


# -- digests -----------------------------------------------------------------------------------


async def test_digest_then_restart_sends_nothing_new(api, settings, paths, embedder):
    chat = 1011
    pipeline, _ = open_pipeline(settings, paths, embedder)
    try:
        async with serving(build_application(App.around(pipeline, settings), TOKEN), poll_timeout=1):
            digest = await reply_to(api, chat, "/digest")
    finally:
        pipeline.close()
    text = "\n".join(digest)
    assert "AI news digest" in text
    assert "https://aurora.example/zephyr-7" in text
    assert HTML_TITLE_ESCAPED in text
    pipeline, _ = open_pipeline(settings, paths, embedder)  # a restart: same data dir, fresh everything
    try:
        async with serving(build_application(App.around(pipeline, settings), TOKEN), poll_timeout=1):
            assert await reply_to(api, chat, "/digest") == ["Nothing new since your last digest."]
        assert pipeline.store.subscriber(chat).last_digest_at is not None
    finally:
        pipeline.close()


async def test_flood_control_429_is_retried_and_the_message_arrives(api, bot):
    chat = 1012
    api.script(chat, Fault(status=429, retry_after=1))
    (reply,) = await reply_to(api, chat, "/help")
    assert reply == help_text()
    assert len(api.calls_to("sendMessage", chat)) == 3  # the 429, the retry, the marker's reply


async def test_blocked_user_is_marked_inactive(api, bot, pipeline, settings):
    chat = 1013
    await reply_to(api, chat, "/subscribe")
    api.block(chat)
    subscriber = pipeline.store.subscriber(chat)
    assert await send_digest(bot, App.around(pipeline, settings), subscriber, NOW) == 0
    saved = pipeline.store.subscriber(chat)
    assert saved.active is False
    assert chat not in [s.chat_id for s in pipeline.store.subscribers()]


async def test_a_5xx_is_retried_but_a_timed_out_send_is_not_repeated(api, bot, pipeline, settings, monkeypatch):
    monkeypatch.setattr(telegram_services, "RETRY_BACKOFF", 0.05)
    monkeypatch.setattr(telegram_services, "SEND_READ_TIMEOUT", 0.3)
    retried, slow = 1014, 1015
    for chat in (retried, slow):
        await reply_to(api, chat, "/start")
    api.script(retried, Fault(status=502, description="Bad Gateway"))
    api.script(slow, Fault(delay=1.0))  # delivered, but the answer comes after the client gave up
    for chat in (retried, slow):
        before = len(api.sent(chat))
        sent = await send_digest(bot, App.around(pipeline, settings), pipeline.store.subscriber(chat), NOW)
        assert sent >= 1
        digest = api.sent(chat)[before:]
        assert len(digest) == sent and len(set(digest)) == sent  # each message arrived exactly once
        assert await send_digest(bot, App.around(pipeline, settings), pipeline.store.subscriber(chat), NOW) == 0
    assert len(api.calls_to("sendMessage", retried)) == len(api.sent(retried)) + 1  # one 502, then retried


# -- pure parts: overlay file, argument parsing, splitting -------------------------------------


def test_overlay_add_load_merge_and_remove(tmp_path):
    paths = resolve_paths(tmp_path)
    configured = Settings(sources=(SourceConfig(name="mine", kind="rss", url="https://mine.example/feed"),))
    added = SourceConfig(name="extra", kind="rss", url="https://extra.example/feed", interval=timedelta(hours=2))
    add_source(paths, added, configured)
    assert load_overlay(paths) == [added]
    merged = with_overlay(configured, paths)
    assert [s.name for s in merged.sources] == ["mine", "extra"]
    assert with_overlay(merged, paths) == merged  # idempotent
    with pytest.raises(OverlayError, match="already exists"):
        add_source(paths, SourceConfig(name="mine", kind="rss", url="https://other.example/"), configured)
    with pytest.raises(OverlayError, match="already monitored"):
        add_source(paths, SourceConfig(name="copy", kind="rss", url="https://extra.example/feed"), configured)
    assert sorted(p.name for p in tmp_path.iterdir()) == [OVERLAY_NAME]  # no temp files left behind
    assert remove_source(paths, "extra") and not remove_source(paths, "extra")
    assert load_overlay(paths) == []


def test_config_wins_a_name_clash_on_load(tmp_path):
    paths = resolve_paths(tmp_path)
    add_source(paths, SourceConfig(name="dup", kind="rss", url="https://overlay.example/feed"))
    configured = Settings(sources=(SourceConfig(name="dup", kind="rss", url="https://config.example/feed"),))
    assert with_overlay(configured, paths).sources == configured.sources


def test_settings_and_theme_arguments():
    assert parse_setting(["time", "9:05"]) == ({"digest_time": "09:05"}, "time_set", "09:05")
    assert parse_setting(["tz", "Europe/Berlin"])[0] == {"timezone": "Europe/Berlin"}
    assert parse_setting(["lang", "ZH"])[0] == {"lang": "zh"}
    for bad in (["time", "24:00"], ["tz", "../etc/passwd"], ["lang", "fr"], ["colour", "red"], ["time"]):
        with pytest.raises(SettingError):
            parse_setting(bad)
    assert parse_themes(["LLM,robotics", "nope"], ["llm", "robotics", "other"]) == (("llm", "robotics"), ["nope"])


def test_frequency_and_quiet_hours_settings():
    assert parse_setting(["frequency", "daily"])[0] == {"frequency": "daily"}
    assert parse_setting(["frequency", "weekly"])[0] == {"frequency": "weekly", "weekly_day": 0}
    assert parse_setting(["frequency", "weekly", "Fri"]) == (
        {"frequency": "weekly", "weekly_day": 4},
        "frequency_set",
        "weekly Friday",
    )
    assert parse_setting(["frequency", "weekly", "周日"])[0]["weekly_day"] == 6
    assert parse_setting(["frequency", "weekly", "7"])[0]["weekly_day"] == 6
    assert parse_setting(["quiet", "23:00-7:00"]) == ({"quiet": "23:00-07:00"}, "quiet_set", "23:00-07:00")
    assert parse_setting(["quiet", "off"])[0] == {"quiet": ""}
    for bad in (["frequency", "hourly"], ["frequency", "weekly", "someday"], ["frequency", "daily", "mon"]):
        with pytest.raises(SettingError) as problem:
            parse_setting(bad)
        assert problem.value.key == "bad_frequency"
    with pytest.raises(SettingError) as problem:
        parse_setting(["quiet", "late"])
    assert problem.value.key == "bad_quiet"


async def test_weekly_alerts_and_quiet_settings_round_trip(api, bot, pipeline):
    chat = 1031
    replies = await reply_to(api, chat, "/settings frequency weekly fri", "/settings quiet 23:00-07:00", "/alerts on")
    assert replies == ["Digest frequency: weekly Friday.", "Quiet hours: 23:00-07:00.", "Breaking alerts on."]
    saved = pipeline.store.subscriber(chat)
    assert (saved.frequency, saved.weekly_day, saved.quiet, saved.alerts) == ("weekly", 4, "23:00-07:00", True)
    (shown,) = await reply_to(api, chat, "/settings")
    assert "digest: weekly on Friday at 08:30" in shown and "quiet hours: 23:00-07:00" in shown
    assert await reply_to(api, chat, "/alerts off", "/settings quiet 25:00-07:00") == [
        "Breaking alerts off.",
        "25:00-07:00 is not a quiet-hours range: use HH:MM-HH:MM, e.g. 23:00-07:00, or off.",
    ]
    assert pipeline.store.subscriber(chat).alerts is False
    (caption,) = await reply_to(api, chat, "/trends")
    (photo,) = [m for m in api.sent_messages(chat) if m["kind"] == "photo"]
    assert caption == photo["text"] and caption.startswith("📈 <b>Weekly AI report</b>")
    assert photo["photo"].startswith(b"\x89PNG")


def test_chunk_lines_breaks_between_lines_under_the_limit():
    lines = [f"line {n} " + "x" * 50 for n in range(200)]
    messages = chunk_lines(lines, limit=1000)
    assert all(len(message) <= 1000 for message in messages)
    assert "\n".join(messages).split("\n") == lines
