"""The Telegram bot: one builder, thin handlers, and the digest sender the scheduler shares.

Only this module imports `telegram`. Each handler parses its arguments, makes one call into the
pipeline's modules (store, search, answer, digest, overlay) in a worker thread, and renders the
reply with `telegram_render` (every dynamic string escaped, HTML parse mode, no link previews).
Store and index work is serialized by one asyncio lock per pipeline (`pipeline_lock`), because the
SQLite connection and the FAISS index are shared; the scheduler passes the same lock to its
`Harvester`, so a fetch and a command never write at the same time. Updates are processed one at
a time (PTB's default), so a slow question delays the next command but never blocks the loop.

Delivery rule (see `send_digest`): a digest is recorded as sent once any message of it may have
reached the chat. A send that timed out after the request went out may well have been delivered
(shared/notes/telegram.md), so it is not resent; a send that certainly never reached Telegram
(connection refused, connect timeout, 5xx) is retried with backoff. A crash between the last send
and the record is the one window in which a digest could repeat.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ParamSpec, Protocol, TypeAlias, TypeVar, cast

import httpx
from telegram import Bot, BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot import telegram_render as render
from bot.answer import answer_question
from bot.config import Settings
from bot.digest import mark_sent, prepare_digest, render_digest
from bot.errors import ConfigError
from bot.llm import LlmClient, make_llm
from bot.models import Follow, Subscriber
from bot.overlay import OverlayError, admit_source, load_overlay, remove_source, with_overlay
from bot.pipeline import Pipeline
from bot.search import Filters, search_stories
from bot.store import Store

log = logging.getLogger(__name__)

BOOTSTRAP_RETRIES = -1  # a service keeps retrying getMe/deleteWebhook through a Telegram or network outage
RATE_LIMIT_RETRIES = 3  # AIORateLimiter retries a 429 after its retry_after this many times
SEND_ATTEMPTS = 3  # per digest message, for failures that certainly did not reach Telegram
RETRY_BACKOFF = 0.5  # seconds before the 2nd attempt; doubles each time
SEND_READ_TIMEOUT = 10.0  # seconds to wait for Telegram's answer to one sendMessage
ASK_STORIES = 5
WHO_POOL = 40
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
ALLOWED_UPDATES = [Update.MESSAGE]  # commands and questions; nothing else is handled
SERVICES = "services"
SCHEDULER = "scheduler"  # where bot.scheduler.attach publishes its service
COMMANDS = [
    ("help", "what I can do · 帮助"),
    ("subscribe", "daily digest [themes] · 订阅"),
    ("digest", "what's new now · 立即摘要"),
    ("ask", "ask a question · 提问"),
    ("who", "people moves · 人事变动"),
    ("follow", "follow a topic · 关注话题"),
    ("settings", "time, time zone, language · 设置"),
    ("themes", "themes · 主题"),
    ("sources", "sources · 来源"),
    ("unsubscribe", "stop the digest · 退订"),
]
_DELIVERY_UNKNOWN = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)

P = ParamSpec("P")
R = TypeVar("R")
Context = ContextTypes.DEFAULT_TYPE
App: TypeAlias = "Application[Any, Any, Any, Any, Any, Any]"


@dataclass
class Services:
    """What handlers share, kept in `bot_data`: settings (re-merged when a source is added), the
    pipeline, the clock, and the LLM client opened in `post_init`."""

    settings: Settings
    pipeline: Pipeline
    now: Callable[[], datetime]
    llm: LlmClient | None = None

    @property
    def lock(self) -> asyncio.Lock:
        return pipeline_lock(self.pipeline)

    async def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run store/index work in a worker thread, one piece of work at a time."""
        async with self.lock:
            return await asyncio.to_thread(function, *args, **kwargs)


