"""Redis behind Sentinel: a master, a replica and a sentinel started locally; the engine
finds the master through the sentinel and, after `SENTINEL FAILOVER`, the new one; with
`GATEWAY_REDIS_WAIT_REPLICAS=1` a gateway process under webhook load through the failover
loses nothing it answered 202."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from gateway.engine.base import EngineUnavailable
from gateway.engine.events import NewEvent
from gateway.engine.redis import RedisConfigError, RedisEngine, RedisOptions, open_redis_engine
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


@pytest.mark.parametrize("wait_replicas", [0, 1])
def test_with_wait_replicas_a_failover_under_webhook_load_loses_nothing_answered_202(
    deployment: Deployment, wait_replicas: int
) -> None:
    """Until the sentinel demotes it, the old master takes writes its former replica never
    gets; they are discarded when it resyncs from the new master. Here its demotion is held
    off for a few seconds (its default user may not run `REPLICAOF` meanwhile), so the
    window is sure to be there: writes reach the old master after the promotion at either
    setting. At 0 some of them were answered 202 and are lost (the control); waiting for
    one replica turns each into a 503 (the provider retries), and nothing answered 202 is
    lost. After the failover the new master has no replica until the old one has synced
    from it: 503s, then 202s again."""
    prefix = fresh_prefix()
    env = {
        "GATEWAY_REDIS_URL": f"redis+sentinel://127.0.0.1:{deployment.sentinel.port}/{SERVICE}/0",
        "GATEWAY_REDIS_KEY_PREFIX": prefix,
        "GATEWAY_REDIS_WAIT_REPLICAS": str(wait_replicas),
        "GATEWAY_REDIS_WAIT_TIMEOUT_SECONDS": "0.5",
        "GATEWAY_REDIS_TIMEOUT_SECONDS": "2",
    }
    stream = "{" + prefix + ":log}:events"
    old_master = deployment.master.client()
    with running(env=env) as gateway:
        hub = f"hub-{prefix}"
        load = WebhookLoad(gateway, gateway.integration("hubster-system", hub), hub).start()
        try:
            load.wait_accepted(50)
            old_master.execute_command("ACL", "SETUSER", "default", "-replicaof", "-slaveof")
            deployment.sentinel.client().execute_command("SENTINEL", "FAILOVER", SERVICE)
            deadline = time.monotonic() + 30
            while deployment.sentinel.master_port() != deployment.replica.port:
                assert time.monotonic() < deadline, "the failover did not happen"
                time.sleep(0.05)
            promoted_at = len(deployment.replica.client().xrange(stream))
            time.sleep(3)  # the window: the old master is still a master
            on_old_master = _texts(old_master.xrange(stream))
            old_master.execute_command("ACL", "SETUSER", "default", "+replicaof", "+slaveof")
            deadline = time.monotonic() + 40  # the sentinel tries again at its next look
            while old_master.info("replication")["role"] != "slave":
                assert time.monotonic() < deadline, "the old master was never demoted"
                time.sleep(0.1)
            # The load goes on until the gateway writes to the new master.
            load.wait_accepted(1, after=load.sent())
        finally:
            load.stop()
        gateway.stop()

    assert set(load.answers.values()) <= {202, 503}, sorted(set(load.answers.values()))
    stored = _texts(deployment.replica.client().xrange(stream))  # the new master
    written_in_the_window = on_old_master - stored
    assert written_in_the_window, "no write reached the old master after the promotion"
    assert promoted_at > 0
    lost = load.accepted() - stored
    if wait_replicas:
        assert lost == set()
        assert {load.answers[text] for text in written_in_the_window} == {503}
    else:
        assert lost & written_in_the_window, "at 0 the window loses webhooks answered 202"
    assert len(load.accepted()) > 50


def _texts(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> set[str]:
    return {json.loads(fields[b"p"])["message"]["text"] for _, fields in entries}


async def test_sentinels_with_a_password_are_reached_with_the_urls_sentinel_password(
    tmp_path: Path,
) -> None:
    """Sentinels protected by `requirepass` (a common production setup): the URL's
    `sentinel_password` reaches them, the user info the master; neither is shown."""
    master = RedisServer(
        tmp_path / "master", "--requirepass", "master/pw", client_options={"password": "master/pw"}
    ).start()
    sentinel = SentinelServer(
        tmp_path / "sentinel", SERVICE, master.port,
        password="sentinel+pw", master_password="master/pw",
    )  # fmt: skip
    base = f"redis+sentinel://:master%2Fpw@127.0.0.1:{sentinel.port}/{SERVICE}/0"
    try:
        options = RedisOptions(
            url=f"{base}?sentinel_password=sentinel%2Bpw", key_prefix=fresh_prefix()
        )
        assert "pw" not in options.target
        engine = await open_redis_engine(options)
        try:
            assert len((await engine.events.append([new_event("k")], 60)).stored) == 1
        finally:
            await engine.close()
        without = RedisOptions(url=base, key_prefix=fresh_prefix(), connect_timeout_seconds=0.5)
        with pytest.raises(EngineUnavailable) as refused:
            await open_redis_engine(without)
        assert "pw" not in str(refused.value)
        with pytest.raises(RedisConfigError, match="takes the parameters"):
            RedisOptions(url=f"{base}?sentinel_pasword=x")
    finally:
        sentinel.stop()
        master.stop(kill=True)


async def test_a_burst_beyond_the_pool_waits_for_a_connection_instead_of_an_outage(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """The Sentinel pool fails at once when every connection is in use; 50 appends at once
    through a pool of 2 must queue for a connection: no 503, no "unavailable" line."""
    url = f"redis+sentinel://127.0.0.1:{deployment.sentinel.port}/{SERVICE}/0"
    engine = await open_redis_engine(RedisOptions(url=url, key_prefix=fresh_prefix(), pool_size=2))
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.redis"):
            results = await asyncio.gather(
                *(engine.events.append([new_event(f"burst-{i}")], 60) for i in range(50)),
                return_exceptions=True,
            )
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert [r.getMessage() for r in caplog.records if r.name == "gateway.redis"] == []
        assert engine.health.errors == 0
    finally:
        await engine.close()
