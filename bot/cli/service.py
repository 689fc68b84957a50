"""The `run` command: the long-running service, with Telegram or without.

The only command module that imports python-telegram-bot (through `bot.telegram.app`); `bot.cli`
imports it only when `run` is chosen.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from bot.core.config import Settings, load_settings, resolve_config_path, resolve_paths
from bot.core.errors import UsageError
from bot.ingest.overlay import overlay_path, with_overlay
from bot.ingest.pipeline import open_pipeline
from bot.service.runner import attach, run_headless
from bot.service.scheduler import Service
from bot.storage.writer import exclusive_writer
from bot.telegram.app import build_application, pipeline_lock, run_polling, send_alerts
from bot.telegram.services import scheduled_delivery, services_of


def cmd_run(args: argparse.Namespace) -> int:
    """Fetch on schedule, send digests and answer Telegram until SIGINT/SIGTERM; SIGHUP reloads the config."""
    config_path, paths = resolve_config_path(args.config), resolve_paths(args.data_dir)

    def load() -> Settings:
        return with_overlay(load_settings(config_path), paths)

    settings = load()
    token = os.environ.get(settings.telegram.token_env, "").strip()
    if not (token or args.no_telegram):
        raise UsageError(
            f"no Telegram bot token: set the environment variable {settings.telegram.token_env}"
            " (or use `bot run --no-telegram` to fetch only)"
        )
    if not args.verbose:
        logging.getLogger("bot").setLevel(logging.INFO)  # a long-running service says what it does
    with exclusive_writer(paths.data_dir):  # one writer per data dir: a `bot fetch` beside us is told so
        pipeline, _ = open_pipeline(settings, paths)
        watch = [config_path, overlay_path(paths)]
        try:
            if args.no_telegram:
                asyncio.run(run_headless(Service(settings, pipeline, load=load, watch=watch)))
                return 0
            application = build_application(settings, pipeline, token, base_url=settings.telegram.base_url)
            service = Service(
                settings,
                pipeline,
                scheduled_delivery(
                    application, pipeline, lambda: service.settings, lambda: services_of(application).llm
                ),
                send_alerts=lambda now: send_alerts(application, pipeline, service.settings, now),
                load=load,
                watch=watch,
                lock=lambda: pipeline_lock(pipeline),
            )
            attach(application, service)
            run_polling(application)
        finally:
            pipeline.close()
    return 0