_LOCKS: weakref.WeakKeyDictionary[Pipeline, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def pipeline_lock(pipeline: Pipeline) -> asyncio.Lock:
    """The lock serializing work on `pipeline` in the running event loop; pass it to `Harvester(lock=...)`."""
    loop = asyncio.get_running_loop()
    entry = _LOCKS.get(pipeline)
    if entry is None or entry[0] is not loop:
        entry = _LOCKS[pipeline] = (loop, asyncio.Lock())
    return entry[1]


def utc_now() -> datetime:
    return datetime.now(UTC)


def bot_token(settings: Settings) -> str:
    """The token from the environment variable named in config (never from a file, never logged)."""
    token = os.environ.get(settings.telegram.token_env, "").strip()
    if not token:
        raise ConfigError(f"set the bot token in ${settings.telegram.token_env} (telegram.token_env)")
    return token


# -- building and running ----------------------------------------------------------------------


def build_application(
    settings: Settings,
    pipeline: Pipeline,
    token: str,
    *,
    base_url: str | None = None,
    now: Callable[[], datetime] = utc_now,
) -> App:
    """The bot: every handler registered, shared resources in `bot_data`, flood-control retries on."""
    _hide_token_in_logs(token)
    builder = ApplicationBuilder().token(token).rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
    builder = builder.defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW))
    url = base_url or settings.telegram.base_url
    if url:
        builder = builder.base_url(url).base_file_url(_file_url(url))
    application = builder.post_init(_post_init).post_shutdown(_post_shutdown).build()
    merged = with_overlay(settings, pipeline.paths)
    application.bot_data[SERVICES] = Services(merged, pipeline, now)
    for name, callback in HANDLERS.items():
        application.add_handler(CommandHandler(name, callback))
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, ask))
    application.add_error_handler(on_error)
    return application


def run_polling(application: App) -> None:
    """Run until interrupted (blocking); startup retries through outages instead of crashing."""
    application.run_polling(bootstrap_retries=BOOTSTRAP_RETRIES, allowed_updates=ALLOWED_UPDATES)


@asynccontextmanager
async def serving(application: App, *, poll_timeout: float = 10.0) -> AsyncIterator[App]:
    """Run the bot inside an existing event loop (beside the scheduler), in `run_polling`'s order."""
    try:
        await application.initialize()
    except InvalidToken:
        raise ConfigError("Telegram rejected the bot token (check telegram.token_env)") from None
    updater = application.updater
    assert updater is not None, "built by build_application, which keeps the updater"
    try:
        if application.post_init:
            await application.post_init(application)
        await updater.start_polling(
            timeout=int(poll_timeout), bootstrap_retries=BOOTSTRAP_RETRIES, allowed_updates=ALLOWED_UPDATES
        )
        await application.start()
        yield application
    finally:
        if updater.running:
            await updater.stop()
        if application.running:
            await application.stop()
            if application.post_stop:
                await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)


async def _post_init(application: App) -> None:
    services = services_of(application)
    services.llm = make_llm(services.settings)
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])


async def _post_shutdown(application: App) -> None:
    services = services_of(application)
    if services.llm is not None:
        services.llm.close()
        services.llm = None


def _file_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"


class _RedactToken(logging.Filter):
    """httpx logs every request URL, and Bot API URLs contain the token."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


def _hide_token_in_logs(token: str) -> None:
    for name in ("httpx", "telegram", "telegram.ext"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactToken) and f.token == token for f in logger.filters):
            logger.addFilter(_RedactToken(token))


# -- small helpers for handlers ----------------------------------------------------------------


def services_of(holder: Context | App) -> Services:
    """The shared `Services` of a handler's context or of the application (e.g. for the scheduler)."""
    return cast(Services, holder.bot_data[SERVICES])


async def _reply(update: Update, messages: str | list[str]) -> None:
    message = update.effective_message
    if message is None:
        return
    for text in [messages] if isinstance(messages, str) else messages:
        await message.reply_text(text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)


def _ids(update: Update) -> tuple[int, int]:
    chat, user = update.effective_chat, update.effective_user
    return (chat.id if chat else 0), (user.id if user else 0)


def _guess_lang(update: Update) -> str:
    user = update.effective_user
    return "zh" if user and (user.language_code or "").lower().startswith("zh") else "en"


async def _lang(update: Update, context: Context) -> str:
    """The chat's language: its saved setting, else the Telegram client's language (cached per chat)."""
    chat_data = context.chat_data if context.chat_data is not None else {}
    if "lang" not in chat_data:
        saved = await services_of(context).run(services_of(context).pipeline.store.subscriber, _ids(update)[0])
        chat_data["lang"] = saved.lang if saved else _guess_lang(update)
    return str(chat_data["lang"])


