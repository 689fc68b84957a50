"""Breaking alerts: the pure decision with a driven clock, then alerts through real python-telegram-bot
to the Bot API stand-in over a real data dir: once per story and chat, quiet hours, /alerts off, a
restart, and the next digest leaving an alerted story out until it grows."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botapi import TOKEN, BotApi

from bot.app import App
from bot.core.config import AlertsConfig, Settings, TelegramConfig, resolve_paths
from bot.core.models import RawEntry, Subscriber
from bot.deliver.digest import prepare_digest
from bot.ingest.pipeline import open_pipeline
from bot.insight.alerts import BREADTH, FOLLOW, broke_at, decide_alert, parse_quiet, pending_alerts, quiet_until
from bot.service.scheduler import ALERT_JOB, Service
from bot.storage import Coverage, StorySummary
from bot.telegram.app import build_application, send_alerts, serving

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
RULE = AlertsConfig()  # 4 outlets, 2 languages, 6 hours, follow 0.8


def seen(outlet: str, lang: str, hours: float) -> Coverage:
    return Coverage(outlet, lang, T0 + timedelta(hours=hours))


def story(
    theme: str = "llm", outlets: int = 4, langs: tuple[str, ...] = ("en", "zh"), hours: float = 3
) -> StorySummary:
    return StorySummary(
        id=1,
        items=outlets,
        outlets=outlets,
        langs=langs,
        title="Aurora Labs releases Zephyr-7",
        title_en="Aurora Labs releases Zephyr-7",
        title_zh="Aurora Labs 发布 Zephyr-7",
        primary_theme=theme,
        themes=(theme,),
        first_published=T0,
        last_published=T0 + timedelta(hours=hours),
    )


def reader(**changes: object) -> Subscriber:
    values: dict[str, object] = {"chat_id": 7, "subscribed": True, "alerts": True, "timezone": "Asia/Shanghai"}
    return Subscriber(**{**values, **changes})  # type: ignore[arg-type]


FAST = [seen("lab", "en", 0), seen("wire", "en", 1), seen("jiqizhixin", "zh", 2), seen("qbitai", "zh", 3)]


# -- the pure decision -------------------------------------------------------------------------


def test_a_story_breaks_when_enough_outlets_and_languages_meet_inside_the_window():
    assert broke_at(FAST, RULE) == T0 + timedelta(hours=3)
    one_language = [seen(name, "en", hour) for name, hour in (("a", 0), ("b", 1), ("c", 2), ("d", 3))]
    assert broke_at(one_language, RULE) is None
    slow = [seen("lab", "en", 0), seen("wire", "en", 4), seen("jiqizhixin", "zh", 8), seen("qbitai", "zh", 12)]
    assert broke_at(slow, RULE) is None  # four outlets, but never four inside six hours
    repeats = [*FAST[:3], seen("lab", "en", 3.5)]  # the same outlet twice is one outlet
    assert broke_at(repeats, RULE) is None
    late_burst = [seen("lab", "en", 0), *(seen(f"o{i}", "zh" if i % 2 else "en", 20 + i) for i in range(4))]
    assert broke_at(late_burst, RULE) == T0 + timedelta(hours=23)  # a slow start, then a burst


def test_decision_follows_the_clock_freshness_and_the_subscribers_switches():
    broke = T0 + timedelta(hours=3)
    # 11:00 UTC is 19:00 in Shanghai: no quiet hours in the way
    assert decide_alert(reader(), story(), FAST, broke + timedelta(minutes=5), RULE) == BREADTH
    assert decide_alert(reader(), story(), FAST, broke - timedelta(minutes=5), RULE) is None  # not yet broken
    assert decide_alert(reader(), story(), FAST, broke + timedelta(hours=7), RULE) is None  # stale: digest's job
    assert decide_alert(reader(alerts=False), story(), FAST, broke, RULE) is None
    assert decide_alert(reader(active=False), story(), FAST, broke, RULE) is None
    assert decide_alert(reader(), story(), FAST, broke, RULE, already_alerted=True) is None
    assert decide_alert(reader(themes=("bidding",)), story(), FAST, broke, RULE) is None  # not their theme
    assert decide_alert(reader(themes=("bidding",)), story("bidding"), FAST, broke, RULE) == BREADTH


def test_a_follow_match_alerts_whatever_the_breadth_or_theme():
    small = story(outlets=1, langs=("en",))
    one = [seen("lab", "en", 0)]
    now = T0 + timedelta(hours=4)
    assert decide_alert(reader(themes=("bidding",)), small, one, now, RULE, follow_score=0.85) == FOLLOW
    assert decide_alert(reader(), small, one, now, RULE, follow_score=0.6) is None  # related, not near-exact
    assert decide_alert(reader(), small, one, now + timedelta(days=1), RULE, follow_score=0.9) is None  # old news


def test_quiet_hours_hold_an_alert_until_they_end_then_it_stays_fresh_for_the_window():
    night = reader(quiet="23:00-07:00")  # Shanghai is UTC+8: quiet from 15:00 to 23:00 UTC
    late = [seen(o.outlet, o.lang, o.at.hour - 1) for o in FAST]  # 17:00-20:00 UTC; broke at 04:00 in Shanghai
    broke = T0 + timedelta(hours=11)
    assert broke_at(late, RULE) == broke
    assert quiet_until(night, broke) == datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert decide_alert(night, story(), late, broke + timedelta(minutes=1), RULE) is None
    morning = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert decide_alert(night, story(), late, morning, RULE) == BREADTH  # 07:00 in Shanghai
    assert decide_alert(night, story(), late, morning + timedelta(hours=5), RULE) == BREADTH
    assert decide_alert(night, story(), late, morning + timedelta(hours=6, minutes=1), RULE) is None
    assert decide_alert(reader(), story(), late, morning + timedelta(hours=5), RULE) is None  # without quiet: stale


def test_quiet_hours_parse_and_wrap_midnight_in_the_subscribers_zone():
    assert parse_quiet("") is None
    assert parse_quiet(" 9:05 - 12:30 ") == (datetime(1, 1, 1, 9, 5).time(), datetime(1, 1, 1, 12, 30).time())
    for bad in ("25:00-07:00", "23:00", "7-9", "08:00-08:00"):
        with pytest.raises(ValueError):
            parse_quiet(bad)
    daytime = reader(quiet="12:00-14:00", timezone="UTC")
    assert quiet_until(daytime, T0.replace(hour=13)) == T0.replace(hour=14)
    assert quiet_until(daytime, T0.replace(hour=14)) is None
    berlin = reader(quiet="22:00-06:30", timezone="Europe/Berlin")  # UTC+1 in November
    assert quiet_until(berlin, T0.replace(hour=22)) == datetime(2026, 11, 21, 5, 30, tzinfo=UTC)
    assert quiet_until(berlin, T0.replace(hour=3)) == T0.replace(hour=5, minute=30)
    assert quiet_until(berlin, T0.replace(hour=12)) is None


# -- through the store and the Bot API stand-in ---------------------------------------------------


def entry(source: str, title: str, link: str, summary: str, hours: float, fetched: datetime) -> RawEntry:
    return RawEntry(
        source, title, link, fetched, guid=link, summary_html=summary, published=T0 + timedelta(hours=hours)
    )


ZEPHYR = [
    (
        "lab_wire",
        "Aurora Labs releases Zephyr-7, an open-weight reasoning model",
        "Aurora Labs released Zephyr-7, a 70-billion-parameter open-weight reasoning language model.",
        0,
    ),
    (
        "tech_daily",
        "Aurora Labs unveils Zephyr-7 open-weight reasoning model",
        "Aurora Labs has released Zephyr-7, an open-weight reasoning language model with 70 billion parameters.",
        1,
    ),
    ("ai_cn", "Aurora Labs 发布开源推理模型 Zephyr-7", "Aurora Labs 发布了开源推理大模型 Zephyr-7，参数量 700 亿。", 2),
    (
        "qbit_cn",
        "Aurora Labs 开源推理大模型 Zephyr-7 发布",
        "Aurora Labs 今日发布开源推理大模型 Zephyr-7，参数 700 亿。",
        3,
    ),
]
FIFTH = (
    "money_news",
    "Zephyr-7 from Aurora Labs: the open-weight reasoning model, explained",
    "Aurora Labs released Zephyr-7, an open-weight reasoning model with 70 billion parameters.",
    4,
)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    root = tmp_path_factory.mktemp("alerts")
    pipeline, _ = open_pipeline(Settings(), resolve_paths(root), embedder)
    fetched = T0 + timedelta(hours=3)
    pipeline.ingest(
        [
            entry(source, title, f"https://{source}.example/z7", text, hours, fetched)
            for source, title, text, hours in ZEPHYR
        ]
    )
    pipeline.close()
    return root


@pytest.fixture
def data(golden: Path, tmp_path: Path) -> Path:
    shutil.copytree(golden, tmp_path / "data")
    return tmp_path / "data"


def settings_for(api: BotApi) -> Settings:
    return Settings.model_validate({"telegram": TelegramConfig(base_url=api.base_url)})


async def alert_once(api: BotApi, data: Path, embedder, now: datetime, ingest: list[RawEntry] = ()) -> int:
    """Open the data dir as a fresh process would, push the alerts due at `now`, close."""
    settings = settings_for(api)
    pipeline, _ = open_pipeline(settings, resolve_paths(data), embedder)
    try:
        if ingest:
            pipeline.ingest(ingest)
        async with serving(build_application(App.around(pipeline, settings), TOKEN), poll_timeout=1) as app:
            return await send_alerts(app, App.around(pipeline, settings), now)
    finally:
        pipeline.close()


def subscribe(data: Path, embedder, *subscribers: Subscriber) -> None:
    pipeline, _ = open_pipeline(Settings(), resolve_paths(data), embedder)
    try:
        for subscriber in subscribers:
            pipeline.store.save_subscriber(subscriber)
    finally:
        pipeline.close()


def test_the_four_outlets_form_one_story_that_broke_at_the_fourth(data, embedder):
    pipeline, _ = open_pipeline(Settings(), resolve_paths(data), embedder)
    try:
        (big,) = [s for s in pipeline.store.largest_stories(5) if s.outlets >= 4]
        coverage = pipeline.store.story_coverage([big.id])[big.id]
        assert sorted(c.outlet for c in coverage) == ["ai_cn", "lab_wire", "qbit_cn", "tech_daily"]
        assert broke_at(coverage, RULE) == T0 + timedelta(hours=3)
        on = Subscriber(chat_id=1, subscribed=True, alerts=True)
        pipeline.store.save_subscriber(on)
        pipeline.store.save_subscriber(Subscriber(chat_id=2, subscribed=True, alerts=False))
        pending = pending_alerts(pipeline, RULE, T0 + timedelta(hours=4))
        assert [(a.chat_id, a.story.id, a.reason) for a in pending] == [(1, big.id, BREADTH)]
    finally:
        pipeline.close()


async def test_alerts_go_out_once_survive_a_restart_and_respect_off_and_quiet_hours(api, data, embedder):
    api.reset()
    on, off = Subscriber(chat_id=501, subscribed=True, alerts=True, lang="zh"), Subscriber(chat_id=502, alerts=False)
    quiet = Subscriber(chat_id=503, alerts=True, quiet="00:00-23:59", timezone="UTC")
    subscribe(data, embedder, on, off, quiet)
    now = T0 + timedelta(hours=4)
    assert await alert_once(api, data, embedder, now) == 1
    (text,) = await asyncio.to_thread(api.wait_for_sent, 501, 1)
    assert text.startswith("🚨 <b>突发</b>") and "Zephyr-7" in text and "https://ai_cn.example/z7" in text
    assert await alert_once(api, data, embedder, now + timedelta(minutes=5)) == 0  # a restart: still once
    assert api.sent(502) == [] and api.sent(503) == []
    assert len(api.calls_to("sendMessage")) == 1


async def test_an_alerted_story_stays_out_of_the_digest_until_it_grows(api, data, embedder):
    api.reset()
    chat = 601
    subscribe(data, embedder, Subscriber(chat_id=chat, subscribed=True, alerts=True, created_at=T0))
    now = T0 + timedelta(hours=4)
    assert await alert_once(api, data, embedder, now) == 1
    settings = settings_for(api)
    pipeline, _ = open_pipeline(settings, resolve_paths(data), embedder)
    try:
        subscriber = pipeline.store.subscriber(chat)
        digest, _ = prepare_digest(pipeline, subscriber, settings, now, since=T0 - timedelta(days=1))
        stories = pipeline.store.stories(digest.story_ids)
        assert not any(s.outlets >= 4 for s in stories.values())  # alerted, unchanged: not repeated
        source, title, text, hours = FIFTH
        pipeline.ingest([entry(source, title, "https://money.example/z7", text, hours, now)])
        digest, _ = prepare_digest(pipeline, subscriber, settings, now, since=T0 - timedelta(days=1))
        grown = [s for s in pipeline.store.stories(digest.story_ids).values() if s.outlets >= 5]
        assert len(grown) == 1  # it grew since the alert: the digest shows it again
    finally:
        pipeline.close()


async def test_the_service_runs_alerts_on_their_own_tick_and_survives_a_failing_sender(data, embedder):
    calls: list[datetime] = []

    async def failing(now: datetime) -> int:
        calls.append(now)
        raise RuntimeError("telegram is down")

    pipeline, _ = open_pipeline(Settings(), resolve_paths(data), embedder)
    service = Service(App.around(pipeline, Settings()), send_alerts=failing)
    try:
        await service.start(paused=True, now=T0)
        assert service.scheduler.get_job(ALERT_JOB) is not None
        assert await service.alert_tick(T0) == 0 and calls == [T0]  # logged, not raised: the next tick retries
    finally:
        await service.shutdown()
        pipeline.close()
