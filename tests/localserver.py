"""The lifecycle the test servers share: a `ThreadingHTTPServer` on 127.0.0.1:0 in a daemon thread.

Each stand-in (feeds, an OpenAI-compatible LLM, the Telegram Bot API) only adds its routes and
its record of requests; starting, the address and a bounded shutdown live here once.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LocalServer:
    """Starts on `start()`, stops on `stop()`; `stopping` tells slow handlers to give up early."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._wake_waiters()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _wake_waiters(self) -> None:
        """Subclasses whose handlers wait on a condition release them here."""
