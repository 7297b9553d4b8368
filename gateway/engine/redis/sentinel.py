"""Redis behind Sentinel: `GATEWAY_REDIS_URL=redis+sentinel://[[user]:password@]host:port[,
host:port...]/service[/db]` (`rediss+sentinel://` for TLS to the sentinels and the master).

The client asks the sentinels for the service's master before each new connection, so
after a failover new connections go to the new master; commands in flight on the old one
fail as unavailable (a 503: the provider retries), never as a 500. The credentials are the
master's; the sentinels are reached without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_PORT = 26379


class SentinelUrlError(ValueError):
    """The URL is not a Sentinel URL the gateway can use; the message says why."""


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int
    username: str | None
    password: str | None
    tls: bool

    @property
    def display(self) -> str:
        """The URL without its password."""
        scheme = "rediss+sentinel" if self.tls else "redis+sentinel"
        user = ""
        if self.password is not None:
            user = f"{self.username or ''}:***@"
        elif self.username:
            user = f"{self.username}@"
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.sentinels)
        return f"{scheme}://{user}{hosts}/{self.service}/{self.db}"


def _host_port(text: str) -> tuple[str, int]:
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SentinelUrlError(f"sentinel address {text!r} is not host:port")
    return host, int(port)


def parse(url: str) -> SentinelTarget:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise SentinelUrlError("a Sentinel URL starts with redis+sentinel:// or rediss+sentinel://")
    netloc, _, path = rest.partition("/")
    netloc = netloc.partition("?")[0]
    username = password = None
    if "@" in netloc:
        credentials, _, netloc = netloc.rpartition("@")
        user, has_password, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    sentinels = tuple(_host_port(part) for part in netloc.split(",") if part)
    if not sentinels:
        raise SentinelUrlError("a Sentinel URL names at least one sentinel (host:port)")
    parts = [part for part in path.partition("?")[0].split("/") if part]
    if not parts or len(parts) > 2:
        raise SentinelUrlError("a Sentinel URL ends with /service or /service/db")
    if len(parts) == 2 and not parts[1].isdigit():
        raise SentinelUrlError(f"the database {parts[1]!r} is not a number")
    db = int(parts[1]) if len(parts) == 2 else 0
    return SentinelTarget(sentinels, unquote(parts[0]), db, username, password, scheme[5] == "s")


def master_client(target: SentinelTarget, connection: dict[str, Any]) -> Redis:
    """A client of the service's master. `connection` holds the connection settings (pool
    size, timeouts, TLS files, retry policy); the sentinels are reached with the same
    timeouts and TLS."""
    tls = {key: value for key, value in connection.items() if key.startswith("ssl_")}
    for_sentinels: dict[str, Any] = {
        "socket_timeout": connection["socket_timeout"],
        "socket_connect_timeout": connection["socket_connect_timeout"],
        "retry": connection["retry"],
    }
    if target.tls:
        for_sentinels.update(ssl=True, **tls)
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=for_sentinels)  # type: ignore[no-untyped-call]
    kwargs = dict(connection)
    kwargs.pop("timeout", None)  # the sentinel pool does not wait for a free connection
    if target.tls:
        kwargs["ssl"] = True
    client: Redis = sentinel.master_for(
        target.service,
        db=target.db,
        username=target.username,
        password=target.password,
        **kwargs,
    )
    return client
