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

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

from gateway.engine.redis import urls
from gateway.engine.redis.urls import MultiHostUrl

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_PORT = 26379


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    url: MultiHostUrl
    service: str
    db: int

    @property
    def tls(self) -> bool:
        return self.url.scheme == "rediss+sentinel"

    @property
    def display(self) -> str:
        """The URL without its password."""
        return self.url.display(f"/{self.service}/{self.db}")


def parse(url: str) -> SentinelTarget:
    """UrlError when the URL cannot name a service behind sentinels."""
    parsed = urls.parse(url, DEFAULT_PORT)
    if parsed.scheme not in SCHEMES:
        raise urls.UrlError("a Sentinel URL starts with redis+sentinel:// or rediss+sentinel://")
    if not parsed.path or len(parsed.path) > 2:
        raise urls.UrlError("a Sentinel URL ends with /service or /service/db")
    if len(parsed.path) == 2 and not parsed.path[1].isdigit():
        raise urls.UrlError(f"the database {parsed.path[1]!r} is not a number")
    db = int(parsed.path[1]) if len(parsed.path) == 2 else 0
    return SentinelTarget(parsed, parsed.path[0], db)


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
    sentinel = Sentinel(list(target.url.hosts), sentinel_kwargs=for_sentinels)  # type: ignore[no-untyped-call]
    kwargs = dict(connection)
    kwargs.pop("timeout", None)  # the sentinel pool does not wait for a free connection
    if target.tls:
        kwargs["ssl"] = True
    client: Redis = sentinel.master_for(
        target.service,
        db=target.db,
        username=target.url.username,
        password=target.url.password,
        **kwargs,
    )
    return client
