"""Shared fixtures: a local feed server, and the recorded feeds in ../shared (read in place)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botapi import BotApi
from feedserver import SHARED_FEEDS, FeedServer
from llmserver import LlmServer

from bot.ingest.embed import UseEmbedder


@pytest.fixture(scope="session")
def _feed_server_for_session() -> Iterator[FeedServer]:
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def feed_server(_feed_server_for_session: FeedServer) -> FeedServer:
    """The session's server with no routes and an empty request log."""
    _feed_server_for_session.reset()
    return _feed_server_for_session


@pytest.fixture(scope="session")
def embedder() -> UseEmbedder:
    """The real bundled multilingual model, loaded once for the whole run (about a second)."""
    return UseEmbedder(threads=1)


@pytest.fixture
def shared_feeds() -> Path:
    """The real recorded feeds; tests using this skip when ../shared is not checked out beside us."""
    if not SHARED_FEEDS.is_dir():
        pytest.skip(f"recorded feeds not found at {SHARED_FEEDS} (../shared is not beside the repo)")
    return SHARED_FEEDS


@pytest.fixture(scope="module")
def api() -> Iterator[BotApi]:
    """The Bot API stand-in on 127.0.0.1, one per test module (tests call `api.reset()` as they need)."""
    server = BotApi().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def _llm_server() -> Iterator[LlmServer]:
    server = LlmServer().start()
    yield server
    server.stop()


@pytest.fixture
def llm_server(_llm_server: LlmServer) -> LlmServer:
    """The OpenAI-compatible stand-in on 127.0.0.1, emptied of queued replies and recorded requests."""
    _llm_server.reset()
    return _llm_server
