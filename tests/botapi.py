"""A Telegram Bot API stand-in on 127.0.0.1 that real python-telegram-bot talks to over HTTP.

PTB is pointed at it with `base_url="http://127.0.0.1:PORT/bot"` and sends what it sends to
Telegram: form-encoded bodies with non-string values JSON-encoded (shared/notes/telegram.md).
Tests queue user messages (served by `getUpdates` with offsets and a bounded long poll), read what
the bot sent (`sent`, `wait_for_sent`), press inline buttons the bot sent (`press`: a `callback_query`
update, answered with `answerCallbackQuery`; `editMessageText` and `editMessageReplyMarkup` change the
recorded message), and script failures per chat: 429 with `retry_after`,
403 "bot was blocked by the user", a 5xx, or a reply slower than the client's timeout (the message
is recorded as delivered first, as Telegram would). `sendMessage` with HTML parse mode is checked
the way Telegram checks it (allowed tags only, `<` and `&` escaped, length after parsing), so an
unescaped headline fails here as it would in production.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from localserver import LocalServer

TOKEN = "123456:TEST-stand-in-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "NewsBot", "username": "news_test_bot"}
MAX_POLL_SECONDS = 1.0  # a long poll is honoured up to this bound, so shutdown stays quick
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
_BARE_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")
_LOOSE_LT = re.compile(r"<(?!/?[a-zA-Z][\w-]*(?:\s[^<>]*)?>)")


@dataclass(frozen=True)
class Fault:
    """A scripted answer to one sendMessage: `status` (429/403/5xx) or `delay` seconds before a 200.

    With a delay the message counts as delivered (it is recorded) before the reply is held back.
    """

    status: int = 200
    retry_after: int | None = None
    delay: float = 0.0
    description: str = ""


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


class BotApi(LocalServer):
    """The server, its update queue and its record of sent messages (thread-safe)."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self._cond = threading.Condition()
        super().__init__(_make_handler(self))
        self.reset()

    # -- lifecycle --------------------------------------------------------------------------

    def _wake_waiters(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def reset(self) -> None:
        """Forget updates, messages, calls and scripts (one server serves a whole module)."""
        with self._cond:
            self.updates: list[dict[str, Any]] = []
            self.calls: list[tuple[str, dict[str, Any]]] = []
            self.messages: list[dict[str, Any]] = []
            self.commands: list[dict[str, Any]] = []
            self.faults: dict[int, list[Fault]] = {}
            self.blocked: set[int] = set()
            self._next_update = getattr(self, "_next_update", 1)
            self._next_message = 1

    @property
    def base_url(self) -> str:
        return f"{self.origin}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.origin}/file/bot"

    # -- what tests call --------------------------------------------------------------------

    def queue_message(self, chat_id: int, user_id: int, text: str, *, language_code: str = "en") -> int:
        """A user's message for the next getUpdates; commands get their bot_command entity."""
        with self._cond:
            update_id = self._next_update
            self._next_update += 1
            message: dict[str, Any] = {
                "message_id": 10_000 + update_id,
                "date": int(time.time()),
                "chat": _chat(chat_id),
                "from": {"id": user_id, "is_bot": False, "first_name": "Tester", "language_code": language_code},
                "text": text,
            }
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
            self.updates.append({"update_id": update_id, "message": message})
            self._cond.notify_all()
            return update_id

    def press(self, chat_id: int, user_id: int, message_id: int, data: str, *, language_code: str = "en") -> int:
        """A user's tap on an inline button of a message the bot sent: a `callback_query` update."""
        with self._cond:
            (sent,) = [m for m in self.messages if m["chat_id"] == chat_id and m["message_id"] == message_id]
            buttons = [b for row in (sent.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            if data not in [button.get("callback_data") for button in buttons]:
                raise AssertionError(f"message {message_id} has no button with data {data!r}: {buttons}")
            update_id = self._next_update
            self._next_update += 1
            query = {
                "id": str(50_000 + update_id),
                "from": {"id": user_id, "is_bot": False, "first_name": "Tester", "language_code": language_code},
                "message": _message(message_id, chat_id, sent["text"]),
                "chat_instance": str(chat_id),
                "data": data,
            }
            self.updates.append({"update_id": update_id, "callback_query": query})
            self._cond.notify_all()
            return update_id

    def sent(self, chat_id: int) -> list[str]:
        with self._cond:
            return [m["text"] for m in self.messages if m["chat_id"] == chat_id]

    def sent_messages(self, chat_id: int) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(m) for m in self.messages if m["chat_id"] == chat_id]

    def wait_for_sent(self, chat_id: int, count: int, timeout: float = 10.0) -> list[str]:
        """The chat's texts once at least `count` were sent; AssertionError (showing them) on timeout."""
        return self.wait_until(chat_id, lambda texts: len(texts) >= count, timeout)

    def wait_until(self, chat_id: int, ready: Callable[[list[str]], bool], timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                texts = [m["text"] for m in self.messages if m["chat_id"] == chat_id]
                if ready(texts):
                    return texts
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for messages to chat {chat_id}; sent so far: {texts}")
                self._cond.wait(left)

    def calls_to(self, method: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [
                params
                for name, params in self.calls
                if name == method.lower() and (chat_id is None or params.get("chat_id") == chat_id)
            ]

    def script(self, chat_id: int, *faults: Fault) -> None:
        """The next sendMessage calls to `chat_id` get these answers, one each, then normal ones."""
        with self._cond:
            self.faults.setdefault(chat_id, []).extend(faults)

    def block(self, chat_id: int) -> None:
        """Every later sendMessage to `chat_id` fails with 403, as after a user blocks the bot."""
        with self._cond:
            self.blocked.add(chat_id)

    # -- methods ----------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any]) -> Any:
        with self._cond:
            self.calls.append((method, params))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return handler(params)

    def _m_getme(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    def _m_deletewebhook(self, params: dict[str, Any]) -> Any:
        return True

    def _m_setmycommands(self, params: dict[str, Any]) -> Any:
        with self._cond:
            self.commands = list(params.get("commands") or [])
        return True

    def _m_getupdates(self, params: dict[str, Any]) -> Any:
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        deadline = time.monotonic() + min(float(params.get("timeout", 0)), MAX_POLL_SECONDS)
        with self._cond:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # earlier ones are confirmed
            while not self.updates and not self.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self.updates[:limit]

    def _m_answercallbackquery(self, params: dict[str, Any]) -> Any:
        if not str(params.get("callback_query_id", "")):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return True

    def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        """Replace (or, without `reply_markup`, remove) the buttons of a message the bot sent."""
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        with self._cond:
            found = [m for m in self.messages if m["chat_id"] == chat_id and m["message_id"] == message_id]
            if not found:
                raise ApiError(400, "Bad Request: message to edit not found")
            found[0]["reply_markup"] = params.get("reply_markup")
            return _message(message_id, chat_id, found[0]["text"])

    def _m_editmessagetext(self, params: dict[str, Any]) -> Any:
        """Replace a sent message's text (checked like a new one) and its buttons, as Telegram does in place."""
        chat_id, message_id, text = int(params["chat_id"]), int(params["message_id"]), str(params.get("text", ""))
        check_text(text, params.get("parse_mode"))
        with self._cond:
            found = [m for m in self.messages if m["chat_id"] == chat_id and m["message_id"] == message_id]
            if not found:
                raise ApiError(400, "Bad Request: message to edit not found")
            if found[0]["text"] == text and found[0].get("reply_markup") == params.get("reply_markup"):
                raise ApiError(400, "Bad Request: message is not modified")
            found[0].update(text=text, reply_markup=params.get("reply_markup"), edited=True)
            self._cond.notify_all()
            return _message(message_id, chat_id, text)

    def _m_sendphoto(self, params: dict[str, Any]) -> Any:
        """A photo uploaded as multipart (bytes kept under "photo"), recorded among the messages; its caption
        stands in as its text, checked like Telegram checks a caption."""
        chat_id, caption, photo = int(params["chat_id"]), str(params.get("caption", "")), params.get("photo")
        if not isinstance(photo, bytes) or not photo:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if caption:
            check_text(caption, params.get("parse_mode"), CAPTION_LIMIT)
        return self._record(chat_id, {**params, "photo": photo, "text": caption, "kind": "photo"})

    def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id, text = int(params["chat_id"]), str(params.get("text", ""))
        check_text(text, params.get("parse_mode"))
        return self._record(chat_id, {**params, "text": text, "kind": "text"})

    def _record(self, chat_id: int, message: dict[str, Any]) -> Any:
        """Apply the chat's scripted fault (or block), then keep the message and answer as Telegram would."""
        with self._cond:
            if chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            fault = self.faults[chat_id].pop(0) if self.faults.get(chat_id) else Fault()
        if fault.status == 429:
            retry = fault.retry_after or 1
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        if fault.status != 200:
            raise ApiError(fault.status, fault.description or f"HTTP {fault.status}")
        with self._cond:
            message_id = self._next_message
            self._next_message += 1
            self.messages.append({**message, "chat_id": chat_id, "message_id": message_id})
            self._cond.notify_all()
        if fault.delay:
            self.stopping.wait(fault.delay)
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": BOT_USER,
            "text": message["text"],
        }


def check_text(text: str, parse_mode: str | None, limit: int = TEXT_LIMIT) -> None:
    """Reject what Telegram rejects: empty text, bad HTML entities, text too long after parsing."""
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    visible = text
    if (parse_mode or "").upper() == "HTML":
        visible = _HtmlChecker().check(text)
    if len(visible.encode("utf-16-le")) // 2 > limit:
        what = "message is" if limit == TEXT_LIMIT else "caption"
        raise ApiError(400, f"Bad Request: {what} too long")


class _HtmlChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def check(self, source: str) -> str:
        if _BARE_AMPERSAND.search(source) or _LOOSE_LT.search(source):
            raise ApiError(400, "Bad Request: can't parse entities: unescaped '<' or '&'")
        self.feed(source)
        self.close()
        if self.stack:
            raise ApiError(
                400, f"Bad Request: can't parse entities: can't find end tag corresponding to {self.stack[-1]}"
            )
        return "".join(self.text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise ApiError(400, f'Bad Request: can\'t parse entities: unsupported start tag "{tag}"')
        if tag == "a" and not dict(attrs).get("href"):
            raise ApiError(400, "Bad Request: can't parse entities: <a> without href")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise ApiError(400, f'Bad Request: can\'t parse entities: unmatched end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _message(message_id: int, chat_id: int, text: str) -> dict[str, Any]:
    return {"message_id": message_id, "date": int(time.time()), "chat": _chat(chat_id), "from": BOT_USER, "text": text}


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "group", "title": "Test group"}
    return {"id": chat_id, "type": "private", "first_name": "Tester"}


def _decode_form(body: bytes) -> dict[str, Any]:
    """Form fields: strings stay strings; JSON-encoded values (numbers, booleans, objects) are decoded."""
    return {key: _field(key, value) for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True)}


def _field(key: str, value: str) -> Any:
    if key in ("text", "caption"):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _decode_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """A file upload: file parts stay bytes, other fields are decoded like form fields."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            params[str(name)] = payload
        else:
            params[str(name)] = _field(str(name), payload.decode("utf-8"))
    return params


def _make_handler(api: BotApi) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._dispatch()

        def do_GET(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                result = api.call(self._method(), self._params(body))
                self._send(200, {"ok": True, "result": result})
            except ApiError as error:
                payload: dict[str, Any] = {"ok": False, "error_code": error.status, "description": error.description}
                if error.parameters:
                    payload["parameters"] = error.parameters
                self._send(error.status, payload)

        def _method(self) -> str:
            prefix = f"/bot{api.token}/"
            if not self.path.startswith("/bot"):
                raise ApiError(404, "Not Found")
            if not self.path.startswith(prefix):
                raise ApiError(401, "Unauthorized")
            return self.path[len(prefix) :].split("?")[0].lower()

        def _params(self, body: bytes) -> dict[str, Any]:
            kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not body:
                return {}
            if kind == "application/x-www-form-urlencoded":
                return _decode_form(body)
            if kind == "application/json":
                return dict(json.loads(body))
            if kind == "multipart/form-data":
                return _decode_multipart(self.headers.get("Content-Type", ""), body)
            raise ApiError(400, f"Bad Request: the stand-in does not accept {kind or 'untyped'} bodies")

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left, as a scripted slow reply intends

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests assert on the recorded calls instead."""

    return _Handler
