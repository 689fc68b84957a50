"""The scheduler: pure timing rules on fixed clocks, and the Service on a real AsyncIOScheduler.

Job bodies take `now`, so the clock is driven by calling them; the scheduler itself is started
paused in those tests (nothing fires behind the test's back). One test lets APScheduler run a
job for real, and `bot run --no-telegram` runs as a real process that gets SIGHUP and SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import OWN_FEEDS, FeedServer

from bot.app import App
from bot.cli import main
from bot.core.config import FetchConfig, Settings, SourceConfig, StorageConfig, resolve_paths
from bot.core.models import FetchStatus, RawEntry, SourceState, Subscriber
from bot.ingest.pipeline import open_pipeline
from bot.service.clock import digest_due, last_digest_time, next_digest_time, parse_digest_time, source_wait
from bot.service.runner import attach
from bot.service.scheduler import CONFIG_JOB, DIGEST_JOB, HOUSEKEEPING_JOB, Service, diff_sources, fetch_job_id

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 11, 13, 0, 0, tzinfo=UTC)
LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)
FEED = OWN_FEEDS / "rss20_ai_news.xml"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def sub(time_: str = "08:30", zone: str = "Asia/Shanghai", **fields) -> Subscriber:
    fields.setdefault("created_at", LONG_AGO)
    return Subscriber(chat_id=fields.pop("chat_id", 1), digest_time=time_, timezone=zone, subscribed=True, **fields)


def rss(name: str, url: str, **fields) -> SourceConfig:
    return SourceConfig(name=name, kind="rss", url=url, **fields)


def settings_with(*sources: SourceConfig) -> Settings:
    return Settings(fetch=FetchConfig(allow_private=True, total_timeout=timedelta(seconds=5)), sources=sources)


# -- pure: digest times --------------------------------------------------------------------


def test_shanghai_0830_is_0030_utc_and_next_is_strictly_after_now():
    shanghai = sub("08:30", "Asia/Shanghai")
    assert next_digest_time(shanghai, utc(2024, 11, 13, 0, 0)) == utc(2024, 11, 13, 0, 30)
    assert next_digest_time(shanghai, utc(2024, 11, 13, 0, 30)) == utc(2024, 11, 14, 0, 30)
    assert next_digest_time(shanghai, utc(2024, 11, 12, 20, 0)) == utc(2024, 11, 13, 0, 30)  # already 04:00 local


def test_berlin_digest_follows_the_spring_forward():
    berlin = sub("08:00", "Europe/Berlin")
    assert next_digest_time(berlin, utc(2024, 3, 29, 12)) == utc(2024, 3, 30, 7)  # CET, +01:00
    assert next_digest_time(berlin, utc(2024, 3, 30, 12)) == utc(2024, 3, 31, 6)  # CEST, +02:00
    assert next_digest_time(berlin, utc(2024, 10, 26, 12)) == utc(2024, 10, 27, 7)  # back to CET


def test_new_york_digest_follows_the_fall_back():
    new_york = sub("08:00", "America/New_York")
    assert next_digest_time(new_york, utc(2024, 11, 2, 0)) == utc(2024, 11, 2, 12)  # EDT, −04:00
    assert next_digest_time(new_york, utc(2024, 11, 2, 13)) == utc(2024, 11, 3, 13)  # EST, −05:00


def test_times_skipped_or_repeated_by_dst_fire_once():
    skipped = sub("02:30", "America/New_York")  # 2024-03-10 02:30 does not exist in New York
    assert next_digest_time(skipped, utc(2024, 3, 10, 0)) == utc(2024, 3, 10, 7, 30)  # = 03:30 EDT
    repeated = sub("01:30", "America/New_York", last_digest_at=utc(2024, 11, 3, 5, 30))  # first 01:30 (EDT)
    assert last_digest_time(repeated, utc(2024, 11, 3, 6, 45)) == utc(2024, 11, 3, 5, 30)
    assert not digest_due(repeated, utc(2024, 11, 3, 6, 45))  # the second 01:30 (EST) is not another digest


def test_weekly_report_falls_on_the_chosen_weekday_in_the_subscribers_zone():
    friday = Subscriber(chat_id=1, frequency="weekly", weekly_day=4, digest_time="09:00", timezone="Asia/Shanghai")
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert next_digest_time(friday, sunday) == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # Fri 09:00 in Shanghai
    assert last_digest_time(friday, sunday) == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    sent = replace(friday, last_digest_at=datetime(2026, 11, 20, 1, 0, 5, tzinfo=UTC))
    assert not digest_due(sent, datetime(2026, 11, 27, 0, 59, tzinfo=UTC))  # the whole week in between: not due
    assert digest_due(sent, datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
    late_thursday = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # already Friday 01:00 in Shanghai
    assert next_digest_time(friday, late_thursday) == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    daily = replace(friday, frequency="daily")
    assert next_digest_time(daily, sunday) == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_digest_due_only_once_the_time_has_come():
    yesterday = sub(last_digest_at=utc(2024, 11, 12, 0, 30))
    assert not digest_due(yesterday, utc(2024, 11, 13, 0, 29))
    assert digest_due(yesterday, utc(2024, 11, 13, 0, 30))
    assert digest_due(yesterday, utc(2024, 11, 13, 9, 0))


def test_restart_after_a_missed_time_sends_once():
    down_for_days = sub(last_digest_at=utc(2024, 11, 10, 0, 30))
    restart = utc(2024, 11, 13, 7, 0)  # 15:00 in Shanghai, the 08:30 digest was missed
    assert digest_due(down_for_days, restart)
    sent = sub(last_digest_at=restart)
    assert not digest_due(sent, restart + timedelta(minutes=1))
    assert not digest_due(sent, utc(2024, 11, 14, 0, 29))
    assert digest_due(sent, utc(2024, 11, 14, 0, 30))


def test_new_subscriber_waits_for_the_next_time():
    joined = sub(created_at=utc(2024, 11, 13, 2, 0))  # 10:00 in Shanghai
    assert not digest_due(joined, utc(2024, 11, 13, 9, 0))
    assert digest_due(joined, utc(2024, 11, 14, 0, 30))
    assert digest_due(sub(created_at=None), utc(2024, 11, 13, 9, 0))  # nothing known: send


@pytest.mark.parametrize("text", ["8.30", "24:00", "12:60", "", "noon"])
def test_bad_digest_times_are_refused(text):
    with pytest.raises(ValueError, match="HH:MM"):
        parse_digest_time(text)


def test_source_wait():
    assert source_wait(SourceState(name="s"), NOW) == 0
    assert source_wait(SourceState(name="s", next_due=NOW - timedelta(hours=1)), NOW) == 0
    assert source_wait(SourceState(name="s", next_due=NOW + timedelta(minutes=5)), NOW) == 300


def test_diff_sources_by_name_and_enabled():
    old = settings_with(rss("a", "http://x/a"), rss("b", "http://x/b"), rss("c", "http://x/c"))
    new = settings_with(
        rss("b", "http://x/b", interval="10m"), rss("c", "http://x/c", enabled=False), rss("d", "http://x/d")
    )
    diff = diff_sources(old, new)
    assert (diff.added, diff.removed, diff.changed) == (("d",), ("a", "c"), ("b",))


# -- the service: a real AsyncIOScheduler, a driven clock --------------------------------------


@pytest.fixture
def paths(tmp_path):
    return resolve_paths(tmp_path / "data")


@pytest.fixture
async def make_service(paths, embedder):
    made: list[Service] = []

    def _make(settings: Settings | None = None, config: Path | None = None, **options) -> Service:
        """A service over a fresh app: from `settings`, or reading the config file `config` (reloadable)."""
        if config is not None:
            app = App(paths, config_path=config, embedder=embedder)
        else:
            pipeline, _ = open_pipeline(settings, paths, embedder=embedder)
            app = App.around(pipeline, settings)
        service = Service(app, **options)
        made.append(service)
        return service

    yield _make
    for service in made:
        await service.shutdown()
        service.pipeline.store.close()


class Recorder:
    """A `deliver` that only remembers who got a digest when (it does not touch the store)."""

    def __init__(self, fail_for: frozenset[int] = frozenset()) -> None:
        self.calls: list[tuple[int, datetime]] = []
        self.fail_for = fail_for

    async def __call__(self, subscriber: Subscriber, now: datetime) -> int:
        self.calls.append((subscriber.chat_id, now))
        if subscriber.chat_id in self.fail_for:
            raise RuntimeError("telegram is down")
        return 0


async def test_a_due_source_is_fetched_and_a_not_due_one_is_not(feed_server: FeedServer, make_service):
    due = rss("due", feed_server.serve_file("/due.xml", FEED), interval="30m")
    later = rss("later", feed_server.serve_file("/later.xml", FEED), interval="30m")
    service = make_service(settings_with(due, later))
    service.pipeline.store.save_source_state(SourceState(name="later", next_due=NOW + timedelta(hours=1)))
    await service.start(paused=True, now=NOW)

    jobs = {job.id: job for job in service.scheduler.get_jobs()}
    assert set(jobs) == {fetch_job_id("due"), fetch_job_id("later"), HOUSEKEEPING_JOB, CONFIG_JOB}  # no digest job
    assert jobs[fetch_job_id("due")].next_run_time == NOW  # never fetched: at once
    assert jobs[fetch_job_id("later")].next_run_time == NOW + timedelta(hours=1)  # the stored next_due
    assert jobs[fetch_job_id("due")].trigger.interval == timedelta(minutes=30)
    assert jobs[fetch_job_id("due")].max_instances == 1 and jobs[fetch_job_id("due")].coalesce

    outcome = await service.fetch_job("due", now=NOW)
    assert outcome is not None and outcome.status is FetchStatus.OK and outcome.report.new == 3
    assert await service.fetch_job("later", now=NOW) is None
    assert len(feed_server.requests_to("/due.xml")) == 1 and not feed_server.requests_to("/later.xml")
    assert service.scheduler.get_job(fetch_job_id("due")).next_run_time == outcome.next_due  # re-armed by the store

    assert await service.fetch_job("due", now=NOW + timedelta(minutes=5)) is None  # the store's next_due wins
    assert len(feed_server.requests_to("/due.xml")) == 1
    assert (await service.fetch_job("later", now=NOW + timedelta(hours=1))).status is FetchStatus.OK

    assert await service.housekeeping() and not await service.housekeeping()  # saved once, then clean
    assert (service.pipeline.paths.index_dir / "index.faiss").exists() or any(
        service.pipeline.paths.index_dir.iterdir()
    )


async def test_apscheduler_runs_a_due_source_on_the_loop(feed_server: FeedServer, make_service):
    service = make_service(settings_with(rss("live", feed_server.serve_file("/live.xml", FEED))))
    await service.start()
    for _ in range(100):
        if service.pipeline.store.source_state("live").last_success:
            break
        await asyncio.sleep(0.05)
    assert len(feed_server.requests_to("/live.xml")) == 1
    assert service.pipeline.store.count_items() == 3
    next_run = service.scheduler.get_job(fetch_job_id("live")).next_run_time
    assert abs(next_run - service.pipeline.store.source_state("live").next_due) < timedelta(seconds=1)  # stored to 1 s
    await service.shutdown()
    assert not service.scheduler.running
    assert any(service.pipeline.paths.index_dir.iterdir())  # saved on shutdown


async def test_reload_adds_removes_and_reschedules_jobs(tmp_path, make_service):
    config = write_config(tmp_path / "sources.yaml", "a", "b")
    service = make_service(config=config)
    await service.start(paused=True, now=NOW)
    before = datetime.now(UTC)
    config.write_text(
        "fetch:\n  allow_private: true\nsources:\n"
        "  - {name: b, kind: rss, url: 'http://127.0.0.1:9/b.xml', interval: 10m}\n"
        "  - {name: c, kind: rss, url: 'http://127.0.0.1:9/c.xml'}\n"
    )
    assert await service.reload_config() is True

    assert service.scheduler.get_job(fetch_job_id("a")) is None
    assert service.scheduler.get_job(fetch_job_id("c")).next_run_time >= before  # due at once
    assert service.scheduler.get_job(fetch_job_id("b")).trigger.interval == timedelta(minutes=10)
    assert service.settings is service.app.settings and [s.name for s in service.settings.sources] == ["b", "c"]
    assert await service.fetch_job("a", now=NOW) is None  # a removed source is never fetched


def write_config(path: Path, *names: str, extra: str = "") -> Path:
    lines = ["fetch:", "  allow_private: true", "sources:"]
    for name in names:
        lines += [f"  - name: {name}", "    kind: rss", f"    url: http://127.0.0.1:9/{name}.xml", extra]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stamp = time.time() + len(path.read_text())  # a new mtime even within the file system's resolution
    os.utime(path, (stamp, stamp))
    return path


async def test_config_file_changes_are_picked_up_and_invalid_ones_kept_out(tmp_path, make_service, caplog):
    config = write_config(tmp_path / "sources.yaml", "a")
    service = make_service(config=config)
    await service.start(paused=True, now=NOW)
    assert await service.check_config() is False  # unchanged

    write_config(config, "a", "b")
    assert await service.check_config() is True
    assert service.scheduler.get_job(fetch_job_id("b")) is not None

    caplog.set_level(logging.ERROR, logger="bot.service.scheduler")
    write_config(config, "a", "b", "c", extra="    interval: soon")
    assert await service.check_config() is False
    assert await service.reload_config() is False  # SIGHUP with the same bad file
    assert "config not reloaded" in caplog.text and "sources[0] ('a'), field 'interval'" in caplog.text
    assert [source.name for source in service.settings.sources] == ["a", "b"]
    assert service.scheduler.get_job(fetch_job_id("c")) is None and service.scheduler.get_job(fetch_job_id("b"))


async def test_digest_tick_delivers_once_per_subscriber_per_day(make_service):
    recorder = Recorder()
    service = make_service(settings_with(), deliver=recorder)
    store = service.pipeline.store
    store.save_subscriber(sub("08:30", "Asia/Shanghai", chat_id=1, last_digest_at=utc(2024, 11, 12, 0, 30)))
    store.save_subscriber(sub("08:00", "Europe/Berlin", chat_id=2, last_digest_at=utc(2024, 11, 12, 7, 0)))
    store.save_subscriber(Subscriber(chat_id=3, digest_time="08:30", timezone="Asia/Shanghai", created_at=LONG_AGO))
    await service.start(paused=True, now=NOW)
    assert str(service.scheduler.get_job(DIGEST_JOB).trigger) == "cron[second='0']"  # every minute, at :00

    ticks = {minute: await service.digest_tick(now=NOW + timedelta(minutes=minute)) for minute in (29, 30, 31)}
    assert ticks == {29: [], 30: [1], 31: []}
    assert await service.digest_tick(now=utc(2024, 11, 13, 7, 0)) == [2]  # 08:00 in Berlin
    assert await service.digest_tick(now=utc(2024, 11, 13, 7, 1)) == []
    assert store.subscriber(1).last_digest_at == utc(2024, 11, 13, 0, 30)

    restarted = make_service(settings_with(), deliver=recorder)  # same store, a new process
    await restarted.start(paused=True, now=NOW)
    assert await restarted.digest_tick(now=utc(2024, 11, 13, 7, 5)) == []
    assert await restarted.digest_tick(now=utc(2024, 11, 14, 0, 30)) == [1]
    assert [chat for chat, _ in recorder.calls] == [1, 2, 1]  # chat 3 never subscribed


async def test_a_failing_chat_is_retried_a_few_times_and_does_not_block_others(make_service, caplog):
    recorder = Recorder(fail_for=frozenset({1}))
    service = make_service(settings_with(), deliver=recorder)
    service.pipeline.store.save_subscriber(sub("08:30", chat_id=1))
    service.pipeline.store.save_subscriber(sub("08:30", chat_id=2))
    await service.start(paused=True, now=NOW)
    caplog.set_level(logging.ERROR, logger="bot.service.scheduler")

    results = [await service.digest_tick(now=NOW + timedelta(minutes=minute)) for minute in range(30, 36)]
    assert results == [[2], [], [], [], [], []]
    assert [chat for chat, _ in recorder.calls].count(1) == 3  # then given up until tomorrow
    assert "digest for chat 1 failed" in caplog.text
    assert await service.digest_tick(now=utc(2024, 11, 14, 0, 30)) == [2]
    assert [chat for chat, _ in recorder.calls].count(1) == 4


async def test_a_bad_time_zone_in_one_row_is_skipped(make_service):
    recorder = Recorder()
    service = make_service(settings_with(), deliver=recorder)
    service.pipeline.store.save_subscriber(sub("08:30", "Mars/Olympus_Mons", chat_id=1))
    service.pipeline.store.save_subscriber(sub("08:30", chat_id=2))
    await service.start(paused=True, now=NOW)
    assert await service.digest_tick(now=NOW + timedelta(minutes=30)) == [2]


async def test_shutdown_is_safe_before_start_and_twice(make_service):
    service = make_service(settings_with())
    await service.shutdown()
    await service.start(paused=True, now=NOW)
    await service.shutdown()
    await service.shutdown()
    assert not service.scheduler.running


# -- `bot run` ---------------------------------------------------------------------------------


def test_run_without_a_token_exits_2_naming_the_variable(tmp_path, monkeypatch, capsys):
    config = write_config(tmp_path / "sources.yaml", "a")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    code = main(["--config", str(config), "--data-dir", str(tmp_path / "data"), "run"])
    err = capsys.readouterr().err
    assert code == 2 and "TELEGRAM_BOT_TOKEN" in err and "--no-telegram" in err


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_bot_run_no_telegram_fetches_reloads_on_sighup_and_stops_on_sigterm(feed_server: FeedServer, tmp_path):
    first, second = feed_server.serve_file("/first.xml", FEED), feed_server.serve_file("/second.xml", FEED)
    config = tmp_path / "sources.yaml"
    source = "  - {{name: {0}, kind: rss, url: '{1}'}}"
    header = "fetch: {allow_private: true}\nsources:\n"
    config.write_text(header + source.format("first", first) + "\n", encoding="utf-8")
    argv = [sys.executable, "-m", "bot", "--config", str(config), "--data-dir", str(tmp_path / "data"), "run"]
    process = subprocess.Popen(
        [*argv, "--no-telegram"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert wait_for(lambda: feed_server.requests_to("/first.xml")), "the due source was not fetched"
        config.write_text(header + "\n".join([source.format("first", first), source.format("second", second)]))
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: feed_server.requests_to("/second.xml")), "SIGHUP did not add the new source"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "config reloaded" in err and "Traceback" not in err
    assert any((tmp_path / "data" / "index").iterdir())


class FakeApplication:
    """Just the hooks `attach` chains (what PTB's `run_polling` calls around the bot's life)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.bot_data: dict = {}
        self.post_init = self._hook("builder's post_init")
        self.post_stop = None
        self.post_shutdown = self._hook("builder's post_shutdown")

    def _hook(self, name: str):
        async def hook(app) -> None:
            self.calls.append(name)

        return hook


