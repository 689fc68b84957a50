"""Running a scheduler `Service`: alone until a signal (`bot run --no-telegram`), or inside the
Telegram application's lifecycle (`bot run`). SIGHUP re-reads the config in both.

Nothing here imports `telegram`: `attach` only sets the hooks a python-telegram-bot `Application`
calls, so the scheduler can run, and be tested, without it.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from bot.service.scheduler import Service

SCHEDULER = "scheduler"  # the `bot_data` key under which `attach` publishes the service


def watch_reload_signal(service: Service) -> None:
    """SIGHUP re-reads the config (where the platform has SIGHUP)."""
    if hasattr(signal, "SIGHUP"):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, service.request_reload)


async def run_headless(service: Service, stop: asyncio.Event | None = None) -> None:
    """Run the scheduler alone (no Telegram) until SIGINT/SIGTERM or `stop` is set."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    await service.start()
    watch_reload_signal(service)
    try:
        await stop.wait()
    finally:
        await service.shutdown()


def attach(application: Any, service: Service) -> None:
    """Run `service` inside a python-telegram-bot `Application`: started after its `post_init`,
    stopped in `post_stop` (before the bot shuts down, so a digest being sent can finish), or in
    `post_shutdown` when the application never got as far as running.

    Hooks already set by the application's builder keep running; the service is published in
    `bot_data[SCHEDULER]` so handlers can reload it after adding a source.
    """
    previous_init, previous_stop, previous_shutdown = (
        application.post_init,
        application.post_stop,
        application.post_shutdown,
    )

    async def post_init(app: Any) -> None:
        if previous_init is not None:
            await previous_init(app)
        await service.start()
        watch_reload_signal(service)

    async def post_stop(app: Any) -> None:
        await service.shutdown()
        if previous_stop is not None:
            await previous_stop(app)

    async def post_shutdown(app: Any) -> None:
        await service.shutdown()
        if previous_shutdown is not None:
            await previous_shutdown(app)

    application.post_init, application.post_stop, application.post_shutdown = post_init, post_stop, post_shutdown
    application.bot_data[SCHEDULER] = service
