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
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.core.config import Settings
from bot.core.errors import BotError
from bot.core.models import Follow, Subscriber
from bot.core.words import LANGS, theme_heading, word
from bot.deliver.digest import story_summaries
from bot.ingest.overlay import OverlayError, admit_source, load_overlay, remove_source
from bot.ingest.pipeline import Pipeline
from bot.query.answer import answer_question, asker_language
from bot.query.interest import MAX_MUTE_CHARS, mute_key
from bot.query.search import Filters, people_timeline, search_stories
from bot.render import telegram as render
from bot.storage import Store
from bot.telegram.services import (
    MORE_PREFIX,
    NO_PREVIEW,
    Context,
    Services,
    send_digest,
    send_trends,
    services_of,
    utc_now,
)

log = logging.getLogger(__name__)

ASK_STORIES = 5
MORE_LOOKBACK = timedelta(days=7)  # `/digest more` typed without a digest before it in this run: the last week

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


# -- small helpers for handlers ----------------------------------------------------------------


async def _reply(update: Update, messages: str | list[str], markup: InlineKeyboardMarkup | None = None) -> None:
    """Send the reply (or its messages); `markup` goes under the last one."""
    message = update.effective_message
    if message is None:
        return
    texts = [messages] if isinstance(messages, str) else messages
    for index, text in enumerate(texts):
        keyboard = markup if index == len(texts) - 1 else None
        await message.reply_text(
            text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW, reply_markup=keyboard
        )


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
    """Greet in the chat's language (the Telegram client's, until /settings lang changes it) and remember the chat."""
    services, lang = services_of(context), await _lang(update, context)
    await services.run(edit_subscriber, services.pipeline.store, *_ids(update), lang)
    await _reply(update, render.help_text(lang))


async def help_command(update: Update, context: Context) -> None:
    """List the commands in the chat's language."""
    await _reply(update, render.help_text(await _lang(update, context)))


async def subscribe(update: Update, context: Context) -> None:
    """Turn the daily digest on, for the named themes (all when none are named)."""
    services, lang = services_of(context), await _lang(update, context)
    chosen, unknown = render.parse_themes(context.args or [], list(services.settings.themes))
    if unknown:
        themes = render.theme_names(list(services.settings.themes), lang) or "-"
        await _reply(update, render.t("unknown_themes", lang, names=", ".join(unknown), themes=themes))
        return
    subscriber = await services.run(
        edit_subscriber, services.pipeline.store, *_ids(update), lang, subscribed=True, active=True, themes=chosen
    )
    themes = render.theme_names(subscriber.themes, lang)
    tz, time = subscriber.timezone, subscriber.digest_time
    await _reply(update, render.t("subscribed", lang, themes=themes, time=time, tz=tz))


async def unsubscribe(update: Update, context: Context) -> None:
    """Stop everything the bot pushes: the digest and breaking alerts (other settings are kept)."""
    services, lang = services_of(context), await _lang(update, context)
    await services.run(edit_subscriber, services.pipeline.store, *_ids(update), lang, subscribed=False, alerts=False)
    await _reply(update, render.t("unsubscribed", lang))


async def themes(update: Update, context: Context) -> None:
    """List the configured themes, marking the chat's."""
    services, lang = services_of(context), await _lang(update, context)
    subscriber = await services.run(services.pipeline.store.subscriber, _ids(update)[0])
    chosen = subscriber.themes if subscriber else ()
    themes = services.settings.themes
    await _reply(update, render.render_themes(themes, chosen, lang), _themes_keyboard(list(themes), chosen, lang))


async def settings_command(update: Update, context: Context) -> None:
    """Show the chat's settings, or change time, tz or lang."""
    services, lang = services_of(context), await _lang(update, context)
    store = services.pipeline.store
    if not context.args:
        subscriber = await services.run(edit_subscriber, store, *_ids(update), lang)
        await _reply(update, render.render_settings(subscriber, lang), _settings_keyboard(subscriber))
        return
    try:
        changes, done_key, value = render.parse_setting(context.args)
    except render.SettingError as problem:
        await _reply(update, render.t(problem.key, lang, value=problem.value))
        return
    subscriber = await services.run(edit_subscriber, store, *_ids(update), lang, **changes)
    if context.chat_data is not None:
        context.chat_data["lang"] = subscriber.lang
    await _reply(update, render.t(done_key, subscriber.lang, value=render.setting_value(subscriber, done_key, value)))


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
    """Send what is new since the chat's last digest (or the last 24 hours) right now; `/digest more`
    sends the next page of the last digest's window (what it did not show)."""
    services, lang = services_of(context), await _lang(update, context)
    chat_data = context.chat_data if context.chat_data is not None else {}
    more = (context.args or [""])[0].lower() in ("more", "更多")
    since = (chat_data.get("digest_since") or services.now() - MORE_LOOKBACK) if more else None
    await _send_digest_page(update, context, lang, since, more)


