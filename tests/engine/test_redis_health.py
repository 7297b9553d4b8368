"""The Redis engine's health record closes the pool's idle connections when Redis goes or
comes back, without ever failing a command that takes a connection meanwhile."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

import pytest
from redis.asyncio import Redis

from gateway.engine.redis import RedisOptions, connection
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


def test_an_aftershock_is_not_a_second_outage_in_the_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command in flight through a restart fails just after Redis answered again: counted,
    not logged; failures that go on past the settling time are a new outage, logged."""
    clock = [100.0]
    monkeypatch.setattr(connection.time, "monotonic", lambda: clock[0])
    health = Health("redis://test")
    lost = ConnectionError("Connection lost")

    def lines() -> list[str]:
        return [r.getMessage().split(" after ")[0] for r in caplog.records]

    caplog.set_level(logging.WARNING, logger="gateway.redis")
    health.failed(lost)
    clock[0] += 5
    health.answered()
    assert lines() == [
        "redis at redis://test is unavailable: Connection lost",
        "redis at redis://test is available again",
    ]
    clock[0] += 0.5
    health.failed(lost)  # the aftershock
    health.answered()
    assert len(lines()) == 2 and health.errors == 2
    clock[0] += 0.5
    health.failed(lost)
    clock[0] += Health.SETTLE_SECONDS  # still failing: an outage after all
    health.failed(lost)
    health.answered()
    assert len(lines()) == 4 and health.errors == 4


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


def test_canary_a_write_uvloop_refuses_after_the_peer_closed_is_a_lost_connection() -> None:
    """uvloop (the loop `serve` runs on when installed) raises a `RuntimeError` for a write
    to a transport the peer closed; redis-py lets it through when Redis goes away between
    connecting and its first command. `is_unavailable` reads it from uvloop's message: this
    fails loudly if uvloop words it otherwise, and the engine would answer 500, not 503."""
    uvloop = pytest.importorskip("uvloop")

    async def write_after_the_peer_closed() -> BaseException:
        async def close_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.close()  # with linger 0: a reset, as a Redis killed or restarted sends

        server = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            with pytest.raises(ConnectionResetError):
                await reader.read()  # the reset has arrived: uvloop closed the transport
            try:
                writer.writelines([b"PING\r\n"])
            except RuntimeError as exc:
                return exc
            raise AssertionError("uvloop accepted a write to a closed transport")
        finally:
            server.close()

    loop = uvloop.new_event_loop()
    try:
        refused = loop.run_until_complete(write_after_the_peer_closed())
    finally:
        loop.close()
    assert connection.is_unavailable(refused), refused
    assert not connection.is_unavailable(RuntimeError("a bug of ours"))
