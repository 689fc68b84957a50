"""Per-chat mutes and link previews (issue 15, "also expected"): muted words and sources keep stories out of
digests, "more" pages and breaking alerts; the top story's link preview on request. Through real
python-telegram-bot against the Bot API stand-in, over the real data dir of tests/test_telegram.py."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from botapi import TOKEN
from test_telegram import NOW, USER, _buttons, golden, make_settings, paths, raw, reply_to  # noqa: F401 (fixtures)

from bot.app import App
from bot.core.config import AlertsConfig, SourceConfig
from bot.ingest.pipeline import open_pipeline
from bot.insight.alerts import pending_alerts
from bot.query.interest import mentions_muted
from bot.storage import Store
from bot.storage.schema import MIGRATIONS, SCHEMA_VERSION, statements
from bot.telegram.app import build_application, serving

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

ZEPHYR_FOLLOW = "Aurora Labs releases Zephyr-7 open-weight reasoning model"
ALERTS = AlertsConfig(within=timedelta(hours=12), follow_similarity=0.5)  # a follow alert for Zephyr-7 is due


@pytest.fixture
def settings(api):
    api.reset()
    return make_settings(api)


@pytest.fixture
def pipeline(settings, paths, embedder):  # noqa: F811
    opened, _ = open_pipeline(settings, paths, embedder)
    yield opened
    opened.close()


@pytest.fixture
async def bot(settings, pipeline):
    async with serving(build_application(App.around(pipeline, settings), TOKEN), poll_timeout=1) as running:
        yield running


def _alerted(pipeline, chat: int) -> list[str]:
    return [alert.story.title_en for alert in pending_alerts(pipeline, ALERTS, NOW) if alert.chat_id == chat]


def test_a_muted_word_matches_whole_latin_words_and_inside_chinese_text():
    assert mentions_muted(["OpenAI ships a model"], ["openai"])
    assert not mentions_muted(["He said so"], ["ai"]) and mentions_muted(["AI芯片出口"], ["ai"])
    assert mentions_muted(["人形机器人完成融资"], ["机器人"])
    assert mentions_muted(["Stable  Diffusion 4 is out"], ["stable diffusion"])
    assert not mentions_muted(["anything"], []) and not mentions_muted(["anything"], [""])


async def test_muted_words_keep_stories_out_of_digests_pages_and_alerts(api, bot, pipeline):
    """A Chinese word only the zh item's headline has hides the bilingual Zephyr-7 story from an English
    digest; a phrase only in an item's lede hides Nimbus; /unmute brings Nimbus back on the next page."""
    chat = 1101
    await reply_to(api, chat, "/subscribe", "/alerts on", f"/follow {ZEPHYR_FOLLOW}")
    assert _alerted(pipeline, chat)  # the follow alert would go out
    muted, again, listing = await reply_to(
        api, chat, '/mute 开源推理模型 "series  C" <b>&amp;', '/mute "SERIES c"', "/mute"
    )
    assert muted.startswith("Muted: 开源推理模型, series c, &lt;b&gt;&amp;amp;. Stories that mention it")
    assert again.startswith("Muted: series c")
    assert listing.startswith("<b>Muted</b>") and "• &lt;b&gt;&amp;amp;" in listing and "/unmute WORD" in listing
    assert pipeline.store.subscriber(chat).mutes == ("开源推理模型", "series c", "<b>&amp;")
    assert _alerted(pipeline, chat) == []  # no breaking alert for a muted story, even one the chat follows

    digest = "\n".join(await reply_to(api, chat, "/digest"))
    assert "Dana Whitfield" in digest and "Q-9" in digest
    assert "Zephyr-7" not in digest and "Nimbus" not in digest
    assert await reply_to(api, chat, "/digest more") == ["That was all: every new story has been shown."]
    unmuted, unknown, page = await reply_to(api, chat, '/unmute "Series C"', "/unmute series c", "/digest more")
    assert (unmuted, unknown) == ("Unmuted series c.", "series c is not muted. /mute lists your mutes.")
    assert "Nimbus" in page and "Zephyr-7" not in page


async def test_mutes_are_bounded_and_answered_in_chinese(api, bot, pipeline):
    chat = 1102
    too_long = "x" * 61
    replies = await reply_to(api, chat, f"/mute {too_long}", "/mute", "/unmute", language_code="zh-hans")
    assert replies[0] == f"{too_long} 太长，无法屏蔽：最多 60 个字符。"
    assert replies[1].startswith("还没有屏蔽任何词")
    assert replies[2].startswith("用法：/unmute")
    many = " ".join(f"w{n}" for n in range(50))
    _, full = await reply_to(api, chat, f"/mute {many}", "/mute one-more")
    assert full == "你已屏蔽 50 个词，已达上限。请先用 /unmute 取消一个。"
    assert len(pipeline.store.subscriber(chat).mutes) == 50


def test_the_mute_migration_opens_an_older_file_and_keeps_its_subscribers(tmp_path: Path):
    path = tmp_path / "bot.db"
    db = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:7]:  # the schema before mutes and previews
        for statement in statements(script):
            db.execute(statement)
    db.execute("PRAGMA user_version=7")
    db.execute(
        "INSERT INTO subscribers (chat_id, digest_time, subscribed, alerts, created_at)"
        " VALUES (5, '07:15', 1, 1, '2024-01-01T00:00:00+00:00')"
    )
    db.close()
    store = Store.open(path)
    try:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        old = store.subscriber(5)
        assert (old.digest_time, old.alerts, old.mutes, old.muted_sources, old.previews) == (
            "07:15",
            True,
            (),
            (),
            False,
        )
        store.save_subscriber(replace(old, mutes=("crypto",), previews=True))
        store._db.execute("PRAGMA user_version=7")  # as on a file whose mark fell behind: the migration runs again
    finally:
        store.close()
    store = Store.open(path)
    try:
        kept = store.subscriber(5)
        assert (kept.digest_time, kept.mutes, kept.previews) == ("07:15", ("crypto",), True)
    finally:
        store.close()


