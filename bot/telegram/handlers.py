"""The bot's command handlers: each parses its arguments, makes one call into the pipeline's modules
(store, search, answer, digest, overlay) in a worker thread, and renders the reply with
`telegram_render` (every dynamic string escaped, HTML parse mode, no link previews).

`telegram_app.build_application` registers `HANDLERS`, `unknown_command`, `ask` (for plain text in
private chats) and `on_error`. Updates are processed one at a time (PTB's default), so a slow
question delays the next command but never blocks the loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import Forbidden

from bot.core.config import Settings
from bot.core.errors import BotError
from bot.core.models import Follow, Subscriber
from bot.core.words import word
from bot.ingest.overlay import OverlayError, admit_source, load_overlay, remove_source
from bot.ingest.pipeline import Pipeline
from bot.query.answer import answer_question
from bot.query.search import Filters, people_timeline, search_stories
from bot.render import telegram as render
from bot.storage import Store
from bot.telegram.services import NO_PREVIEW, Context, send_digest, send_trends, services_of, utc_now

log = logging.getLogger(__name__)

ASK_STORIES = 5

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


# -- small helpers for handlers ----------------------------------------------------------------


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


async def alerts(update: Update, context: Context) -> None:
    """Turn breaking alerts on or off; without an argument, say how to and what it is now."""
    services, lang = services_of(context), await _lang(update, context)
    store = services.pipeline.store
    choice = (context.args or [""])[0].lower()
    if choice not in ("on", "off"):
        subscriber = await services.run(edit_subscriber, store, *_ids(update), lang)
        state = word("alerts_on" if subscriber.alerts else "alerts_off", lang)
        await _reply(update, render.t("alerts_usage", lang, state=state))
        return
    subscriber = await services.run(edit_subscriber, store, *_ids(update), lang, alerts=choice == "on")
    state = word("alerts_on" if subscriber.alerts else "alerts_off", subscriber.lang)
    await _reply(update, render.t("alerts_set", subscriber.lang, state=state))


async def trends(update: Update, context: Context) -> None:
    """Send the trend picture of the chat's themes now, with its figures in the caption."""
    services, lang = services_of(context), await _lang(update, context)
    subscriber = await services.run(edit_subscriber, services.pipeline.store, *_ids(update), lang)
    await send_trends(context.application, services.app, subscriber, services.now())


async def digest(update: Update, context: Context) -> None:
    """Send what is new since the chat's last digest (or the last 24 hours) right now."""
    services, lang = services_of(context), await _lang(update, context)
    subscriber = await services.run(edit_subscriber, services.pipeline.store, *_ids(update), lang)
    sent = await send_digest(context.application, services.app, subscriber, services.now(), llm=services.llm)
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
    await _reply(update, render.render_answer(answer, hits, services.settings.web))


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
    await _reload_settings(context)
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
        await _reload_settings(context)
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
    "alerts": alerts,
    "trends": trends,
    "ask": ask,
    "sources": sources,
    "addsource": addsource,
    "removesource": removesource,
    "stats": stats,
    "who": who,
    "follow": follow,
    "unfollow": unfollow,
}


# -- what the admin and people commands call ---------------------------------------------------


async def _reload_settings(context: Context) -> None:
    """After the overlay changed: the app reads config + overlay again, and the scheduler re-plans its jobs."""
    try:
        await services_of(context).app.reload()
    except BotError as exc:  # the config file became invalid meanwhile: the overlay change waits for a fix
        log.error("source list not reloaded, keeping the running one:\n%s", exc)


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


def add_follow(pipeline: Pipeline, chat_id: int, words: str) -> Follow:
    vector = pipeline.embedder.encode([words])[0]
    return pipeline.store.add_follow(chat_id, words, vector, pipeline.embedder.name)


def list_follows(pipeline: Pipeline, chat_id: int) -> list[Follow]:
    embedder = pipeline.embedder
    return [follow for follow, _ in pipeline.store.follows(chat_id, embedder.name, embedder.dim)]
