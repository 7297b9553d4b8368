"""The Redis engine against the deployments it meets: a Redis that stops and comes back, one
that evicts or holds another key layout, two deployments sharing one Redis, unix sockets
and TLS — each with a real redis-server, faults injected by stopping it."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import ipaddress
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.crc import key_slot

import gateway.engine.redis as redis_engine
from gateway.engine.base import EngineStats, EngineUnavailable
from gateway.engine.deliveries import DeliveryQueue
from gateway.engine.events import EventLog
from gateway.engine.presence import PresenceSession, PresenceStore
from gateway.engine.redis import RedisConfigError, RedisEngine, RedisOptions, open_redis_engine
from gateway.engine.redis.deliveries import RedisDeliveryQueue
from gateway.engine.redis.events import RedisEventLog
from gateway.engine.redis.presence import RedisPresenceStore
from gateway.engine.redis.registry import RedisRegistry
from gateway.engine.redis.throttle import RedisThrottle
from gateway.engine.registry import Registry
from gateway.engine.throttle import Throttle
from tests.engine.queue_kit import claim, conclusion, delivery, enqueue
from tests.redis_support import (
    RedisServer,
    assert_a_waiter_wakes,
    free_port,
    fresh_prefix,
    new_event,
)

FAST = {"timeout_seconds": 1.0, "connect_timeout_seconds": 0.5}


@pytest.fixture
def own_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A redis-server of this test's own, to stop and start (appendonly: it keeps its data
    across a restart)."""
    server = RedisServer(tmp_path / "redis", "--appendonly", "yes").start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.mark.parametrize(
    ("protocol", "store"),
    [
        (EventLog, RedisEventLog),
        (Registry, RedisRegistry),
        (DeliveryQueue, RedisDeliveryQueue),
        (PresenceStore, RedisPresenceStore),
        (Throttle, RedisThrottle),
    ],
)
def test_every_method_of_every_store_is_behind_the_unavailable_boundary(
    protocol: type, store: type
) -> None:
    methods = [name for name in vars(protocol) if not name.startswith("_")]
    assert methods
    for name in methods:
        assert inspect.iscoroutinefunction(getattr(protocol, name)), name
        assert getattr(getattr(store, name), "__guarded__", False), f"{store.__name__}.{name}"


async def _calls_of_every_store(engine: RedisEngine) -> list[object]:
    """One call of each store (and a ping); each must fail as EngineUnavailable."""
    failures: list[object] = []
    calls = [
        lambda: engine.events.append([new_event("k")], 60),
        lambda: engine.events.read_after("0", 10),
        lambda: engine.registry.create("thing", "t1", {}),
        lambda: engine.deliveries.claim("s1", 1.0, 10, 30.0, max_in_flight=10),
        lambda: engine.presence.agents("h1"),
        lambda: engine.throttle.take("k", 1.0, 1.0, 1.0),
        engine.ping,
    ]
    for call in calls:
        try:
            await call()  # type: ignore[operator]
        except EngineUnavailable as exc:
            failures.append(exc)
    return failures