SOURCES = [
    {"name": "lab_wire", "kind": "rss", "url": "https://lab.example/feed", "title": "Lab Wire"},
    {"name": "ai_cn", "kind": "rss", "url": "https://aicn.example/feed", "title": "AI 中文"},
    {"name": "tech_daily", "kind": "rss", "url": "https://techdaily.example/feed"},
    {"name": "money_news", "kind": "rss", "url": "https://money.example/feed"},
    {"name": "robot_news", "kind": "rss", "url": "https://robot.example/feed"},
]


@pytest.fixture
async def sourced_bot(api, pipeline):
    """The bot with the five test sources configured (never fetched here), two of them with display titles."""
    sources = tuple(SourceConfig.model_validate(source) for source in SOURCES)
    settings = make_settings(api).model_copy(update={"sources": sources})
    async with serving(build_application(App.around(pipeline, settings), TOKEN), poll_timeout=1) as running:
        yield running


async def test_a_muted_source_is_not_counted_linked_or_alerted(api, sourced_bot, pipeline):
    """Muting money_news drops Nimbus (only it carries the story); muting AI 中文 (by its title) keeps the
    bilingual Zephyr-7 story, from Lab Wire alone: one outlet, English, the Chinese link gone. Muting Lab Wire
    too drops Zephyr-7 from the alerts its follow would bring."""
    chat = 1103
    await reply_to(api, chat, "/subscribe", "/alerts on", f"/follow {ZEPHYR_FOLLOW}")
    replies = await reply_to(
        api, chat, "/mute source money_news", "/mute source ai 中文", "/mute source nosuch", "/mute"
    )
    assert replies[0].startswith("Muted source money_news: its items no longer count")
    assert replies[1].startswith("Muted source AI 中文")
    assert replies[2] == "No source named nosuch. /sources lists them."
    assert "• source: money_news" in replies[3] and "• source: AI 中文" in replies[3]
    assert pipeline.store.subscriber(chat).muted_sources == ("money_news", "ai_cn")
    (alert,) = [alert for alert in pending_alerts(pipeline, ALERTS, NOW) if alert.chat_id == chat]
    assert (alert.story.outlets, alert.story.langs, alert.muted_sources) == (1, ("en",), {"money_news", "ai_cn"})

    digest = "\n".join(await reply_to(api, chat, "/digest"))
    zephyr = next(line for line in digest.split("\n") if line.startswith("• ") and "Zephyr-7" in line)
    assert "1 outlet · en ·" in zephyr and "aurora.example/zephyr-7" in zephyr and "aicn.example" not in zephyr
    assert "Nimbus" not in digest and "Dana Whitfield" in digest

    await reply_to(api, chat, "/mute source lab_wire")
    assert _alerted(pipeline, chat) == []
    unmuted, unknown = await reply_to(api, chat, "/unmute source Lab Wire", "/unmute source Lab Wire")
    assert (unmuted, unknown) == ("Unmuted Lab Wire.", "Lab Wire is not muted. /mute lists your mutes.")
    assert pipeline.store.subscriber(chat).muted_sources == ("money_news", "ai_cn")


TOPICS = [
    "chip export rules tighten for data centre accelerators",
    "a hospital deploys speech recognition for clinical notes",
    "a weather model forecasts typhoon tracks ten days ahead",
    "farm drones map soil moisture across wheat fields",
    "a court rules on copyright for generated illustrations",
    "a bank pilots fraud detection on card transactions",
    "a city trials autonomous buses on a night route",
    "protein design software proposes new enzymes for plastics",
    "a game studio uses procedural voices for minor characters",
    "a university opens a compute cluster for climate research",
    "satellite imagery counts ships waiting outside ports",
    "a translation app adds offline mode for twelve languages",
]


async def test_previews_on_show_the_top_storys_link_under_the_first_message_only(api, bot, pipeline):
    """Off by default, as before; `/settings previews on` (or the /settings button) gives the first message of a
    digest Telegram's preview of the top story's link (Zephyr-7: two outlets in two languages), the others none."""
    pipeline.ingest(
        [
            raw(
                f"wire_{n}",
                f"{topic.capitalize()}: {topic} ({'details ' * 30}){n}",
                f"https://n{n}.example/a",
                topic,
                2,
            )
            for n, topic in enumerate(TOPICS)
        ]
    )
    chat = 1104
    set_on, shown = await reply_to(api, chat, "/settings previews on", "/settings")
    assert set_on == "Link preview of the top story: on."
    assert "link preview of the top story: on" in shown
    message = next(m for m in api.sent_messages(chat) if m["text"] == shown)
    assert _buttons(message)["✓ Top story preview"] == "pick:previews:off"
    assert await reply_to(api, chat, "/settings previews maybe") == ["maybe is neither on nor off."]

    digest = await reply_to(api, chat, "/digest")
    assert len(digest) >= 2
    sent = [m for m in api.sent_messages(chat) if m["text"] in digest]
    assert sent[0]["link_preview_options"] == {"is_disabled": False, "url": "https://aurora.example/zephyr-7"}
    assert all(m["link_preview_options"] == {"is_disabled": True} for m in sent[1:])

    api.press(chat, USER, message["message_id"], "pick:previews:off")  # the button turns it off again
    await reply_to(api, chat)
    assert pipeline.store.subscriber(chat).previews is False
    _, zh = await reply_to(api, chat, "/settings lang zh", "/settings")
    assert "头条链接预览：关闭" in zh