async def test_attach_starts_after_the_bots_post_init_and_stops_before_shutdown(make_service):
    service, application = make_service(settings_with()), FakeApplication()
    attach(application, service)
    assert application.bot_data["scheduler"] is service
    await application.post_init(application)
    assert application.calls == ["builder's post_init"] and service.scheduler.running
    await application.post_stop(application)
    assert not service.scheduler.running
    await application.post_shutdown(application)  # the service is already stopped: only the builder's hook
    assert application.calls == ["builder's post_init", "builder's post_shutdown"]


def posted(title: str, link: str, days_ago: int, fetched_days_ago: int | None = None) -> RawEntry:
    """An entry published `days_ago` and fetched then (or `fetched_days_ago`)."""
    fetched = NOW - timedelta(days=days_ago if fetched_days_ago is None else fetched_days_ago)
    return RawEntry(source="s", title=title, link=link, fetched_at=fetched, published=NOW - timedelta(days=days_ago))


async def test_housekeeping_applies_retention_once_a_day(make_service):
    settings = Settings(storage=StorageConfig(retention=timedelta(days=30)))
    service = make_service(settings)
    store = service.pipeline.store
    service.pipeline.ingest(
        [
            posted("Old news about robots", "https://old.example/1", days_ago=60),
            posted("Fresh news about chips", "https://new.example/2", days_ago=1, fetched_days_ago=0),
        ]
    )
    assert store.count_items() == 2
    assert await service.housekeeping(now=NOW)  # pruned one item, so the index is saved
    assert store.count_items() == 1 and len(service.pipeline.index) == 1
    service.pipeline.ingest([posted("Another old post", "https://old.example/3", days_ago=45)])
    await service.housekeeping(now=NOW + timedelta(hours=1))  # within a day: retention not applied again
    assert store.count_items() == 2
    await service.housekeeping(now=NOW + timedelta(days=1, hours=1))
    assert store.count_items() == 1