async def digest_more(update: Update, context: Context) -> None:
    """The "more" button under a capped digest: the next page of that digest's window; the button goes away."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    since = datetime.fromtimestamp(int((query.data or "").removeprefix(MORE_PREFIX)), UTC)
    await query.edit_message_reply_markup(None)
    await _send_digest_page(update, context, await _lang(update, context), since, True)


async def _send_digest_page(update: Update, context: Context, lang: str, since: datetime | None, more: bool) -> None:
    services = services_of(context)
    subscriber = await services.run(edit_subscriber, services.pipeline.store, *_ids(update), lang)
    window = since or subscriber.last_digest_at
    sent = await send_digest(
        context.application, services.app, subscriber, services.now(), since=since, llm=services.llm, more=more
    )
    if context.chat_data is not None and window is not None:
        context.chat_data["digest_since"] = window
    if not sent:
        await _reply(update, render.t("nothing_more" if more else "nothing_new", lang))


async def ask(update: Update, context: Context) -> None:
    """Answer a question (after /ask, or any plain text in a private chat) from the stored stories."""
    services = services_of(context)
    text = (update.effective_message.text if update.effective_message else "") or ""
    question = _argument_text(update) if text.startswith("/") else text
    if not question.strip():
        await _reply(update, render.t("ask_usage", await _lang(update, context)))
        return
    # The answer's words follow the chat; a question in Chinese is answered in Chinese whatever the chat's setting.
    lang = "zh" if asker_language(question) == "zh" else await _lang(update, context)
    filters_ = Filters(now=services.now())
    hits = await services.run(search_stories, services.pipeline, question, ASK_STORIES, filters_)
    # Summaries read the store, so they are made under the app's lock, before the answer; an LLM answer is
    # written without the lock (it may take seconds) and needs no summaries: its text is the answer.
    stories, llm = [hit.story for hit in hits], services.llm
    summaries = {} if llm else await services.run(story_summaries, services.pipeline, stories, lang, None)
    answer = await asyncio.to_thread(
        answer_question, question, hits, services.settings, llm, lambda *_: summaries, lang=lang
    )
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


async def mute(update: Update, context: Context) -> None:
    """Mute words or quoted phrases (`/mute crypto "stable diffusion"`) or a source (`/mute source NAME`):
    their stories reach the chat in no digest, page or alert. Alone, list the chat's mutes."""
    services, lang = services_of(context), await _lang(update, context)
    store, text = services.pipeline.store, _argument_text(update)
    subscriber = await services.run(edit_subscriber, store, *_ids(update), lang)
    named = render.source_argument(text)
    if not text:
        await _reply(update, render.render_mutes(subscriber, services.settings.sources, lang))
    elif named is not None:
        source = render.find_source(services.settings.sources, named)
        if source is None:
            await _reply(update, render.t("mute_unknown_source", lang, name=named))
            return
        muted = tuple(dict.fromkeys((*subscriber.muted_sources, source.name)))
        await services.run(edit_subscriber, store, *_ids(update), lang, muted_sources=muted)
        await _reply(update, render.t("muted_source", lang, name=source.title or source.name))
    else:
        words = render.parse_mutes(text)
        try:
            mutes = render.with_mutes(subscriber.mutes, words)
        except render.SettingError as problem:
            await _reply(update, render.t(problem.key, lang, value=problem.value, n=MAX_MUTE_CHARS))
            return
        await services.run(edit_subscriber, store, *_ids(update), lang, mutes=mutes)
        await _reply(update, render.t("muted", lang, words=", ".join(words)))


async def unmute(update: Update, context: Context) -> None:
    """Remove one mute: `/unmute WORD` (or a quoted phrase) or `/unmute source NAME`."""
    services, lang = services_of(context), await _lang(update, context)
    store, text = services.pipeline.store, _argument_text(update)
    subscriber = await services.run(edit_subscriber, store, *_ids(update), lang)
    named, words = render.source_argument(text), render.parse_mutes(text)
    if named is not None:
        source = render.find_source(services.settings.sources, named)
        name = source.name if source else named  # a source gone from the config is still removable by its name
        await _unmute_one(update, services, lang, "muted_sources", subscriber.muted_sources, name, named)
        return
    key = words[0] if len(words) == 1 else mute_key(text)  # `/unmute stable diffusion` without quotes too
    if not key:
        await _reply(update, render.t("unmute_usage", lang))
    else:
        await _unmute_one(update, services, lang, "mutes", subscriber.mutes, key, key)


async def _unmute_one(
    update: Update, services: Services, lang: str, field: str, muted: tuple[str, ...], key: str, shown: str
) -> None:
    """Take `key` out of the subscriber's `field` (mutes or muted_sources) and say so, or say it was not muted."""
    if key not in muted:
        await _reply(update, render.t("unmute_unknown", lang, value=shown))
        return
    left = tuple(other for other in muted if other != key)
    await services.run(edit_subscriber, services.pipeline.store, *_ids(update), lang, **{field: left})
    await _reply(update, render.t("unmuted", lang, value=shown))


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


