"""Redis Cluster: `GATEWAY_REDIS_URL=redis+cluster://[[user]:password@]host:port[,host:port...]`
(`rediss+cluster://` for TLS), naming one or more nodes to learn the cluster from.

Every key of the engine carries a hash tag, and every script touches one tag (one slot), so
each command and script goes to one node: the client routes it by its first key and follows
the cluster's redirections when slots move. Cluster has one database, so no `/db`.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import ClusterNode, RedisCluster

from gateway.engine.redis import urls

SCHEMES = ("redis+cluster", "rediss+cluster")
DEFAULT_PORT = 6379


def parse(url: str) -> urls.MultiHostUrl:
    """UrlError when the URL cannot name a cluster."""
    parsed = urls.parse(url, DEFAULT_PORT)
    if parsed.scheme not in SCHEMES:
        raise urls.UrlError("a Cluster URL starts with redis+cluster:// or rediss+cluster://")
    if parsed.path not in ((), ("0",)):
        raise urls.UrlError("a Redis Cluster has one database: no /db, or /0")
    return parsed


def cluster_client(parsed: urls.MultiHostUrl, connection: dict[str, Any]) -> RedisCluster:
    """A client of the cluster; `connection` holds the connection settings (pool size per
    node, timeouts, TLS files, retry policy)."""
    kwargs = dict(connection)
    kwargs.pop("timeout", None)  # a node's pool does not wait for a free connection
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in parsed.hosts],
        username=parsed.username,
        password=parsed.password,
        ssl=parsed.scheme == "rediss+cluster",
        **kwargs,
    )
