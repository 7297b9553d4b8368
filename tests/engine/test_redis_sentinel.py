"""Redis behind Sentinel: a master, a replica and a sentinel started locally; the engine
finds the master through the sentinel and, after `SENTINEL FAILOVER`, the new one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from gateway.engine.base import EngineUnavailable
from gateway.engine.events import NewEvent
from gateway.engine.redis import RedisEngine, RedisOptions, open_redis_engine
from tests.redis_support import (
    RedisServer,
    SentinelServer,
    assert_a_waiter_wakes,
    fresh_prefix,
    new_event,
)

SERVICE = "gateway-main"


def _suitable(replica: dict[str, object]) -> bool:
    """What the sentinel must know of a replica before it can promote it."""
    return replica.get("master-link-status") == "ok" and not replica.get("is_sdown")


class Deployment:
    def __init__(self, directory: Path) -> None:
        self.master = RedisServer(directory / "master", "--repl-diskless-sync-delay", "0").start()
        self.replica = RedisServer(
            directory / "replica", "--replicaof", "127.0.0.1", str(self.master.port)
        ).start()
        self.sentinel = SentinelServer(directory / "sentinel", SERVICE, self.master.port)
        deadline = time.monotonic() + 15
        while self.replica.client().info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica never synced"
            time.sleep(0.05)
        while not [r for r in self.sentinel.replicas() if _suitable(r)]:
            assert time.monotonic() < deadline, "the sentinel never saw the replica synced"
            time.sleep(0.1)

    def stop(self) -> None:
        self.sentinel.stop()
        self.replica.stop(kill=True)  # a master shutting down waits for its replicas
        self.master.stop(kill=True)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path)
    yield deployment
    deployment.stop()


async def _append_until_it_works(engine: RedisEngine, event: NewEvent) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            await engine.events.append([event], 60)
            return
        except EngineUnavailable:
            assert time.monotonic() < deadline, "the new master never took writes"
            await asyncio.sleep(0.2)


async def test_the_engine_follows_the_master_through_a_failover(deployment: Deployment) -> None:
    url = f"redis+sentinel://127.0.0.1:{deployment.sentinel.port}/{SERVICE}/0"
    options = RedisOptions(url=url, key_prefix=fresh_prefix(), timeout_seconds=1.0)
    assert options.target == url
    engine = await open_redis_engine(options)
    try:
        await engine.events.append([new_event("before")], 60)
        deployment.master.client().wait(1, 5000)  # the replica has it before the failover

        deployment.sentinel.client().execute_command("SENTINEL", "FAILOVER", SERVICE)
        deadline = time.monotonic() + 20
        while deployment.sentinel.master_port() != deployment.replica.port:
            assert time.monotonic() < deadline, "the failover did not happen"
            await asyncio.sleep(0.1)
        # Until the sentinel demotes it, the old master still takes writes that the new one
        # never gets (replication is asynchronous; waiting for replicas closes that window).
        while deployment.master.client().info("replication")["role"] != "slave":
            assert time.monotonic() < deadline, "the old master was never demoted"
            await asyncio.sleep(0.1)

        await _append_until_it_works(engine, new_event("after"))
        keys = [orjson.loads(e.payload)["key"] for e in await engine.events.read_after("0", 10)]
        assert keys == ["before", "after"]
        assert deployment.replica.client().xlen(engine.keys.events) == 2  # the new master
        await assert_a_waiter_wakes(engine)
    finally:
        await engine.close()


async def test_a_service_no_sentinel_knows_is_unavailable(deployment: Deployment) -> None:
    url = f"redis+sentinel://127.0.0.1:{deployment.sentinel.port}/no-such-service"
    with pytest.raises(EngineUnavailable) as refused:
        await open_redis_engine(RedisOptions(url=url, connect_timeout_seconds=0.5))
    assert "no-such-service" in refused.value.detail