# -- buttons: themes, digest time, language and frequency without typing ---------------------------

PICK_PREFIX = (
    "pick:"  # callback data: pick:theme:<slug> | pick:lang:<en|zh> | pick:time:<HH:MM> | pick:freq:<daily|weekly>
    # | pick:previews:<on|off>
)
TIME_CHOICES = ("07:00", "08:30", "12:00", "18:00", "21:00")


def _themes_keyboard(themes: list[str], chosen: tuple[str, ...], lang: str) -> InlineKeyboardMarkup:
    """One toggle per theme, two to a row, marked ✓ when the digest carries it (none chosen = all)."""
    buttons = [
        InlineKeyboardButton(
            f"{'✓ ' if not chosen or theme in chosen else ''}{theme_heading(theme, lang)}",
            callback_data=f"{PICK_PREFIX}theme:{theme}",
        )
        for theme in themes
    ]
    return InlineKeyboardMarkup([buttons[start : start + 2] for start in range(0, len(buttons), 2)])


def _settings_keyboard(subscriber: Subscriber) -> InlineKeyboardMarkup:
    """Language, digest time, frequency and the top story's preview (a toggle) as buttons; the current choice
    is marked ✓."""

    def button(label: str, kind: str, value: str, current: bool) -> InlineKeyboardButton:
        return InlineKeyboardButton(f"✓ {label}" if current else label, callback_data=f"{PICK_PREFIX}{kind}:{value}")

    lang = subscriber.lang
    return InlineKeyboardMarkup(
        [
            [button(word(f"language_{code}", lang), "lang", code, code == lang) for code in LANGS],
            [button(clock, "time", clock, clock == subscriber.digest_time) for clock in TIME_CHOICES],
            [
                button(word("daily", lang), "freq", "daily", subscriber.frequency == "daily"),
                button(word("weekly_short", lang), "freq", "weekly", subscriber.frequency == "weekly"),
            ],
            [
                button(
                    word("previews_button", lang),
                    "previews",
                    "off" if subscriber.previews else "on",
                    subscriber.previews,
                )
            ],
        ]
    )


def toggled_themes(chosen: tuple[str, ...], theme: str, known: list[str]) -> tuple[str, ...]:
    """The chat's themes after a tap on `theme` (none chosen means all: a tap then leaves that one out)."""
    current = [name for name in known if name in chosen] if chosen else list(known)
    after = [name for name in current if name != theme] if theme in current else [*current, theme]
    ordered = tuple(name for name in known if name in after)
    return () if not ordered or len(ordered) == len(known) else ordered


async def pick(update: Update, context: Context) -> None:
    """A button under /themes or /settings: apply the choice and redraw that message with the new state."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    services, lang = services_of(context), await _lang(update, context)
    kind, _, value = (query.data or "").removeprefix(PICK_PREFIX).partition(":")
    store, known = services.pipeline.store, list(services.settings.themes)
    current = await services.run(edit_subscriber, store, *_ids(update), lang)
    if kind == "theme" and value in known:
        themes = toggled_themes(current.themes, value, known)
        subscriber = await services.run(
            edit_subscriber, store, *_ids(update), lang, themes=themes, subscribed=True, active=True
        )
        text = render.render_themes(services.settings.themes, subscriber.themes, subscriber.lang)
        await query.edit_message_text(text, reply_markup=_themes_keyboard(known, subscriber.themes, subscriber.lang))
        return
    choices: dict[str, dict[str, Any]] = {
        "lang": {"lang": value},
        "time": {"digest_time": value},
        "freq": {"frequency": value},
        "previews": {"previews": value == "on"},
    }
    changes = choices.get(kind)
    if (
        changes is None
        or (kind == "lang" and value not in LANGS)
        or (kind == "freq" and value not in ("daily", "weekly"))
        or (kind == "previews" and value not in ("on", "off"))
    ):
        return  # a button of an older version of the bot: nothing to apply
    if kind == "time" and value not in TIME_CHOICES:
        return
    subscriber = await services.run(edit_subscriber, store, *_ids(update), lang, **changes)
    if context.chat_data is not None:
        context.chat_data["lang"] = subscriber.lang
    await query.edit_message_text(
        render.render_settings(subscriber, subscriber.lang), reply_markup=_settings_keyboard(subscriber)
    )


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
    "mute": mute,
    "unmute": unmute,
}
BUTTON_HANDLERS: list[BaseHandler[Update, Any, Any]] = [
    CallbackQueryHandler(digest_more, pattern=f"^{MORE_PREFIX}\\d+$"),
    CallbackQueryHandler(pick, pattern=f"^{PICK_PREFIX}"),
]


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
