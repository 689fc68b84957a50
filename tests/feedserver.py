"""A real HTTP server on 127.0.0.1 that tests program route by route.

Feeds are fetched over real sockets, so the code under test meets real HTTP: conditional
requests and 304, scripted 503 + Retry-After, slow drips, redirect loops, gzip bombs, resets
mid-body. Every request is recorded (path, query, headers) so tests can assert what was sent.
Dripping and resetting handlers are bounded in time, so the server always shuts down quickly.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from localserver import LocalServer

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_FEEDS = SHARED / "fixtures" / "feeds"
OWN_FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; header names are lower-case."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    """What to send. `drip` sends the body one byte per `drip` seconds; `reset_after` sends that
    many body bytes and then aborts the connection with a TCP reset."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0
    reset_after: int | None = None


Handler = Callable[[Request], Reply]


class FeedServer(LocalServer):
    """Route table + request log around a `ThreadingHTTPServer` bound to 127.0.0.1:0."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        super().__init__(_make_handler(self))

    def reset(self) -> None:
        """Forget routes and recorded requests (one server serves a whole test session)."""
        self.routes.clear()
        self.requests.clear()

    @property
    def base(self) -> str:
        return self.origin

    def url(self, path: str) -> str:
        return self.base + path

    def requests_to(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    # Programming routes -------------------------------------------------------------------

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def serve(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/xml",
        etag: str | None = None,
        last_modified: str | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve fixed bytes; with `etag`/`last_modified`, answer matching requests with 304."""
        validators = {"ETag": etag, "Last-Modified": last_modified}
        sent = {"Content-Type": content_type, **{k: v for k, v in validators.items() if v}, **(headers or {})}

        def handler(request: Request) -> Reply:
            if _not_modified(request, etag, last_modified):
                return Reply(status=304, headers={k: v for k, v in validators.items() if v})
            return Reply(status=status, body=body, headers=sent)

        return self.route(path, handler)

    def serve_file(
        self,
        path: str,
        file: Path,
        content_type: str = "application/xml",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> str:
        return self.serve(path, file.read_bytes(), content_type, etag=etag, last_modified=last_modified)

    def script(self, path: str, replies: list[Reply]) -> str:
        """Answer the n-th request with the n-th reply; the last reply repeats."""
        queue = list(replies)
        lock = threading.Lock()

        def handler(request: Request) -> Reply:
            with lock:
                return queue.pop(0) if len(queue) > 1 else queue[0]

        return self.route(path, handler)

    def redirect(self, path: str, location: str, status: int = 301) -> str:
        return self.route(path, lambda request: Reply(status=status, headers={"Location": location}))


def gzip_bomb(decoded_size: int) -> bytes:
    """A small gzip body that decodes to `decoded_size` zero bytes."""
    return gzip.compress(b"\0" * decoded_size, compresslevel=9)


def _not_modified(request: Request, etag: str | None, last_modified: str | None) -> bool:
    if etag and request.headers.get("if-none-match") == etag:
        return True
    return bool(last_modified and request.headers.get("if-modified-since") == last_modified)


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            request = Request(
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={name.lower(): value for name, value in self.headers.items()},
            )
            server.requests.append(request)
            handler = server.routes.get(parts.path)
            reply = handler(request) if handler else Reply(status=404, body=b"no such route")
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                if reply.reset_after is not None:
                    self.wfile.write(reply.body[: reply.reset_after])
                    self._reset()
                elif reply.drip:
                    self._drip(reply.body, reply.drip)
                else:
                    self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

        def _drip(self, body: bytes, interval: float) -> None:
            for index in range(len(body)):
                if server.stopping.is_set():
                    return
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                time.sleep(interval)

        def _reset(self) -> None:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests assert on `server.requests` instead."""

    return _Handler
