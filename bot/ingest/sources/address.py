"""The one private-address check, made where the connection is opened, so DNS cannot change the answer.

Checking a name and then letting the HTTP library resolve it again is open to DNS rebinding: the
name answers a public address to the check and 127.0.0.1 to the connection. Here the name is
resolved once, every address it gave is checked, and the socket is opened to one of those very
addresses (`PinnedBackend`, the network layer of httpx's transport). TLS still names the host
(httpcore passes the URL's host as SNI after `connect_tcp`) and so does the Host header, so only
the lookup moves. A failed lookup is a refusal, not a pass. IPv6 forms that carry an IPv4 address
(`::ffff:a.b.c.d`, 6to4 `2002::/16`, NAT64 `64:ff9b::/96`, `::a.b.c.d`, Teredo) are judged by the
IPv4 address inside as well, since Python 3.11 calls several of them global.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx

from bot.core.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class NotPublicError(FetchError):
    """The host is, or resolves to, an address inside our own network (or cannot be resolved)."""


def is_public(address: IPAddress) -> bool:
    """Globally routable, and so is every IPv4 address the IPv6 form carries."""
    return address.is_global and all(inner.is_global for inner in _embedded_ipv4(address))


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    inner: list[ipaddress.IPv4Address | None] = [address.ipv4_mapped, address.sixtofour]
    if address.teredo:
        inner.extend(address.teredo)
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [found for found in inner if found is not None]


async def lookup(host: str, port: int) -> list[str]:
    """The DNS answer for `host` (address strings, in the resolver's order): the one lookup we make."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def public_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address `host` stands for, all of them public; `NotPublicError` otherwise or when the lookup fails."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(answer) for answer in await lookup(host, port)]
        except (OSError, ValueError) as exc:
            raise NotPublicError(f"cannot resolve {host} (DNS): {exc}") from None
    if not addresses:
        raise NotPublicError(f"cannot resolve {host} (DNS): no address")
    refused = next((address for address in addresses if not is_public(address)), None)
    if refused is not None:
        raise NotPublicError(
            f"refusing to fetch {host}: {refused} is not a public address (set fetch.allow_private to allow it)"
        )
    return addresses


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer with the check inside: connect only to addresses that were just checked."""

    def __init__(self) -> None:
        self._sockets = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        *fallbacks, last = await public_addresses(host, port)
        for address in fallbacks:  # the next checked address when one refuses, as a resolver-driven connect does
            try:
                return await self._sockets.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return await self._sockets.connect_tcp(str(last), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise NotPublicError("refusing to fetch through a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._sockets.sleep(seconds)


def pinned_transport() -> httpx.AsyncHTTPTransport:
    """httpx's own transport (TLS, HTTP/1.1, error mapping) whose pool connects through `PinnedBackend`."""
    transport = httpx.AsyncHTTPTransport()
    transport._pool = httpcore.AsyncConnectionPool(  # httpx has no public hook for the backend
        ssl_context=httpx.create_ssl_context(), network_backend=PinnedBackend()
    )
    return transport
