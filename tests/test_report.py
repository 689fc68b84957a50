"""The weekly report: the pure renderer on hand-built topics, then the scheduler delivering it through real
python-telegram-bot to the Bot API stand-in at the subscriber's weekday and time, picture first, once."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from botapi import TOKEN, BotApi, check_text

from bot.app import App
from bot.core.config import Settings, TelegramConfig, load_settings, resolve_paths
from bot.core.models import RawEntry, Subscriber
from bot.deliver.report import CAPTION_BUDGET, ThemeSection, WeeklyReport, render_caption, render_report
from bot.ingest.pipeline import open_pipeline
from bot.insight.topics import Topic
from bot.insight.trends import count_trends
from bot.service.scheduler import Service
from bot.storage import StorySummary
from bot.telegram.app import build_application, serving
from bot.telegram.services import scheduled_delivery, send_trends

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
FRIDAY = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # Friday 09:00 in Shanghai


def summary(story_id: int, title: str, theme: str, days: float, outlets: int = 1, zh: str = "") -> StorySummary:
    moment = FRIDAY - timedelta(days=days)
    return StorySummary(
        id=story_id,
        items=outlets,
        outlets=outlets,
        langs=("en", "zh") if zh else ("en",),
        title=title,
        title_en=title,
        title_zh=zh,
        primary_theme=theme,
        themes=(theme,),
        first_published=moment,
        last_published=moment,
    )


def topic(theme: str, ids: tuple[int, ...], terms: tuple[str, ...], this_week: int, last_week: int) -> Topic:
    return Topic(
        theme=theme,
        story_ids=ids,
        representative_id=ids[0],
        label_terms=terms,
        this_week=this_week,
        last_week=last_week,
        emerging=this_week >= 3 and this_week >= 2 * (last_week + 1),
        tightness=0.8,
        label_size=len(ids),
        centroid=np.zeros(4, dtype=np.float32),
    )


def hand_report(lang: str, chart: bytes | None = b"png") -> WeeklyReport:
    stories = [
        summary(1, "Lumen <Labs> & co. release Glimmer video model", "multimodal", 1, 3, zh="Lumen 发布 Glimmer"),
        summary(2, "Orbit AI unveils Drift-2", "multimodal", 2),
        summary(3, "Kestrel launches Reel", "multimodal", 3),
        summary(4, "Diffusion auto-bidding under budgets", "bidding", 2),
    ]
    trends = count_trends(stories, FRIDAY, weeks=8)
    sections = [
        ThemeSection(
            "multimodal", 3, 0, [topic("multimodal", (1, 2, 3), ("Glimmer", "video <gen>", "视频生成"), 3, 0)]
        ),
        ThemeSection("bidding", 1, 0, [], [4]),
    ]
    return WeeklyReport(
        chat_id=9,
        lang=lang,
        start=FRIDAY - timedelta(days=7),
        end=FRIDAY,
        trends=trends,
        chart=chart,
        sections=sections,
        moves=[],
        stories={story.id: story for story in stories},
        links={1: [("wire", "https://wire.example/1?a=1&b=2")], 4: [("arxiv", "https://arxiv.org/abs/2411.00001")]},
        summaries={1: "Glimmer makes one-minute clips from text & images."},
    )


def test_report_leads_with_emerging_topics_their_numbers_and_escaped_stories():
    report = hand_report("en")
    (message,) = render_report(report)
    check_text(message, "HTML")  # what Telegram would reject, the stand-in rejects
    assert "🔥 emerging" in message and "Glimmer · video &lt;gen&gt; · 视频生成" in message
    assert "3 stories this week, 0 the week before" in message
    assert "Lumen &lt;Labs&gt; &amp; co. release Glimmer" in message and "https://wire.example/1?a=1&amp;b=2" in message
    assert "<i>Glimmer makes one-minute clips from text &amp; images.</i>" in message
    assert message.index("Multimodal") < message.index("Auto-bidding and ads")
    assert "Diffusion auto-bidding under budgets" in message  # no topic in bidding: its widest story instead
    assert report.story_ids == [1, 4]


def test_caption_is_a_sparkline_per_theme_under_telegrams_limit_in_both_languages():
    for lang, title in (("en", "Weekly AI report"), ("zh", "AI 周报")):
        caption = render_caption(hand_report(lang).trends, lang)
        check_text(caption, "HTML", 1024)
        assert title in caption and len(caption) <= CAPTION_BUDGET
    assert "▁▁▁▁▁▁▁█ Multimodal 3" in render_caption(hand_report("en").trends, "en")
    assert "▁▁▁▁▁▁▁█ 多模态 3" in render_caption(hand_report("zh").trends, "zh")
    chinese = render_report(hand_report("zh", chart=None))[0]
    assert chinese.startswith("📈 <b>AI 周报</b>")  # without a picture, the figures lead the text
    assert "本周 3 条，上周 0 条" in chinese


# -- delivered by the scheduler ------------------------------------------------------------------


def entry(source: str, title: str, text: str, days: float, key: int) -> RawEntry:
    moment = FRIDAY - timedelta(days=days)
    link = f"https://{source}.example/{key}"
    return RawEntry(source, title, link, moment, guid=link, summary_html=text, published=moment)


WEEK_OF_NEWS = [
    entry(
        "wire",
        "Lumen Labs releases Glimmer, a text-to-video model for one-minute clips",
        "Lumen Labs released Glimmer, a diffusion transformer that generates one-minute 1080p videos.",
        1,
        1,
    ),
    entry(
        "ai_cn",
        "Lumen Labs 发布文生视频模型 Glimmer，可生成一分钟视频",
        "Lumen Labs 发布文生视频模型 Glimmer，可生成一分钟 1080p 视频。",
        1.2,
        2,
    ),
    entry(
        "arxiv",
        "Diffusion-based auto-bidding for budget-constrained advertisers",
        "We propose a diffusion model that generates bidding trajectories under budget and CPA constraints.",
        2,
        3,
    ),
    entry(
        "techwire",
        "Dana Whitfield leaves Orion AI to join Helix as head of research",
        "Dana Whitfield, chief scientist at Orion AI, has left the company to join Helix as head of research.",
        2,
        4,
    ),
    entry(
        "arxiv",
        "Reinforcement learning for real-time bidding with ROI constraints",
        "An RL auto-bidding agent for online ad auctions that satisfies ROI constraints.",
        10,
        5,
    ),
]


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    root = tmp_path_factory.mktemp("weekly")
    pipeline, _ = open_pipeline(load_settings(REPO / "sources.yaml"), resolve_paths(root), embedder)
    pipeline.ingest(WEEK_OF_NEWS)
    pipeline.close()
    return root


def settings_for(api: BotApi) -> Settings:
    shipped = load_settings(REPO / "sources.yaml")
    return shipped.model_copy(update={"sources": (), "telegram": TelegramConfig(base_url=api.base_url)})


async def tick(api: BotApi, data: Path, embedder, now: datetime) -> list[int]:
    """One scheduler digest tick at `now`, in a fresh process's worth of objects (a restart each time)."""
    settings = settings_for(api)
    pipeline, _ = open_pipeline(settings, resolve_paths(data), embedder)
    try:
        bot_app = App.around(pipeline, settings)
        async with serving(build_application(bot_app, TOKEN), poll_timeout=1) as app:
            service = Service(bot_app, scheduled_delivery(app, bot_app, lambda: None))
            return await service.digest_tick(now)
    finally:
        pipeline.close()


