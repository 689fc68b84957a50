"""Running the site with uvicorn on the caller's event loop: alone (`bot web`) or beside the bot (`bot run`).

uvicorn's `Server.serve()` runs as a task; its own signal capture is switched off, so the process's
signal handling stays with whoever owns the loop (python-telegram-bot in `bot run`, `serve_forever`
here in `bot web`), and stopping is asking the server to exit and awaiting the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator

import uvicorn

from bot.app import App
from bot.core.config import WebConfig
from bot.core.errors import BotError
from bot.web.site import create_site


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signals to the loop's owner (the default would take SIGINT/SIGTERM for itself)."""
        yield


class WebServer:
    """The site over `app`, listening on `web.host:web.port` (port 0: any free port, see `port`)."""

    def __init__(self, app: App, web: WebConfig) -> None:
        config = uvicorn.Config(
            create_site(app),
            host=web.host,
            port=web.port,
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
        )
        self.web = web
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port actually listened on."""
        sockets = self._server.servers[0].sockets if self._server.servers else []
        return int(sockets[0].getsockname()[1]) if sockets else self.web.port

    async def start(self) -> None:
        """Listen; raises `BotError` when the address cannot be bound."""
        self._task = asyncio.create_task(self._serve())
        while not self._server.started:
            if self._task.done():
                await self._task
                raise BotError(f"the web server did not start on {self.web.host}:{self.web.port}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Finish the requests under way and close; safe to call when never started or already stopped."""
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind
            raise BotError(f"cannot listen on {self.web.host}:{self.web.port} (in use, or not allowed)") from None


@contextlib.asynccontextmanager
async def serving(app: App, web: WebConfig | None) -> AsyncIterator[WebServer | None]:
    """The site running for the duration of the block; nothing when `web` is None (not configured)."""
    if web is None:
        yield None
        return
    server = WebServer(app, web)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def serve_forever(app: App, web: WebConfig) -> None:
    """`bot web`: serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    async with serving(app, web):
        await stop.wait()
