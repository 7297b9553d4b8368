"""The Redis engine on a Redis Cluster of three masters (the conformance suite runs on it
too, as `redis-cluster`): each tag's keys on one node, the tags spread over the nodes, and
the eviction policy checked on every primary."""

from __future__ import annotations

import pytest
from redis.asyncio.cluster import RedisCluster

from gateway.engine.redis import RedisConfigError, RedisOptions, open_redis_engine
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
