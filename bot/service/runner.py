"""Running a scheduler `Service`: alone until a signal (`bot run --no-telegram`), or inside the
Telegram application's lifecycle (`bot run`). SIGHUP re-reads the config in both.

Nothing here imports `telegram`: `attach` only sets the hooks a python-telegram-bot `Application`
calls, so the scheduler can run, and be tested, without it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from bot.service.scheduler import Service

SCHEDULER = "scheduler"  # the `bot_data` key under which `attach` publishes the service


def watch_reload_signal(service: Service) -> None:
    """SIGHUP re-reads the config (where the platform has SIGHUP)."""
    if hasattr(signal, "SIGHUP"):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, service.request_reload)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT/SIGTERM on the running loop; install it before anything starts serving,
    so a signal that arrives during start-up ends the process cleanly instead of killing it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    return stop


async def run_headless(service: Service, stop: asyncio.Event | None = None) -> None:
    """Run the scheduler alone (no Telegram) until SIGINT/SIGTERM or `stop` is set."""
    stop = stop or stop_on_signals()
    await service.start()
    watch_reload_signal(service)
    try:
        await stop.wait()
    finally:
        await service.shutdown()


def beside_the_bot(
    application: Any, start: Callable[[], Awaitable[object]], stop: Callable[[], Awaitable[object]]
) -> None:
    """Run something on a python-telegram-bot `Application`'s loop: `start` after its `post_init`, `stop`
    in `post_stop` (before the bot shuts down, so work under way can finish) and again in
    `post_shutdown` for when the application never got as far as running (`stop` must allow that).
    Hooks already set keep running, the earlier ones around the later ones."""
    previous_init, previous_stop, previous_shutdown = (
        application.post_init,
        application.post_stop,
        application.post_shutdown,
    )

    async def post_init(app: Any) -> None:
        if previous_init is not None:
            await previous_init(app)
        await start()

    async def post_stop(app: Any) -> None:
        await stop()
        if previous_stop is not None:
            await previous_stop(app)

    async def post_shutdown(app: Any) -> None:
        await stop()
        if previous_shutdown is not None:
            await previous_shutdown(app)

    application.post_init, application.post_stop, application.post_shutdown = post_init, post_stop, post_shutdown


def attach(application: Any, service: Service) -> Callable[[], Awaitable[None]]:
    """Run `service` inside a python-telegram-bot `Application` (`beside_the_bot`).

    Returns `start_early`: run on the bot's loop before the bot's start-up, it starts fetching at once,
    so an unreachable Telegram (whose getMe the bot retries) delays only the digests and alerts, which
    `post_init` then adds. The service is published in `bot_data[SCHEDULER]` so handlers can reload it
    after adding a source.
    """

    async def start_early() -> None:
        await service.start(deliveries=False)
        watch_reload_signal(service)

    async def start() -> None:
        if service.started:
            service.start_deliveries()
        else:
            await service.start()
            watch_reload_signal(service)

    beside_the_bot(application, start, service.shutdown)
    application.bot_data[SCHEDULER] = service
    return start_early
