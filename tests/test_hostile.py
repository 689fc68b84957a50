"""Issue 16: hostile feeds, concurrent writers, bad config and a damaged disk.

Each test here failed on the code before the fix it guards. What is mocked is only what lies
outside our control, and each such test says so (the DNS answers for a rebinding name).
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime

import pytest
from feedserver import OWN_FEEDS, FeedServer

from bot.core.config import FetchConfig, SourceConfig
from bot.core.models import FetchStatus, SourceState
from bot.ingest.overlay import OverlayError, require_public_host
from bot.ingest.sources import FeedHttp, fetch_rss
from bot.ingest.sources.address import is_public

NOW = datetime(2024, 11, 15, 12, 0, tzinfo=UTC)
REBINDING_HOST = "feeds.rebind.test"
PUBLIC_ANSWER = "93.184.216.34"  # a global address; no server of ours listens there


async def fetch_public_only(url: str):
    config = FetchConfig(timeout=1, total_timeout=3)  # allow_private off: the default
    async with FeedHttp(config) as http:
        return await fetch_rss(
            SourceConfig(name="hostile", kind="rss", url=url), SourceState(name="hostile"), http, NOW
        )


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The DNS (outside our control) for one name: a public address first, 127.0.0.1 on every later lookup.

    Patched at `socket.getaddrinfo`, below both our resolver and httpx's, so it answers whoever asks.
    Returns the log of names asked.
    """
    real = socket.getaddrinfo
    asked: list[str] = []

    def answer(host, port, *args, **kwargs):
        if (host.decode() if isinstance(host, bytes) else host) != REBINDING_HOST:  # anyio asks in IDNA bytes
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = PUBLIC_ANSWER if len(asked) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", answer)
    return asked


# 1. DNS rebinding and the private-address check ---------------------------------------------


async def test_rebinding_name_never_reaches_the_loopback_server(feed_server: FeedServer, rebinding_dns) -> None:
    url = feed_server.serve_file("/internal.xml", OWN_FEEDS / "rss20_ai_news.xml")
    rebound = url.replace("127.0.0.1", REBINDING_HOST)
    result = await fetch_public_only(rebound)
    assert result.status is FetchStatus.ERROR
    assert feed_server.requests_to("/internal.xml") == []  # the connection went to the address that was checked
    assert rebinding_dns == [REBINDING_HOST]  # resolved once


async def test_admission_check_then_fetch_of_a_rebinding_name_is_refused(
    feed_server: FeedServer, rebinding_dns
) -> None:
    url = feed_server.serve_file("/internal.xml", OWN_FEEDS / "rss20_ai_news.xml")
    rebound = url.replace("127.0.0.1", REBINDING_HOST)
    await require_public_host(rebound)  # the admin's early check sees the public answer
    result = await fetch_public_only(rebound)  # the fetch resolves again, sees 127.0.0.1 and refuses
    assert result.status is FetchStatus.ERROR
    assert "127.0.0.1 is not a public address" in result.error
    assert feed_server.requests_to("/internal.xml") == []


async def test_failed_lookup_is_a_refusal() -> None:
    with pytest.raises(OverlayError, match="cannot resolve"):
        await require_public_host("http://no-such-host.invalid/feed.xml")


@pytest.mark.parametrize(
    "address",
    ["::ffff:127.0.0.1", "2002:7f00:1::", "64:ff9b::7f00:1", "::127.0.0.1", "2002:a00:1::", "64:ff9b::a9fe:a9fe"],
)
def test_ipv6_forms_embedding_a_private_ipv4_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses_stay_public() -> None:
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert is_public(ipaddress.ip_address("2606:4700:4700::1111"))
    assert is_public(ipaddress.ip_address("2002:5db8:d822::"))  # 6to4 of a public IPv4


async def test_ipv6_mapped_loopback_url_is_refused(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/mapped.xml", OWN_FEEDS / "rss20_ai_news.xml")
    result = await fetch_public_only(url.replace("127.0.0.1", "[64:ff9b::7f00:1]"))
    assert result.status is FetchStatus.ERROR
    assert "not a public address" in result.error
