"""The `web` command: the read-only site and feeds over the stored stories, until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.app import App
from bot.core.config import WebConfig
from bot.web.server import serve_forever


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the pages and feeds of the app's store on `web.host:web.port` (the flags override them)."""
    app = App.from_cli(args.config, args.data_dir)
    configured = app.settings.web or WebConfig()
    web = configured.model_copy(update={"host": args.host or configured.host, "port": args.port or configured.port})
    if not args.verbose:
        logging.getLogger("bot").setLevel(logging.INFO)
    app.pipeline  # noqa: B018 — open the store, model and index before the first reader arrives
    print(f"Serving http://{web.host}:{web.port}/ (Ctrl-C stops)", file=sys.stderr)
    try:
        asyncio.run(serve_forever(app, web))
    finally:
        app.close()
    return 0
