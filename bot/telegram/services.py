"""What the Telegram handlers, the bot's builder and the scheduler share: the `Services` in `bot_data`
(the process's one `App`, the clock, the LLM client) and `send_digest`, the one way a digest reaches a chat.

Store and index work is serialized by the app's lock (`App.lock`), because the SQLite connection and
the FAISS index are shared; the scheduler's `Harvester` holds the same lock, so a fetch and a command
never write at the same time.

Delivery rule (see `send_digest`): a digest is recorded as sent once any message of it may have
reached the chat. A send that timed out after the request went out may well have been delivered
(shared/notes/telegram.md), so it is not resent; a send that certainly never reached Telegram
(connection refused, connect timeout, 5xx) is retried with backoff. A crash between the last send
and the record is the one window in which a digest could repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeAlias, TypeVar, cast

import httpx
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, ContextTypes

from bot.app import App as BotApp
from bot.core.config import Settings
from bot.core.models import Subscriber
from bot.deliver.digest import mark_sent, prepare_digest, render_alert, render_digest, story_summaries
from bot.deliver.report import chart_png, prepare_report, render_caption, render_report, subscriber_trends
from bot.ingest.pipeline import Pipeline
from bot.insight.alerts import Alert, pending_alerts
from bot.query.llm import LlmClient
from bot.storage import Store

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 3  # per digest message, for failures that certainly did not reach Telegram
RETRY_BACKOFF = 0.5  # seconds before the 2nd attempt; doubles each time
SEND_READ_TIMEOUT = 10.0  # seconds to wait for Telegram's answer to one sendMessage
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
SERVICES = "services"  # the `bot_data` key of the `Services`
_DELIVERY_UNKNOWN = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)

P = ParamSpec("P")
R = TypeVar("R")
Context = ContextTypes.DEFAULT_TYPE
App: TypeAlias = "Application[Any, Any, Any, Any, Any, Any]"


@dataclass
class Services:
    """What handlers share, kept in `bot_data`: the app (settings, store, index), the clock, and the LLM
    client opened in `post_init`."""

    app: BotApp
    now: Callable[[], datetime]
    llm: LlmClient | None = None

    @property
    def settings(self) -> Settings:
        """The app's settings now; a reload anywhere (SIGHUP, a changed file, /addsource) is seen at once."""
        return self.app.settings

    @property
    def pipeline(self) -> Pipeline:
        return self.app.pipeline

    @property
    def lock(self) -> asyncio.Lock:
        return self.app.lock()

    async def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run store/index work in a worker thread, one piece of work at a time."""
        return await self.app.run(function, *args, **kwargs)


def services_of(holder: Context | App) -> Services:
    """The shared `Services` of a handler's context or of the application (e.g. for the scheduler)."""
    return cast(Services, holder.bot_data[SERVICES])


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- the digest sender (used by /digest and by the scheduler) ----------------------------------


async def send_digest(
    target: App | Bot,
    app: BotApp,
    subscriber: Subscriber,
    now: datetime,
    *,
    since: datetime | None = None,
    llm: LlmClient | None = None,
) -> int:
    """Send `subscriber` what is new for them; the number of messages delivered (0: nothing new).

    The digest is recorded as sent (so neither a second call nor a restart repeats it) as soon as
    any message of it may have arrived. A chat that blocked the bot is marked inactive.
    """
    bot = target.bot if isinstance(target, Application) else target
    pipeline, settings, lock = app.pipeline, app.settings, app.lock()
    async with lock:
        prepared, links = await asyncio.to_thread(prepare_digest, pipeline, subscriber, settings, now, since)
        if not prepared.story_ids:
            return 0
        summaries = await asyncio.to_thread(story_summaries, pipeline, prepared.stories, subscriber.lang, llm)
    messages = render_digest(prepared, subscriber.lang, links, summaries=summaries, web=settings.web)
    delivered = await _deliver(app, subscriber.chat_id, [_text(bot, subscriber.chat_id, m) for m in messages])
    if delivered:
        async with lock:
            await asyncio.to_thread(mark_sent, pipeline.store, prepared, now)
    return delivered


async def send_alerts(target: App | Bot, app: BotApp, now: datetime) -> int:
    """Push every breaking alert due now; the number sent. Each is recorded once it may have arrived,
    so it goes out once per story and chat, across restarts; one that surely failed is retried next tick."""
    bot = target.bot if isinstance(target, Application) else target
    pipeline, lock = app.pipeline, app.lock()
    async with lock:
        alerts, links = await asyncio.to_thread(_prepare_alerts, pipeline, app.settings, now)
    sent = 0
    for alert in alerts:
        web = app.settings.web
        page = web.story_url(alert.story.id) if web else None
        text = render_alert(alert.story, alert.lang, links[alert.story.id], alert.follow_text, page)
        if await _deliver(app, alert.chat_id, [_text(bot, alert.chat_id, text)]):
            story = alert.story
            async with lock:
                await asyncio.to_thread(
                    pipeline.store.record_alert, alert.chat_id, story.id, story.outlets, len(story.langs), now
                )
            sent += 1
    return sent