async def test_a_stopped_redis_is_unavailable_then_available_again_one_line_each(
    own_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    options = RedisOptions(url=own_server.url, key_prefix=fresh_prefix(), **FAST)
    engine = await open_redis_engine(options)
    try:
        stored = (await engine.events.append([new_event("before")], 60)).stored
        own_server.stop()
        caplog.set_level(logging.WARNING, logger="gateway.redis")
        started = time.monotonic()
        failures = await _calls_of_every_store(engine)
        failures += await _calls_of_every_store(engine)
        assert len(failures) == 14
        assert time.monotonic() - started < 10
        own_server.start()
        for _ in range(3):  # a pooled connection may learn of the restart by failing once
            try:
                await engine.events.append([new_event("after")], 60)
                break
            except EngineUnavailable:
                await asyncio.sleep(0.1)
        events = await engine.events.read_after("0", 10)
        assert events[0].id == stored[0].id
        assert events[-1].id > stored[0].id
        await engine.ping()
    finally:
        await engine.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.redis"]
    assert len([line for line in lines if "is unavailable" in line]) == 1
    assert len([line for line in lines if "available again" in line]) == 1
    assert all("redis at redis://127.0.0.1" in line for line in lines)


async def test_waiters_hear_that_redis_went_and_wake_again_once_it_is_back(
    own_server: RedisServer,
) -> None:
    """With the engine's own readings for `/metrics`: errors counted, and the reader's lag
    growing while Redis is away and back to nothing once the reader caught up."""
    options = RedisOptions(url=own_server.url, key_prefix=fresh_prefix(), **FAST)
    engine = await open_redis_engine(options)
    try:
        cursor = await engine.events.last_id()
        waiter = asyncio.create_task(engine.events.wait_after(cursor, 10, 30))
        feed = asyncio.create_task(engine.presence.changes_after(None, 30))
        await asyncio.sleep(0.2)
        assert engine.stats() == EngineStats(errors=0, reader_lag_seconds=0.0)
        own_server.stop()
        with pytest.raises(EngineUnavailable):
            await asyncio.wait_for(waiter, 10)
        heard = time.time()  # the reader failed, and told its waiters
        with pytest.raises(EngineUnavailable):
            await asyncio.wait_for(feed, 10)
        await asyncio.sleep(1.0)
        down = engine.stats()
        assert down.errors >= 1
        assert down.reader_lag_seconds >= time.time() - heard

        own_server.start()
        for _ in range(20):
            try:
                cursor = await engine.events.last_id()
                break
            except EngineUnavailable:
                await asyncio.sleep(0.1)
        await assert_a_waiter_wakes(engine)
        back = engine.stats()
        assert back.errors >= down.errors
        assert back.reader_lag_seconds < 1.0
    finally:
        await engine.close()


async def test_a_redis_nobody_listens_on_is_refused_at_start_in_one_line() -> None:
    options = RedisOptions(url=f"redis://127.0.0.1:{free_port()}/0", **FAST)
    with pytest.raises(EngineUnavailable) as refused:
        await open_redis_engine(options)
    assert "cannot reach redis at redis://127.0.0.1" in refused.value.detail
    assert "\n" not in refused.value.detail


async def test_an_evicting_redis_is_refused(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, "--maxmemory-policy", "allkeys-lru").start()
    try:
        with pytest.raises(RedisConfigError) as refused:
            await open_redis_engine(RedisOptions(url=server.url, key_prefix=fresh_prefix()))
    finally:
        server.stop()
    message = str(refused.value)
    assert "maxmemory-policy allkeys-lru" in message and "noeviction" in message
    assert "\n" not in message


async def test_a_redis_switched_to_evicting_fails_the_ping(
    own_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await open_redis_engine(RedisOptions(url=own_server.url, key_prefix=fresh_prefix()))
    try:
        await engine.ping()
        own_server.client().config_set("maxmemory-policy", "volatile-lru")
        await engine.ping()  # checked every few seconds, not per call
        monkeypatch.setattr(redis_engine, "POLICY_CHECK_SECONDS", 0.0)
        with pytest.raises(EngineUnavailable) as refused:
            await engine.ping()
        assert "maxmemory-policy volatile-lru" in refused.value.detail
        own_server.client().config_set("maxmemory-policy", "noeviction")
        await engine.ping()
    finally:
        await engine.close()


async def test_another_key_layout_under_the_prefix_is_refused(
    redis_options: RedisOptions,
) -> None:
    engine = await open_redis_engine(redis_options)
    schema_key = engine.keys.schema
    await engine.close()
    again = await open_redis_engine(redis_options)  # the same layout: fine
    await again.link.redis.set(schema_key, "2")
    await again.close()
    with pytest.raises(RedisConfigError) as refused:
        await open_redis_engine(redis_options)
    assert "key layout version 2" in str(refused.value)
    assert repr(redis_options.key_prefix) in str(refused.value)


async def test_key_prefixes_keep_two_deployments_apart(redis_server: RedisServer) -> None:
    first = await open_redis_engine(RedisOptions(url=redis_server.url, key_prefix=fresh_prefix()))
    second = await open_redis_engine(RedisOptions(url=redis_server.url, key_prefix=fresh_prefix()))
    try:
        for engine in (first, second):
            assert len((await engine.events.append([new_event("same")], 60)).stored) == 1
            assert (await engine.registry.create("thing", "t1", {"of": engine.keys.prefix}))[1]
            await enqueue(engine, [delivery(1)])
        assert len(await first.events.read_after("0", 10)) == 1
        found = await second.registry.get("thing", "t1")
        assert found is not None and found.record == {"of": second.keys.prefix}
        assert len(await claim(first, 1.0)) == 1
        assert len(await claim(second, 1.0)) == 1
        raw = redis_server.client()
        for engine in (first, second):
            keys = list(raw.scan_iter(match="{" + engine.keys.prefix + ":*"))
            assert keys
            other = second if engine is first else first
            assert not any(key.startswith(("{" + other.keys.prefix).encode()) for key in keys)
    finally:
        await first.close()
        await second.close()


async def test_every_key_carries_a_hash_tag_and_each_slot_holds_what_changes_together(
    redis_options: RedisOptions, redis_server: RedisServer
) -> None:
    engine = await open_redis_engine(redis_options)
    try:
        await engine.events.append([new_event("k")], 60)
        await engine.registry.create("thing", "t1", {})
        await enqueue(engine, [delivery(1, lane="s1/c"), delivery(2, lane="s1/c")])
        [head] = await claim(engine, 1.0)
        await engine.deliveries.conclude(conclusion(head, "dead", at=1.0))
        await engine.presence.heartbeat("i1", 0, 1000)
        await engine.presence.join(["h1"], PresenceSession("s", "i1", "ann", None), "busy", 0)
        await engine.throttle.take("ip:127.0.0.1", 1.0, 5.0, 0.0)
    finally:
        await engine.close()
    prefix = redis_options.key_prefix
    keys = [key.decode() for key in redis_server.client().scan_iter(match=f"*{prefix}*")]
    assert all(key.startswith("{" + prefix + ":") for key in keys)
    tags: dict[str, set[int]] = {}
    for key in keys:
        tag = key[1 : key.index("}")]
        tags.setdefault(tag.split(":")[1], set()).add(key_slot(key.encode()))
    assert set(tags) == {"meta", "log", "reg", "dq", "throttle"}
    assert all(len(slots) == 1 for slots in tags.values())
    log_keys = [key for key in keys if key.startswith("{" + prefix + ":log}")]
    assert any(":presence:" in key for key in log_keys)  # presence lives beside the events
    assert any(key.endswith(":roster") for key in log_keys)


async def test_unix_socket(tmp_path: Path) -> None:
    socket_path = tmp_path / "redis.sock"
    server = RedisServer(tmp_path, "--unixsocket", str(socket_path)).start()
    try:
        engine = await open_redis_engine(
            RedisOptions(url=f"unix://{socket_path}?db=0", key_prefix=fresh_prefix())
        )
        try:
            assert len((await engine.events.append([new_event("k")], 60)).stored) == 1
        finally:
            await engine.close()
    finally:
        server.stop()


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey]
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
    if subject == issuer[0]:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        names = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    return builder.sign(issuer[1], hashes.SHA256())


def _write_pair(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[str, str]:
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


async def test_tls_with_a_private_ca_and_a_client_certificate(tmp_path: Path) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("gateway test CA", ca_key, ("gateway test CA", ca_key))
    ca_file, _ = _write_pair(tmp_path, "ca", ca, ca_key)
    pairs = {}
    for name in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        pairs[name] = _write_pair(
            tmp_path, name, _certificate(name, key, ("gateway test CA", ca_key)), key
        )
    port = free_port()
    server = RedisServer(
        tmp_path / "redis",
        "--port", "0", "--tls-port", str(port),
        "--tls-cert-file", pairs["server"][0], "--tls-key-file", pairs["server"][1],
        "--tls-ca-cert-file", ca_file, "--tls-auth-clients", "yes",
        port=port,
        client_options={
            "ssl": True, "ssl_ca_certs": ca_file,
            "ssl_certfile": pairs["client"][0], "ssl_keyfile": pairs["client"][1],
        },
    ).start()  # fmt: skip
    url = f"rediss://localhost:{port}/0"
    try:
        engine = await open_redis_engine(
            RedisOptions(
                url=url,
                key_prefix=fresh_prefix(),
                tls_ca_file=ca_file,
                tls_cert_file=pairs["client"][0],
                tls_key_file=pairs["client"][1],
            )
        )
        try:
            assert len((await engine.events.append([new_event("k")], 60)).stored) == 1
        finally:
            await engine.close()
        with pytest.raises(EngineUnavailable):  # no client certificate: refused
            await open_redis_engine(RedisOptions(url=url, tls_ca_file=ca_file, **FAST))
    finally:
        server.stop()


def test_options_refuse_what_cannot_work_and_hide_the_password() -> None:
    with pytest.raises(RedisConfigError, match="must start with redis://, rediss://, unix://"):
        RedisOptions(url="http://localhost:6379")
    with pytest.raises(RedisConfigError, match="ends with /service"):
        RedisOptions(url="redis+sentinel://s1:26379,s2:26379/")
    with pytest.raises(RedisConfigError, match="is not host:port"):
        RedisOptions(url="redis+sentinel://s1:port/main")
    sentinel = RedisOptions(url="rediss+sentinel://app:pw@s1,[::1]:26380/main/3")
    assert sentinel.target == "rediss+sentinel://app:***@s1:26379,[::1]:26380/main/3"
    with pytest.raises(RedisConfigError, match="go together"):
        RedisOptions(url="rediss://localhost", tls_cert_file="c.pem")
    with pytest.raises(RedisConfigError, match="need a rediss:// URL"):
        RedisOptions(url="redis://localhost", tls_ca_file="ca.pem")
    options = RedisOptions(url="redis://user:s3cret@redis.internal:6380/2")
    assert options.target == "redis://user:***@redis.internal:6380/2"
    assert "s3cret" not in RedisOptions(url="redis://:s3cret@h/0").target
    in_query = RedisOptions(url="rediss://h:6380/1?password=s3cret&socket_keepalive=true")
    assert in_query.target == "rediss://h:6380/1?password=***&socket_keepalive=true"
