"""A small OpenAI-compatible `/chat/completions` server on 127.0.0.1 for tests.

The answer path is tested against real HTTP, not a mocked client: each test queues the
replies it wants (a good completion, a malformed body, an HTTP error, a reply that comes too
late) and reads back what the client sent (headers, model, messages). A delayed reply waits
on an event that `stop()` sets, so a test that times out never leaves a sleeping thread behind.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from localserver import LocalServer


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; header names are lower-case."""

    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or the raw text when it was not JSON

    @property
    def prompt(self) -> str:
        """All message contents, joined: what the model was shown."""
        return "\n".join(message["content"] for message in self.body["messages"])


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before answering (cut short by stop())
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


def completion(content: str, finish_reason: str = "stop", model: str = "test-model") -> Reply:
    """A well-formed chat-completions reply whose first choice says `content`."""
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return Reply(body=json.dumps(body).encode())


class LlmServer(LocalServer):
    """Queued replies + a request log around a `ThreadingHTTPServer` bound to 127.0.0.1:0."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Request] = []
        super().__init__(_make_handler(self))

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def next_reply(self) -> Reply:
        if self.replies:
            return self.replies.popleft()
        return Reply(status=500, body=b'{"error": {"message": "no reply queued"}}')


def _make_handler(server: LlmServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
            try:
                body: Any = json.loads(raw)
            except json.JSONDecodeError:
                body = raw
            headers = {name.lower(): value for name, value in self.headers.items()}
            server.requests.append(Request(self.path, headers, body))
            reply = server.next_reply() if self.path.endswith("/chat/completions") else Reply(status=404)
            if reply.delay and server.stopping.wait(reply.delay):
                return
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to do

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
