"""Who the client is, and which URL it called, behind reverse proxies
(`GATEWAY_TRUSTED_PROXIES`).

A proxy tells the server about the client in headers: RFC 7239 `Forwarded`
(`for=...;proto=...;host=...`, one element per proxy) or the older `X-Forwarded-For` (a list
of addresses, each proxy appending the address it was called from), `X-Forwarded-Proto` and
`X-Forwarded-Host`. Anyone can send those headers, so they are believed only from a peer
inside one of the trusted networks, and never otherwise: from any other peer the client is
the peer, and the URL is the one this server saw.

From a trusted peer, the chain is walked from the right (the hop nearest to us, the only one
a trusted proxy wrote itself), skipping hops that are trusted proxies too: the first address
that is not is the client. Everything to its left was written by the client or by proxies
nobody vouches for, and is ignored. `Forwarded` wins when both kinds are sent
(`GATEWAY_TRUSTED_PROXY_HEADERS` may name one kind only: a proxy that writes X-Forwarded-*
and passes a client's own `Forwarded` through would otherwise let the client name itself);
the scheme and host are the ones of the hop that named the client (the proxy the client
called). A hop whose address is hidden (`for=unknown`, an obfuscated name) ends the walk at
the proxy that reported it.

What this decides: the access log's `remoteAddress`, the address the admin-key throttle
counts failures by, the URL a Twilio signature is checked against and the `websocketUrl`
handed to agents (`GATEWAY_PUBLIC_URL`, when set, still wins over the headers for both).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDictProxy

from gateway.config import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_HOPS = 16
"""Hops walked at most: the headers' length is the client's choice, the work is not."""

_SCHEMES = frozenset({"http", "https"})
_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class _Hop:
    """One proxy's account of the connection it received: the address it came from, and the
    scheme and host the request was made with, when it said."""

    address: str | None
    scheme: str | None
    host: str | None


def _address(value: str | None) -> str | None:
    """An address from a header: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`,
    `2001:db8::1`; None for `unknown`, an obfuscated name or anything else."""
    if not value:
        return None
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return str(parsed)


def _scheme(value: str | None) -> str | None:
    scheme = (value or "").strip().lower()
    return scheme if scheme in _SCHEMES else None


def _host(value: str | None) -> str | None:
    host = (value or "").strip()
    return host if _HOST.fullmatch(host) else None


def _listed(headers: CIMultiDictProxy[str], name: str) -> list[str]:
    """Every value of a comma-list header, across repeated header lines."""
    return [item.strip() for line in headers.getall(name, ()) for item in line.split(",")]


def _aligned(values: list[str], hops: int, steps: int) -> str | None:
    """`X-Forwarded-Proto` / `-Host` may be lists too, one entry per proxy that appended.
    Only a list exactly as long as `X-Forwarded-For` (`hops` entries) lines up with it: then
    the entry as far from the right as the client's address was. Otherwise some proxy did
    not append to it, and only the right-most entry, the nearest trusted proxy's, is known
    not to be the client's own."""
    if not values:
        return None
    if len(values) == hops:
        return values[-steps]
    return values[-1]


def _forwarded_hops(elements: Sequence[Mapping[str, str]]) -> list[_Hop]:
    return [
        _Hop(_address(element.get("for")), _scheme(element.get("proto")), element.get("host"))
        for element in elements[-MAX_HOPS:]
    ]


def _x_forwarded_hops(headers: CIMultiDictProxy[str]) -> list[_Hop]:
    chain = _listed(headers, "X-Forwarded-For")
    addresses = chain[-MAX_HOPS:]
    schemes = _listed(headers, "X-Forwarded-Proto")
    hosts = _listed(headers, "X-Forwarded-Host")
    if not addresses and (schemes or hosts):
        # A proxy that names no client but says how it was called: the peer is the client.
        return [_Hop(None, _scheme(_aligned(schemes, 0, 1)), _aligned(hosts, 0, 1))]
    hops = []
    for index, address in enumerate(addresses):
        steps = len(addresses) - index
        scheme = _scheme(_aligned(schemes, len(chain), steps))
        hops.append(_Hop(_address(address), scheme, _aligned(hosts, len(chain), steps)))
    return hops


@dataclass(frozen=True, slots=True)
class ClientView:
    """The client's address, and the scheme and host of the URL it called."""

    address: str
    scheme: str
    host: str


class TrustedProxies:
    """The networks of `GATEWAY_TRUSTED_PROXIES`, and what requests from them say."""

    def __init__(self, networks: Sequence[Network], headers: str = "both") -> None:
        self._networks = tuple(networks)
        self._forwarded = headers in ("both", "forwarded")
        self._x_forwarded = headers in ("both", "x-forwarded")
        # Bounded: peers are few (the proxies), forwarded addresses are anyone's.
        self.trusts = functools.lru_cache(maxsize=4096)(self._trusts)

    @classmethod
    def of(cls, settings: Settings) -> TrustedProxies:
        return cls(settings.trusted_proxies, settings.trusted_proxy_headers)

    def _trusts(self, address: str | None) -> bool:
        parsed = _address(address)
        if parsed is None:
            return False
        found = ipaddress.ip_address(parsed)
        return any(found in network for network in self._networks)

    def _chosen_hop(self, request: web.BaseRequest) -> tuple[str, _Hop | None]:
        """(the client's address, the hop that named it): the peer and no hop unless the
        peer is trusted and sent forwarding headers."""
        peer = request.remote or ""
        if not self._networks or not self.trusts(peer):
            return peer, None
        elements = request.forwarded if self._forwarded else ()
        if elements:
            hops = _forwarded_hops(elements)
        elif self._x_forwarded:
            hops = _x_forwarded_hops(request.headers)
        else:
            hops = []
        address, chosen = peer, None
        for hop in reversed(hops):
            chosen = hop
            if hop.address is None:
                break
            address = hop.address
            if not self.trusts(address):
                break
        return address, chosen

    def address(self, request: web.BaseRequest) -> str:
        """The client's address (the peer's unless a trusted proxy named another)."""
        if not self._networks:
            return request.remote or ""
        return self._chosen_hop(request)[0]

    def view(self, request: web.BaseRequest) -> ClientView:
        address, hop = self._chosen_hop(request)
        scheme = (hop and hop.scheme) or request.scheme
        host = (hop and _host(hop.host)) or request.host
        return ClientView(address, scheme, host)


def public_base_url(request: web.Request, settings: Settings, proxies: TrustedProxies) -> str:
    """The scheme and authority clients reach this gateway at, without a trailing slash:
    `GATEWAY_PUBLIC_URL` when set, else what a trusted proxy said the client called, else
    what this server received."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    view = proxies.view(request)
    return f"{view.scheme}://{view.host}"