async def test_weekly_report_arrives_on_the_chosen_day_and_time_picture_first_and_once(api, golden, tmp_path, embedder):
    api.reset()
    data = tmp_path / "data"
    shutil.copytree(golden, data)
    weekly = Subscriber(
        chat_id=701,
        subscribed=True,
        frequency="weekly",
        weekly_day=4,
        digest_time="09:00",
        timezone="Asia/Shanghai",
        created_at=FRIDAY - timedelta(days=10),
        last_digest_at=FRIDAY - timedelta(days=7),
    )
    pipeline, _ = open_pipeline(Settings(), resolve_paths(data), embedder)
    pipeline.store.save_subscriber(weekly)
    pipeline.close()

    assert await tick(api, data, embedder, FRIDAY - timedelta(minutes=1)) == []  # 08:59 on Friday in Shanghai: not yet
    assert await tick(api, data, embedder, FRIDAY) == [701]
    messages = await asyncio.to_thread(api.wait_until, 701, lambda texts: len(texts) >= 2)
    sent = api.sent_messages(701)
    assert sent[0]["kind"] == "photo" and all(m["kind"] == "text" for m in sent[1:])
    assert sent[0]["photo"].startswith(b"\x89PNG\r\n\x1a\n") and len(sent[0]["photo"]) > 10_000
    assert sent[0]["text"].startswith("📈 <b>Weekly AI report</b> · 11-13 – 11-20")
    body = "\n".join(messages[1:])
    assert "Glimmer" in body and "https://wire.example/1" in body
    assert "People moves this week" in body and "Dana Whitfield" in body
    assert "real-time bidding with ROI" not in body  # ten days old: last week's news
    assert await tick(api, data, embedder, FRIDAY + timedelta(hours=2)) == []  # a restart the same day: not again
    assert len(api.sent_messages(701)) == len(sent)


async def test_trends_on_demand_is_a_picture_in_the_subscribers_language(api, golden, tmp_path, embedder):
    api.reset()
    data = tmp_path / "data"
    shutil.copytree(golden, data)
    settings = settings_for(api)
    pipeline, _ = open_pipeline(settings, resolve_paths(data), embedder)
    try:
        async with serving(build_application(App.around(pipeline, settings), TOKEN), poll_timeout=1) as app:
            reader = Subscriber(chat_id=702, lang="zh")
            assert await send_trends(app, App.around(pipeline, settings), reader, FRIDAY) == 1
    finally:
        pipeline.close()
    (photo,) = api.sent_messages(702)
    assert photo["kind"] == "photo" and photo["text"].startswith("📈 <b>AI 周报</b>")
    assert "智能出价与广告" in photo["text"]
