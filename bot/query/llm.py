"""A minimal client for an OpenAI-compatible `/chat/completions` endpoint, the only place that talks to an LLM.

Answers work without any LLM (extractive), so this client is optional and strict: every way a
call can go wrong (timeout, refused connection, HTTP error, a body that is not the expected
shape, a reply cut off at `max_tokens`) becomes one `LlmError` with a readable message, and the
caller falls back. The API key comes from the environment variable named in config; it is sent
only in the Authorization header and scrubbed from every message we build, so it never reaches
a log line or an exception's text.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, Self

import httpx

from bot.core.config import LlmConfig, Settings
from bot.core.errors import BotError

log = logging.getLogger(__name__)

BODY_SNIPPET = 200  # characters of an error body worth quoting in a message
Message = Mapping[str, str]


class LlmError(BotError):
    """The LLM endpoint did not give a usable reply; the message says why, without secrets."""


class LlmClient:
    """Sync `httpx` client for one endpoint and model; call `complete` from a worker thread in async code."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = 20.0,
        max_tokens: int = 400,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        self.timeout = timeout
        self._key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers, transport=transport, follow_redirects=False)

    @classmethod
    def from_config(cls, config: LlmConfig) -> LlmClient:
        """A client for `config`; the key is read from the environment variable it names (may be unset)."""
        if not config.base_url:
            raise LlmError("llm.base_url is not set")
        key = os.environ.get(config.api_key_env, "")
        if not key:
            log.debug("no LLM API key in $%s; calling %s without one", config.api_key_env, config.base_url)
        return cls(config.base_url, config.model, key, config.timeout.total_seconds(), config.max_tokens)

    def complete(self, messages: Sequence[Message]) -> str:
        """The assistant's reply to `messages` (the first choice's content), or `LlmError`."""
        payload = {"model": self.model, "messages": [dict(m) for m in messages], "max_tokens": self.max_tokens}
        try:
            response = self._http.post(self.url, json=payload)
        except httpx.TimeoutException:
            raise LlmError(f"the LLM at {self.url} did not answer within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise LlmError(self._scrub(f"could not reach the LLM at {self.url}: {type(exc).__name__}")) from None
        if response.status_code >= 400:
            snippet = response.text[:BODY_SNIPPET]
            raise LlmError(self._scrub(f"the LLM at {self.url} answered HTTP {response.status_code}: {snippet}"))
        try:
            return self._scrub(_reply_text(response))
        except LlmError as exc:
            raise LlmError(self._scrub(str(exc))) from None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _scrub(self, text: str) -> str:
        """The text with the API key masked: a misbehaving server may echo request headers back."""
        return text.replace(self._key, "***") if self._key else text


def make_llm(settings: Settings) -> LlmClient | None:
    """The configured LLM client, or None when `llm.base_url` is unset (answers stay extractive)."""
    return LlmClient.from_config(settings.llm) if settings.llm.base_url else None


def _reply_text(response: httpx.Response) -> str:
    """`choices[0].message.content` of a chat-completions body, checked step by step."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise LlmError(f"the LLM answered with a body that is not JSON: {response.text[:BODY_SNIPPET]!r}") from None
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LlmError("the LLM answer has no `choices`")
    choice = choices[0]
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise LlmError("the LLM answer has no `choices[0].message.content` text")
    if choice.get("finish_reason") == "length":
        raise LlmError("the LLM reply was cut off at max_tokens")
    return content
