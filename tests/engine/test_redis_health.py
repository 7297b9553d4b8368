"""The Redis engine's health record closes the pool's idle connections when Redis goes or
comes back, without ever failing a command that takes a connection meanwhile."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from gateway.engine.redis import RedisOptions
from gateway.engine.redis.connection import Health, take_idle


async def test_canary_idle_connections_leave_the_pool_without_awaiting(
    redis_options: RedisOptions,
) -> None:
    """`take_idle` reads redis-py's private `_available_connections`."""
    client = redis_options.client()
    assert isinstance(client, Redis)
    try:
        await client.ping()
        taken = take_idle(client)
        assert len(taken) == 1 and take_idle(client) == []
        assert await client.ping()  # the pool makes a new connection
        assert take_idle(client) != taken
    finally:
        await client.aclose()
        for connection in taken:
            await connection.disconnect()


async def test_a_command_right_after_a_change_of_health_runs(redis_options: RedisOptions) -> None:
    """Closing the idle connections used to race a command taking one of them (`Connection
    lost` on the first command after Redis came back)."""
    client = redis_options.client()
    health = Health(redis_options.target, client)
    try:
        for _ in range(20):
            await client.ping()
            health.failed(ConnectionError("gone"))
            await asyncio.sleep(0)  # the closing has begun
            assert await client.ping()
            health.answered()
            await asyncio.sleep(0)
            assert await client.ping()
    finally:
        await client.aclose()


def test_an_answer_to_a_call_begun_before_a_failure_does_not_end_the_outage() -> None:
    """Its reply was on its way when another call failed: heard, one outage would log as
    several (unavailable, available again, unavailable...)."""
    health = Health("redis://example")
    began = health.errors
    health.failed(ConnectionError("gone"))
    health.answered(began)
    assert health.down_since is not None
    health.answered(health.errors)  # a call begun after the failure
    assert health.down_since is None
