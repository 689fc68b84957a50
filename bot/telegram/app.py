"""The Telegram bot: one builder that registers every handler, and the ways to run it.

The command handlers live in `handlers` (thin: parse, one call, render with `bot.render.telegram`);
what they share with this builder and the scheduler (`Services`, `send_digest`) lives in `services`;
settings, store and lock belong to the process's one `bot.app.App`. `run_polling` runs the bot on its
own loop; `serving` runs it inside an existing one, beside the scheduler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken
from telegram.ext import AIORateLimiter, ApplicationBuilder, CommandHandler, Defaults, MessageHandler, filters

from bot.app import App as BotApp
from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.query.llm import make_llm
from bot.telegram.handlers import HANDLERS, ask, on_error, unknown_command
from bot.telegram.services import NO_PREVIEW, SERVICES, App, Services, services_of, utc_now
from bot.telegram.services import send_alerts as send_alerts  # re-exported for `bot run` and the tests
from bot.telegram.services import send_digest as send_digest

BOOTSTRAP_RETRIES = -1  # a service keeps retrying getMe/deleteWebhook through a Telegram or network outage
RATE_LIMIT_RETRIES = 3  # AIORateLimiter retries a 429 after its retry_after this many times
TOKEN_REJECTED = "Telegram rejected the bot token (check telegram.token_env)"
ALLOWED_UPDATES = [Update.MESSAGE]  # commands and questions; nothing else is handled
COMMANDS = [
    ("help", "what I can do · 帮助"),
    ("subscribe", "daily digest [themes] · 订阅"),
    ("digest", "what's new now · 立即摘要"),
    ("ask", "ask a question · 提问"),
    ("who", "people moves · 人事变动"),
    ("follow", "follow a topic · 关注话题"),
    ("alerts", "breaking alerts on/off · 突发提醒"),
    ("trends", "the weekly trend picture · 趋势图"),
    ("settings", "time, frequency, quiet hours, language · 设置"),
    ("themes", "themes · 主题"),
    ("sources", "sources · 来源"),
    ("unsubscribe", "stop the digest · 退订"),
]


def bot_token(settings: Settings) -> str:
    """The token from the environment variable named in config (never from a file, never logged)."""
    token = os.environ.get(settings.telegram.token_env, "").strip()
    if not token:
        raise ConfigError(f"set the bot token in ${settings.telegram.token_env} (telegram.token_env)")
    return token


# -- building and running ----------------------------------------------------------------------


def build_application(
    app: BotApp,
    token: str,
    *,
    base_url: str | None = None,
    now: Callable[[], datetime] = utc_now,
) -> App:
    """The bot: every handler registered, shared resources in `bot_data`, flood-control retries on."""
    _hide_token_in_logs(token)
    builder = ApplicationBuilder().token(token).rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
    builder = builder.defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW))
    url = base_url or app.settings.telegram.base_url
    if url:
        builder = builder.base_url(url).base_file_url(_file_url(url))
    application = builder.post_init(_post_init).post_shutdown(_post_shutdown).build()
    application.bot_data[SERVICES] = Services(app, now)
    for name, callback in HANDLERS.items():
        application.add_handler(CommandHandler(name, callback))
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, ask))
    application.add_error_handler(on_error)
    return application


def run_polling(application: App) -> None:
    """Run until interrupted (blocking); startup retries through outages instead of crashing."""
    try:
        application.run_polling(bootstrap_retries=BOOTSTRAP_RETRIES, allowed_updates=ALLOWED_UPDATES)
    except InvalidToken:
        raise ConfigError(TOKEN_REJECTED) from None


@asynccontextmanager
async def serving(application: App, *, poll_timeout: float = 10.0) -> AsyncIterator[App]:
    """Run the bot inside an existing event loop (beside the scheduler), in `run_polling`'s order."""
    try:
        await application.initialize()
    except InvalidToken:
        raise ConfigError(TOKEN_REJECTED) from None
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
    """Bot API URLs contain the token, and so do PTB's debug lines and its InvalidToken message.

    Installed on the handlers, not on loggers: a logger's filter sees only records logged on that
    very logger (not those of `telegram.ext.ExtBot` propagating through it), while every record
    written anywhere passes a handler. Messages, arguments, exception text and stacks are rewritten.
    """

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and isinstance(record.exc_info[1], InvalidToken):
            record.exc_info = None  # PTB's line says it; a traceback through its retry loop adds nothing
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        if record.stack_info:
            record.stack_info = record.stack_info.replace(self.token, "<token>")
        return True


def _hide_token_in_logs(token: str) -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _RedactToken) and f.token == token for f in handler.filters):
            handler.addFilter(_RedactToken(token))
