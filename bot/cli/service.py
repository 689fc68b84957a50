"""The `run` command: the long-running service, with Telegram or without.

The only command module that imports python-telegram-bot (through `bot.telegram.app`); `bot.cli`
imports it only when `run` is chosen.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from bot.app import App
from bot.core.errors import UsageError
from bot.service.runner import attach, beside_the_bot, run_headless, stop_on_signals
from bot.service.scheduler import Service
from bot.storage.writer import exclusive_writer
from bot.telegram.app import build_application, run_polling, send_alerts
from bot.telegram.services import scheduled_delivery, services_of
from bot.web.server import WebServer, serving


def cmd_run(args: argparse.Namespace) -> int:
    """Fetch on schedule, send digests and answer Telegram until SIGINT/SIGTERM; SIGHUP reloads the config."""
    app = App.from_cli(args.config, args.data_dir)
    settings = app.settings
    token = os.environ.get(settings.telegram.token_env, "").strip()
    if not (token or args.no_telegram):
        raise UsageError(
            f"no Telegram bot token: set the environment variable {settings.telegram.token_env}"
            " (or use `bot run --no-telegram` to fetch only)"
        )
    if not args.verbose:
        logging.getLogger("bot").setLevel(logging.INFO)  # a long-running service says what it does
    with exclusive_writer(app.paths.data_dir):  # one writer per data dir: a `bot fetch` beside us is told so
        app.pipeline  # noqa: B018 — open the store, model and index before serving anyone
        try:
            if args.no_telegram:
                asyncio.run(_headless(app))
                return 0
            application = build_application(app, token)
            service = Service(
                app,
                scheduled_delivery(application, app, lambda: services_of(application).llm),
                send_alerts=lambda now: send_alerts(application, app, now),
            )
            start_early = attach(application, service)
            if app.settings.web is not None:
                server = WebServer(app, app.settings.web)
                beside_the_bot(application, server.start, server.stop)  # the site on the bot's loop
            run_polling(application, start_early)
        finally:
            app.close()
    return 0


async def _headless(app: App) -> None:
    """The scheduler, and the web site when `web:` is configured, on one loop until a signal."""
    stop = stop_on_signals()  # before the site answers anyone: a SIGTERM from then on is a clean stop
    async with serving(app, app.settings.web):
        await run_headless(Service(app), stop)
