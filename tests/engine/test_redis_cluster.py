"""The Redis engine on a Redis Cluster of three masters (the conformance suite runs on it
too, as `redis-cluster`): each tag's keys on one node, the tags spread over the nodes, and
the eviction policy checked on every primary."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from gateway.engine.base import EngineUnavailable
from gateway.engine.redis import RedisConfigError, RedisOptions, open_redis_engine
from gateway.engine.redis.connection import text
from tests.engine.queue_kit import claim, delivery, enqueue
from tests.redis_support import RedisClusterServers, assert_a_waiter_wakes, new_event


async def test_each_tag_lives_on_one_node_and_the_tags_spread(
    redis_cluster: RedisClusterServers, redis_cluster_options: RedisOptions
) -> None:
    engine = await open_redis_engine(redis_cluster_options)
    try:
        assert isinstance(engine.link.redis, RedisCluster)
        assert len((await engine.events.append([new_event("k")], 60)).stored) == 1
        await engine.registry.create("thing", "t1", {})
        await enqueue(engine, [delivery(1)])
        assert len(await claim(engine, 1.0)) == 1
        await engine.throttle.take("ip:127.0.0.1", 1.0, 5.0, 0.0)
        await assert_a_waiter_wakes(engine)
    finally:
        await engine.close()
    prefix = redis_cluster_options.key_prefix
    nodes_of_tag: dict[str, set[int]] = {}
    for server in redis_cluster.servers:
        for key in server.client().scan_iter(match="{" + prefix + ":*"):
            tag = key.decode()[1 : key.decode().index("}")]
            nodes_of_tag.setdefault(tag, set()).add(server.port)
    assert {tag.split(":")[1] for tag in nodes_of_tag} == {"meta", "log", "reg", "dq", "throttle"}
    assert all(len(nodes) == 1 for nodes in nodes_of_tag.values())
    assert len(set.union(*nodes_of_tag.values())) > 1  # not everything on one node


async def test_an_evicting_primary_is_refused(
    redis_cluster: RedisClusterServers, redis_cluster_options: RedisOptions
) -> None:
    last = redis_cluster.servers[-1].client()
    last.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with pytest.raises(RedisConfigError, match="maxmemory-policy allkeys-lru"):
            await open_redis_engine(redis_cluster_options)
    finally:
        last.config_set("maxmemory-policy", "noeviction")


def test_a_cluster_url_is_shown_without_its_password_and_has_no_database() -> None:
    options = RedisOptions(url="redis+cluster://app:pw@n1:7000,n2/0")
    assert options.target == "redis+cluster://app:***@n1:7000,n2:6379"
    with pytest.raises(RedisConfigError, match="one database"):
        RedisOptions(url="redis+cluster://n1:7000/2")


async def test_a_burst_beyond_the_pool_waits_for_a_connection_instead_of_an_outage(
    redis_cluster_options: RedisOptions, caplog: pytest.LogCaptureFixture
) -> None:
    """A node's pool fails at once when every connection is in use; 50 appends at once
    through a pool of 2 must queue for a connection: no 503, no "unavailable" line."""
    options = dataclasses.replace(redis_cluster_options, pool_size=2)
    engine = await open_redis_engine(options)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.redis"):
            results = await asyncio.gather(
                *(engine.events.append([new_event(f"burst-{i}")], 60) for i in range(50)),
                return_exceptions=True,
            )
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert sum(len(r.stored) for r in results if not isinstance(r, BaseException)) == 50
        assert [r.getMessage() for r in caplog.records if r.name == "gateway.redis"] == []
        assert engine.health.down_since is None and engine.health.errors == 0
    finally:
        await engine.close()


async def test_a_queue_slot_being_resharded_is_unavailable_not_half_applied(
    redis_cluster: RedisClusterServers, redis_cluster_options: RedisOptions
) -> None:
    """A slot being moved (`MIGRATING` / `IMPORTING`) with one of a subscriber's keys moved
    already: a script that declares the keys it touches is refused before it runs, and the
    refusal (like a "non local key", `ASK` or `TRYAGAIN`) is unavailable, a 503, never a
    500; nothing was written. Once the move is undone the queue works as before."""
    engine = await open_redis_engine(redis_cluster_options)
    stats = f"{engine.keys.dq}:stats"
    moved = f"{engine.keys.dq}:rec:s1"
    slot = key_slot(engine.keys.dq.encode())
    await enqueue(engine, [delivery(1), delivery(2)])
    servers = {text(s.client().cluster("myid")): s for s in redis_cluster.servers}
    source_id = next(i for i, s in servers.items() if s.client().cluster("countkeysinslot", slot))
    target_id = next(i for i in servers if i != source_id)
    source, target = servers[source_id], servers[target_id]
    before = source.client().hgetall(stats)
    target.client().cluster("setslot", slot, "importing", source_id)
    source.client().cluster("setslot", slot, "migrating", target_id)
    try:
        source.client().migrate("127.0.0.1", target.port, moved, 0, 5000)
        with pytest.raises(EngineUnavailable):
            await claim(engine, 1.0)
        with pytest.raises(EngineUnavailable):
            await enqueue(engine, [delivery(3)])
        assert source.client().hgetall(stats) == before
    finally:  # the move undone: the key back while the target still imports the slot
        source.client().cluster("setslot", slot, "stable")
        back = target.client()
        back.execute_command("ASKING")
        back.execute_command("MIGRATE", "127.0.0.1", source.port, moved, 0, 5000)
        back.cluster("setslot", slot, "stable")
    try:
        assert len(await claim(engine, 1.0)) == 2
    finally:
        await engine.close()
