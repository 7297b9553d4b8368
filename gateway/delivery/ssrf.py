"""The SSRF guard: subscriber URLs may only reach public addresses.

Checked twice: when a URL is registered (every address its host resolves to must be public)
and when a delivery connects, through `GuardedResolver`, so the connection can only go to an
address that passed the check at that moment (a host re-pointed at 127.0.0.1 after
registration — DNS rebinding — is refused). `allow_private_targets` turns the guard off.

URLs are read with yarl, exactly as aiohttp reads them when it connects: urllib would see a
host of fullwidth digits ('127.0.0.1' in U+FF10..) as a name to resolve, while yarl turns it
into the literal 127.0.0.1, which aiohttp then connects to without asking any resolver.

Name resolution runs `getaddrinfo` in the loop's default executor, so very slow DNS can
queue lookups behind one another there; it delays deliveries, never the event loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Protocol

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL


class Resolver(Protocol):
    """Resolves a host name and port to IP address strings (injectable for tests)."""

    async def __call__(self, host: str, port: int) -> list[str]: ...


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(OSError):
    """The target host has no address the guard allows; never connected to."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Raises OSError, or UnicodeError for a host the IDNA codec refuses (`a..b.com`)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: IpAddress) -> bool:
    """Only globally routable unicast: no loopback, private, link-local, multicast, reserved,
    unspecified or shared address, including IPv4 hidden in an IPv6 (::ffff:127.0.0.1)."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public(mapped)
    return address.is_global and not address.is_multicast and not address.is_reserved


def ip_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def url_host(url: str | URL) -> str:
    """The host aiohttp connects to (IDNA-encoded, IP literals normalised); '' if none."""
    return (url if isinstance(url, URL) else URL(url)).raw_host or ""


async def resolve(resolver: Resolver, host: str, port: int) -> list[str]:
    """The resolver's answer; a host it cannot even encode is an OSError like any other."""
    try:
        return await resolver(host, port)
    except (UnicodeError, ValueError) as exc:
        raise OSError(f"host {host} cannot be resolved ({exc})") from None


async def refusal(url: str, resolver: Resolver) -> str | None:
    """Why a subscriber URL (already checked by `check_url`) may not be registered, or None
    when every address it resolves to is public."""
    parsed = URL(url)
    host = url_host(parsed)
    literal = ip_literal(host)
    if literal is not None:
        return None if is_public(literal) else f"{host} is not a public address"
    try:
        addresses = await resolve(resolver, host, parsed.port or 80)
    except OSError:
        return f"host {host} cannot be resolved"
    if not addresses:
        return f"host {host} cannot be resolved"
    for text in addresses:
        address = ip_literal(text)
        if address is None or not is_public(address):
            return f"host {host} resolves to {text}, not a public address"
    return None


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for deliveries: resolves with the injected resolver and returns
    only public addresses (all of them when private targets are allowed), so the
    connection is made to an address that was checked just now."""

    def __init__(self, resolver: Resolver, allow_private: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results: list[ResolveResult] = []
        for text in await resolve(self._resolver, host, port):
            address = ip_literal(text)
            if address is None or not (self._allow_private or is_public(address)):
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=str(address),
                    port=port,
                    family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        if not results:
            raise TargetRefused(f"host {host} has no address deliveries may go to")
        return results

    async def close(self) -> None:
        return None
