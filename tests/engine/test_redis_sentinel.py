"""Redis behind Sentinel: a master, a replica and a sentinel started locally; the engine
finds the master through the sentinel and, after `SENTINEL FAILOVER`, the new one; with
`GATEWAY_REDIS_WAIT_REPLICAS=1` a gateway process under webhook load through the failover
loses nothing it answered 202."""

from __future__ import annotations

import asyncio
import json
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
from tests.running_gateway import WebhookLoad, running

SERVICE = "gateway-main"


def _suitable(replica: dict[str, object]) -> bool:
    """What the sentinel must know of a replica before it can promote it."""
    return replica.get("master-link-status") == "ok" and not replica.get("is_sdown")


class Deployment:
    def __init__(self, directory: Path) -> None:
        self.master = RedisServer(directory / "master", "--repl-diskless-sync-delay", "0").start()
        self.replica = RedisServer(
            directory / "replica",
            "--replicaof", "127.0.0.1", str(self.master.port),
            "--repl-diskless-sync-delay", "0",  # once promoted, it syncs the old master at once
        ).start()  # fmt: skip
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


def test_with_wait_replicas_a_failover_under_webhook_load_loses_nothing_answered_202(
    deployment: Deployment,
) -> None:
    """Until the sentinel demotes it (about 10 s here: it looks at a former master that
    often), the old master takes writes its former replica never gets. Waiting for one
    replica turns each of those into a 503 (the provider retries); at 0, the same test
    loses webhooks answered 202 in that window. After the failover the new master has no
    replica until the old one has synced from it: 503s, then 202s again."""
    prefix = fresh_prefix()
    env = {
        "GATEWAY_REDIS_URL": f"redis+sentinel://127.0.0.1:{deployment.sentinel.port}/{SERVICE}/0",
        "GATEWAY_REDIS_KEY_PREFIX": prefix,
        "GATEWAY_REDIS_WAIT_REPLICAS": "1",
        "GATEWAY_REDIS_WAIT_TIMEOUT_SECONDS": "0.5",
        "GATEWAY_REDIS_TIMEOUT_SECONDS": "2",
    }
    with running(env=env) as gateway:
        hub = f"hub-{prefix}"
        load = WebhookLoad(gateway, gateway.integration("hubster-system", hub), hub).start()
        try:
            load.wait_accepted(50)
            deployment.sentinel.client().execute_command("SENTINEL", "FAILOVER", SERVICE)
            deadline = time.monotonic() + 30
            while deployment.master.client().info("replication")["role"] != "slave":
                assert time.monotonic() < deadline, "the old master was never demoted"
                time.sleep(0.1)
            # The load goes on until the gateway writes to the new master.
            load.wait_accepted(1, after=load.sent())
        finally:
            load.stop()
        gateway.stop()

    assert set(load.answers.values()) <= {202, 503}, sorted(set(load.answers.values()))
    stream = "{" + prefix + ":log}:events"
    entries = deployment.replica.client().xrange(stream)  # the new master
    stored = {json.loads(fields[b"p"])["message"]["text"] for _, fields in entries}
    assert load.accepted() - stored == set()
    assert len(load.accepted()) > 50