def _prepare_alerts(
    pipeline: Pipeline, settings: Settings, now: datetime
) -> tuple[list[Alert], dict[int, list[tuple[str, str]]]]:
    alerts = pending_alerts(pipeline, settings.alerts, now)
    links = {story_id: pipeline.store.story_links(story_id) for story_id in {alert.story.id for alert in alerts}}
    return alerts, links


async def send_report(
    target: App | Bot,
    app: BotApp,
    subscriber: Subscriber,
    now: datetime,
    *,
    llm: LlmClient | None = None,
) -> int:
    """Send the weekly report: the trend picture first (its caption carries the figures), then the topics and
    moves; recorded as sent like a digest. The number of messages delivered."""
    bot = target.bot if isinstance(target, Application) else target
    pipeline = app.pipeline
    async with app.lock():
        report = await asyncio.to_thread(prepare_report, pipeline, subscriber, app.settings, now, llm)
    chat = subscriber.chat_id
    sends = [_photo(bot, chat, report.chart, render_caption(report.trends, report.lang))] if report.chart else []
    sends += [_text(bot, chat, message) for message in render_report(report)]
    delivered = await _deliver(app, chat, sends)
    if delivered:
        async with app.lock():
            await asyncio.to_thread(pipeline.store.record_delivery, chat, report.story_ids, now)
    return delivered


async def send_trends(target: App | Bot, app: BotApp, subscriber: Subscriber, now: datetime) -> int:
    """The trend picture on demand (/trends): the subscriber's themes over the last weeks, in their language."""
    bot = target.bot if isinstance(target, Application) else target
    async with app.lock():
        trends = await asyncio.to_thread(subscriber_trends, app.store, subscriber, app.settings, now)
    png = await asyncio.to_thread(chart_png, trends, subscriber.lang)  # drawing needs no store: outside the lock
    caption = render_caption(trends, subscriber.lang)
    return await _deliver(app, subscriber.chat_id, [_photo(bot, subscriber.chat_id, png, caption)])


def scheduled_delivery(
    target: App | Bot, app: BotApp, llm: Callable[[], LlmClient | None]
) -> Callable[[Subscriber, datetime], Awaitable[int]]:
    """What the scheduler calls at a subscriber's time: the weekly report or the daily digest, as they chose."""

    async def deliver(subscriber: Subscriber, now: datetime) -> int:
        send = send_report if subscriber.frequency == "weekly" else send_digest
        return await send(target, app, subscriber, now, llm=llm())

    return deliver


Send = Callable[[], Awaitable[object]]


def _text(bot: Bot, chat_id: int, text: str) -> Send:
    return lambda: bot.send_message(
        chat_id, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW, read_timeout=SEND_READ_TIMEOUT
    )


def _photo(bot: Bot, chat_id: int, png: bytes, caption: str) -> Send:
    return lambda: bot.send_photo(
        chat_id, png, caption=caption, parse_mode=ParseMode.HTML, read_timeout=SEND_READ_TIMEOUT, write_timeout=30
    )


async def _deliver(app: BotApp, chat_id: int, sends: Sequence[Send]) -> int:
    """Send the messages in order; stop at a chat that blocked us (marked inactive) or a network failure.
    The number of messages that were (or may have been) delivered."""
    delivered = 0
    for send in sends:
        try:
            delivered += await _send_with_retries(send, chat_id)
        except Forbidden:
            log.info("chat %s blocked the bot or left; marking it inactive", chat_id)
            await app.run(_deactivate, app.store, chat_id)
            break
        except (NetworkError, RetryAfter) as exc:
            log.warning("giving up on sending to chat %s: %s", chat_id, type(exc).__name__)
            break
    return delivered


async def _send_with_retries(send: Send, chat_id: int) -> int:
    """1 when the message was (or may have been) delivered, 0 when Telegram rejected it as malformed."""
    for attempt in range(SEND_ATTEMPTS):
        try:
            await send()
            return 1
        except BadRequest:  # our bug (bad HTML, too long): skip this message, keep the rest
            log.exception("Telegram rejected a message for chat %s", chat_id)
            return 0
        except NetworkError as exc:
            if _maybe_delivered(exc):
                log.warning("no answer to a message for chat %s; not resending (it may have arrived)", chat_id)
                return 1
            if attempt == SEND_ATTEMPTS - 1:
                raise
            await asyncio.sleep(RETRY_BACKOFF * 2**attempt)
    return 0


def _maybe_delivered(exc: NetworkError) -> bool:
    """Whether the request reached Telegram before the failure (then resending could duplicate it)."""
    return isinstance(exc.__cause__, _DELIVERY_UNKNOWN)  # PTB chains the httpx error: read timeout, dropped reply


def _deactivate(store: Store, chat_id: int) -> None:
    current = store.subscriber(chat_id)
    if current is not None:
        store.save_subscriber(replace(current, active=False))