def _argument_text(update: Update) -> str:
    """Everything after the command word, line breaks kept (context.args would split them)."""
    text = update.effective_message.text if update.effective_message else ""
    parts = (text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def admins_only(handler: Handler) -> Handler:
    """Let only `telegram.admins` (user ids) through; everyone else gets a polite refusal."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        user = update.effective_user
        if user is None or user.id not in services_of(context).settings.telegram.admins:
            await _reply(update, render.t("admins_only", await _lang(update, context)))
            return
        await handler(update, context)

    return guarded


def edit_subscriber(store: Store, chat_id: int, user_id: int, lang: str, /, **changes: Any) -> Subscriber:
    """Create the chat's subscriber row if needed, apply `changes`, save, and return it."""
    current = store.subscriber(chat_id) or Subscriber(chat_id, user_id, lang=lang, created_at=utc_now())
    updated = replace(current, **changes)
    store.save_subscriber(updated)
    return updated


# -- handlers: one per command -----------------------------------------------------------------


async def start(update: Update, context: Context) -> None:
    """Greet in both languages and remember the chat."""
    services = services_of(context)
    await services.run(edit_subscriber, services.pipeline.store, *_ids(update), await _lang(update, context))
    await _reply(update, render.help_text())


async def help_command(update: Update, context: Context) -> None:
    """List the commands, in both languages."""
    await _reply(update, render.help_text())


async def subscribe(update: Update, context: Context) -> None:
    """Turn the daily digest on, for the named themes (all when none are named)."""
    services, lang = services_of(context), await _lang(update, context)
    chosen, unknown = render.parse_themes(context.args or [], list(services.settings.themes))
    if unknown:
        themes = ", ".join(services.settings.themes) or "-"
        await _reply(update, render.t("unknown_themes", lang, names=", ".join(unknown), themes=themes))
        return
    subscriber = await services.run(
        edit_subscriber, services.pipeline.store, *_ids(update), lang, subscribed=True, active=True, themes=chosen
    )
    themes = render.theme_names(subscriber.themes, lang)
    tz, time = subscriber.timezone, subscriber.digest_time
    await _reply(update, render.t("subscribed", lang, themes=themes, time=time, tz=tz))


async def unsubscribe(update: Update, context: Context) -> None:
    """Turn the daily digest off (settings are kept)."""
    services, lang = services_of(context), await _lang(update, context)
    await services.run(edit_subscriber, services.pipeline.store, *_ids(update), lang, subscribed=False)
    await _reply(update, render.t("unsubscribed", lang))


async def themes(update: Update, context: Context) -> None:
    """List the configured themes, marking the chat's."""
    services, lang = services_of(context), await _lang(update, context)
    subscriber = await services.run(services.pipeline.store.subscriber, _ids(update)[0])
    chosen = subscriber.themes if subscriber else ()
    await _reply(update, render.render_themes(services.settings.themes, chosen, lang))


async def settings_command(update: Update, context: Context) -> None:
    """Show the chat's settings, or change time, tz or lang."""
    services, lang = services_of(context), await _lang(update, context)
    store = services.pipeline.store
    if not context.args:
        subscriber = await services.run(edit_subscriber, store, *_ids(update), lang)
        await _reply(update, render.render_settings(subscriber, lang))
        return
    try:
        changes, done_key, value = render.parse_setting(context.args)
    except render.SettingError as problem:
        await _reply(update, render.t(problem.key, lang, value=problem.value))
        return
    subscriber = await services.run(edit_subscriber, store, *_ids(update), lang, **changes)
    if context.chat_data is not None:
        context.chat_data["lang"] = subscriber.lang
    await _reply(update, render.t(done_key, subscriber.lang, value=value))


async def digest(update: Update, context: Context) -> None:
    """Send what is new since the chat's last digest (or the last 24 hours) right now."""
    services, lang = services_of(context), await _lang(update, context)
    subscriber = await services.run(edit_subscriber, services.pipeline.store, *_ids(update), lang)
    sent = await send_digest(context.application, services.pipeline, services.settings, subscriber, services.now())
    if not sent:
        await _reply(update, render.t("nothing_new", lang))


async def ask(update: Update, context: Context) -> None:
    """Answer a question (after /ask, or any plain text in a private chat) from the stored stories."""
    services = services_of(context)
    text = (update.effective_message.text if update.effective_message else "") or ""
    question = _argument_text(update) if text.startswith("/") else text
    if not question.strip():
        await _reply(update, render.t("ask_usage", await _lang(update, context)))
        return
    filters_ = Filters(now=services.now())
    hits = await services.run(search_stories, services.pipeline, question, ASK_STORIES, filters_)
    answer = await asyncio.to_thread(answer_question, question, hits, services.settings, services.llm)
    await _reply(update, render.render_answer(answer, hits))


async def sources(update: Update, context: Context) -> None:
    """List the sources with their health."""
    services, lang = services_of(context), await _lang(update, context)
    states = await services.run(services.pipeline.store.source_states)
    added = {source.name for source in await asyncio.to_thread(load_overlay, services.pipeline.paths)}
    await _reply(update, render.render_sources(services.settings.sources, states, added, lang))


@admins_only
async def addsource(update: Update, context: Context) -> None:
    """Admins: check, add and ingest a feed URL."""
    services, lang = services_of(context), await _lang(update, context)
    if not context.args or len(context.args) > 2:
        await _reply(update, render.t("addsource_usage", lang))
        return
    url, name = context.args[0], (context.args[1] if len(context.args) > 1 else "")
    try:
        added = await admit_source(services.settings, services.pipeline, url, name, services.now(), services.lock)
    except OverlayError as problem:
        await _reply(update, render.t("addsource_refused", lang, reason=str(problem)))
        return
    await _use_settings(context, added.settings)
    await _reply(update, render.t("addsource_done", lang, name=added.source.name, entries=added.entries, new=added.new))


@admins_only
async def removesource(update: Update, context: Context) -> None:
    """Admins: remove a source that was added through the bot."""
    services, lang = services_of(context), await _lang(update, context)
    if not context.args:
        await _reply(update, render.t("removesource_usage", lang))
        return
    name = context.args[0]
    if await asyncio.to_thread(remove_source, services.pipeline.paths, name):
        await _use_settings(context, _without_source(services.settings, name))
        await _reply(update, render.t("removesource_done", lang, name=name))
    elif any(source.name == name for source in services.settings.sources):
        await _reply(update, render.t("removesource_config", lang, name=name))
    else:
        await _reply(update, render.t("removesource_unknown", lang, name=name))


@admins_only
async def stats(update: Update, context: Context) -> None:
    """Admins: counts of items, stories, subscribers and failing sources."""
    services, lang = services_of(context), await _lang(update, context)
    numbers = await services.run(collect_stats, services.pipeline.store, services.settings)
    await _reply(update, render.render_stats(numbers, lang))


async def who(update: Update, context: Context) -> None:
    """People moves reported about a person or an organisation, newest first."""
    services, lang = services_of(context), await _lang(update, context)
    name = _argument_text(update)
    if not name:
        await _reply(update, render.t("who_usage", lang))
        return
    events = await services.run(people_timeline, services.pipeline, name, lang)
    await _reply(update, render.render_timeline(name, events, lang))


async def follow(update: Update, context: Context) -> None:
    """Follow a topic by meaning (its words' vector is stored); alone, list the chat's topics."""
    services, lang = services_of(context), await _lang(update, context)
    pipeline, (chat_id, _) = services.pipeline, _ids(update)
    words = _argument_text(update)
    if not words:
        follows = await services.run(list_follows, pipeline, chat_id)
        await _reply(update, render.render_follows(follows, lang))
        return
    added = await services.run(add_follow, pipeline, chat_id, words)
    await _reply(update, render.t("followed", lang, id=added.id, text=added.text))


async def unfollow(update: Update, context: Context) -> None:
    """Stop following topic #ID."""
    services, lang = services_of(context), await _lang(update, context)
    raw = (context.args or [""])[0].lstrip("#")
    if not raw.isdigit():
        await _reply(update, render.t("unfollow_usage", lang))
        return
    removed = await services.run(services.pipeline.store.remove_follow, _ids(update)[0], int(raw))
    await _reply(update, render.t("unfollowed" if removed else "unfollow_unknown", lang, id=raw))


async def unknown_command(update: Update, context: Context) -> None:
    """Any other command: say so and point at /help."""
    message = update.effective_message
    command = (message.text or "").split(maxsplit=1)[0].split("@")[0] if message else "?"
    await _reply(update, render.t("unknown_command", await _lang(update, context), command=command))


async def on_error(update: object, context: Context) -> None:
    """Log first (with the traceback), then tell the user something went wrong, without details."""
    if isinstance(context.error, Forbidden):  # the user blocked the bot: nobody to tell
        log.info("chat blocked the bot: %s", context.error)
        return
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        lang = _guess_lang(update)
        if context.chat_data is not None and "lang" in context.chat_data:
            lang = str(context.chat_data["lang"])
        try:
            await update.effective_message.reply_text(render.t("error", lang))
        except Exception:  # the error may be that we cannot send at all
            log.warning("could not tell the user about the error", exc_info=True)


HANDLERS = {
    "start": start,
    "help": help_command,
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "themes": themes,
    "settings": settings_command,
    "digest": digest,
    "ask": ask,
    "sources": sources,
    "addsource": addsource,
    "removesource": removesource,
    "stats": stats,
    "who": who,
    "follow": follow,
    "unfollow": unfollow,
}


# -- the digest sender (also used by the scheduler) --------------------------------------------


async def send_digest(
    target: App | Bot,
    pipeline: Pipeline,
    settings: Settings,
    subscriber: Subscriber,
    now: datetime,
    *,
    since: datetime | None = None,
) -> int:
    """Send `subscriber` what is new for them; the number of messages delivered (0: nothing new).

    The digest is recorded as sent (so neither a second call nor a restart repeats it) as soon as
    any message of it may have arrived. A chat that blocked the bot is marked inactive.
    """
    bot = target.bot if isinstance(target, Application) else target
    lock = pipeline_lock(pipeline)
    async with lock:
        prepared, links = await asyncio.to_thread(prepare_digest, pipeline, subscriber, settings, now, since)
    if not prepared.story_ids:
        return 0
    delivered = 0
    for text in render_digest(prepared, subscriber.lang, links):
        try:
            delivered += await _send_with_retries(bot, subscriber.chat_id, text)
        except Forbidden:
            log.info("chat %s blocked the bot or left; marking it inactive", subscriber.chat_id)
            async with lock:
                await asyncio.to_thread(_deactivate, pipeline.store, subscriber.chat_id)
            break
        except (NetworkError, RetryAfter) as exc:
            log.warning("giving up on the digest for chat %s: %s", subscriber.chat_id, type(exc).__name__)
            break
    if delivered:
        async with lock:
            await asyncio.to_thread(mark_sent, pipeline.store, prepared, now)
    return delivered


async def _send_with_retries(bot: Bot, chat_id: int, text: str) -> int:
    """1 when the message was (or may have been) delivered, 0 when Telegram rejected it as malformed."""
    for attempt in range(SEND_ATTEMPTS):
        try:
            await bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                read_timeout=SEND_READ_TIMEOUT,
            )
            return 1
        except BadRequest:  # our bug (bad HTML, too long): skip this message, keep the rest of the digest
            log.exception("Telegram rejected a digest message for chat %s", chat_id)
            return 0
        except NetworkError as exc:
            if _maybe_delivered(exc):
                log.warning("no answer to a digest message for chat %s; not resending (it may have arrived)", chat_id)
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


