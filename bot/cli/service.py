"""The `run` command: the long-running service, with Telegram or without.

The only command module that imports python-telegram-bot (through `bot.telegram.app`); `bot.cli`
imports it only when `run` is chosen.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from bot.app import App
from bot.core.errors import UsageError
from bot.service.runner import attach, run_headless
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
            attach(application, service)
            if app.settings.web is not None:
                _beside_the_bot(application, WebServer(app, app.settings.web))
            run_polling(application)
        finally:
            app.close()
    return 0


async def _headless(app: App) -> None:
    """The scheduler, and the web site when `web:` is configured, on one loop until a signal."""
    async with serving(app, app.settings.web):
        await run_headless(Service(app))


def _beside_the_bot(application: Any, server: WebServer) -> None:
    """Serve the site on the bot's loop: started after the bot's `post_init`, stopped in `post_stop`
    (or `post_shutdown` when the bot never got to run)."""
    previous_init, previous_stop, previous_shutdown = (
        application.post_init,
        application.post_stop,
        application.post_shutdown,
    )

    async def post_init(bot: Any) -> None:
        await previous_init(bot)
        await server.start()

    async def post_stop(bot: Any) -> None:
        await server.stop()
        await previous_stop(bot)

    async def post_shutdown(bot: Any) -> None:
        await server.stop()
        await previous_shutdown(bot)

    application.post_init, application.post_stop, application.post_shutdown = post_init, post_stop, post_shutdown
