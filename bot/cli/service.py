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
from bot.service.runner import attach, run_headless
from bot.service.scheduler import Service
from bot.telegram.app import build_application, run_polling, send_alerts
from bot.telegram.services import scheduled_delivery, services_of


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
    app.pipeline  # noqa: B018 — open the store, model and index before serving anyone
    try:
        if args.no_telegram:
            asyncio.run(run_headless(Service(app)))
            return 0
        application = build_application(app, token)
        service = Service(
            app,
            scheduled_delivery(application, app, lambda: services_of(application).llm),
            send_alerts=lambda now: send_alerts(application, app, now),
        )
        attach(application, service)
        run_polling(application)
    finally:
        app.close()
    return 0