# -- what the admin and people commands call ---------------------------------------------------


class _Reloadable(Protocol):
    async def reload(self, settings: Settings) -> object: ...


async def _use_settings(context: Context, settings: Settings) -> None:
    """Adopt settings with a source added or removed, here and in the scheduler when one is attached."""
    services_of(context).settings = settings
    scheduler = cast(_Reloadable | None, context.bot_data.get(SCHEDULER))
    if scheduler is not None:
        await scheduler.reload(settings)


def _without_source(settings: Settings, name: str) -> Settings:
    return settings.model_copy(update={"sources": tuple(s for s in settings.sources if s.name != name)})


def collect_stats(store: Store, settings: Settings) -> render.Stats:
    states = store.source_states()
    failing = sum(1 for source in settings.sources if (state := states.get(source.name)) and state.consecutive_errors)
    return render.Stats(
        items=store.count_items(),
        stories=store.count_stories(),
        subscribers=len(store.subscribers()),
        sources=len(settings.sources),
        failing=failing,
    )


def people_timeline(pipeline: Pipeline, name: str, lang: str, pool: int = WHO_POOL) -> list[render.MoveEvent]:
    """Moves that mention `name` (as the person or either organisation) in the stories search finds, newest first."""
    wanted = name.casefold().strip()
    events: list[render.MoveEvent] = []
    for hit in search_stories(pipeline, name, pool):
        for move in hit.story.moves:
            fields = (move.get("person", ""), move.get("from_org", ""), move.get("to_org", ""))
            if any(wanted in value.casefold() for value in fields if value):
                item = hit.items.get(lang) or next(iter(hit.items.values()), None)
                url = item.url if item else (hit.links[0][1] if hit.links else "")
                title = hit.story.title_in(lang) or (item.title if item else "")
                events.append(render.MoveEvent(hit.story.last_published, move, title, url))
    return sorted(events, key=lambda event: event.when, reverse=True)


def add_follow(pipeline: Pipeline, chat_id: int, words: str) -> Follow:
    vector = pipeline.embedder.encode([words])[0]
    return pipeline.store.add_follow(chat_id, words, vector, pipeline.embedder.name)


def list_follows(pipeline: Pipeline, chat_id: int) -> list[Follow]:
    embedder = pipeline.embedder
    return [follow for follow, _ in pipeline.store.follows(chat_id, embedder.name, embedder.dim)]
