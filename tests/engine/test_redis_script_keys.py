"""Every key a Lua script touches is one its caller declared in KEYS, but for the few that
are named by data the script reads (listed in `UNDECLARED`): on a Redis Cluster whose slot
is being moved, Redis refuses a script with declared keys before it runs, while a key it
did not declare that has already moved fails the script halfway through.

The scripts run under `MONITOR` while one call of each is made; each key of each command a
script sends (found by `COMMAND GETKEYS`) is checked against the script's KEYS."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from importlib import resources

import pytest
import redis

from gateway.engine.presence import PresenceSession
from gateway.engine.redis import RedisEngine, RedisOptions, open_redis_engine
from gateway.engine.redis.scripts import lua
from tests.engine.queue_kit import claim, conclusion, delivery, enqueue
from tests.redis_support import RedisServer, new_event

END = "script-keys-test-end"
ARGUMENT = re.compile(rb'"((?:[^"\\]|\\.)*)"')
UNDECLARED = {
    # the live dedup buckets, found through the bucket index
    "log_append": ":dedup:",
    "log_seen": ":dedup:",
    # the instance of a session leaving, read from the hub's sessions
    "presence_leave": ":presence:instance:",
    # the instances a reap finds expired, their sessions' hubs
    "presence_reap": ":presence:",
    # the lanes of a dropped subscriber
    "dq_drop": ":lane:",
}


@pytest.fixture
async def engine(redis_options: RedisOptions) -> AsyncIterator[RedisEngine]:
    engine = await open_redis_engine(redis_options)
    yield engine
    await engine.close()


def _unescaped(raw: bytes) -> bytes:
    return re.sub(rb"\\(.)", lambda m: m[1], raw) if b"\\x" not in raw else raw


def _monitor(server: RedisServer, lines: list[list[bytes]], ready: threading.Event) -> None:
    client = server.client()
    with client.monitor() as monitor:
        ready.set()
        while True:
            line = monitor.connection.read_response()
            args = [_unescaped(a) for a in ARGUMENT.findall(line)]
            if args[:2] == [b"ECHO", END.encode()]:
                return
            lines.append([b"lua" if b" [0 lua] " in line else b"client", *args])


async def _every_script(engine: RedisEngine) -> None:
    queue, presence = engine.deliveries, engine.presence
    await engine.events.append([new_event("a"), new_event("b")], 60)
    await engine.events.seen(["a", "zzz"])
    await engine.events.trim(0, 1 << 40)
    await engine.registry.create("thing", "t1", {"v": 1})
    await engine.registry.replace("thing", "t1", {"v": 2}, 1)
    await engine.registry.delete("thing", "t1")
    await engine.throttle.take("ip:1", 1.0, 2.0, 1.0)
    ordered = [delivery(n, lane="c1") for n in (1, 2)]
    await enqueue(engine, [*ordered, delivery(3), delivery(4, "s2")])
    claimed = {item.event_id: item for item in await claim(engine, 1.0)}
    first, third = (claimed[d.event_id] for d in (ordered[0], delivery(3)))
    [fourth] = await claim(engine, 1.0, "s2")
    await asyncio.gather(  # one run of the conclude script for both subscribers
        queue.conclude(conclusion(first, "finish")),
        queue.conclude(conclusion(third, "dead", at=1.0)),
        queue.conclude(conclusion(fourth, "retry", at=1.0, due_at=2.0)),
    )
    [second] = await claim(engine, 2.0)
    await queue.conclude(conclusion(second, "retry", at=2.0, due_at=3.0))
    [again] = await claim(engine, 3.0)
    await queue.release([again], 3.0)
    await queue.park("s1")
    await queue.unpark("s1", 4.0)
    await queue.dead_letters("s1", "", 10)
    await queue.attempts("s1")
    await queue.drop_subscriber("s1")
    session = PresenceSession("sess-1", engine.instance_id, "ann", "Ann")
    await presence.join(["h1", "h2"], session, "online", 1000)
    await presence.set_status(["h1"], "ann", "away", 2000)
    await presence.leave(["h2"], "sess-1")
    await presence.heartbeat(engine.instance_id, 3000, 100)
    await presence.reap(10_000)
    await queue.hold_lease("delivery-enqueuer", "proc-1", 5.0)
    await queue.release_lease("delivery-enqueuer", "proc-1")


async def test_every_script_declares_the_keys_it_touches(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    scripts = {script.sha: script for script in engine.link.scripts._all}
    names = {sha: _name(script.script) for sha, script in scripts.items()}
    lines: list[list[bytes]] = []
    ready = threading.Event()
    watcher = threading.Thread(target=_monitor, args=(redis_server, lines, ready), daemon=True)
    watcher.start()
    assert ready.wait(10)
    try:
        await _every_script(engine)
    finally:
        redis_server.client().echo(END)
        watcher.join(10)

    probe = redis_server.client()
    prefix = engine.keys.prefix
    current: tuple[str, set[bytes]] | None = None
    checked: dict[str, int] = {}
    wrong: list[str] = []
    for origin, *args in lines:
        if origin == b"client":
            current = None
            if args and args[0].upper() == b"EVALSHA":
                count = int(args[2])
                current = (names[args[1].decode()], set(args[3 : 3 + count]))
                checked.setdefault(current[0], 0)
            continue
        if current is None:
            continue
        name, declared = current
        for key in _keys_of(probe, args):
            if not key.startswith(b"{" + prefix.encode()):
                continue
            checked[name] += 1
            allowed = UNDECLARED.get(name)
            if key not in declared and not (allowed and allowed.encode() in key):
                wrong.append(f"{name}: {args[0].decode()} {key.decode()}")
    assert wrong == []
    assert set(checked) == set(names.values())  # every script ran under the monitor
    assert all(checked.values()), checked


def _keys_of(probe: redis.Redis, args: list[bytes]) -> list[bytes]:
    if args[0].upper() in KEYLESS:
        return []
    keys = probe.command_getkeys(*args)
    return [key.encode() if isinstance(key, str) else key for key in keys]


KEYLESS = {b"TIME"}


def _name(source: str) -> str:
    """A script's name: the file its last part came from (`Scripts.register`)."""
    for candidate in SCRIPT_FILES:
        if source.endswith(lua(candidate)):
            return candidate
    raise AssertionError("a script from no known file")


SCRIPT_FILES = sorted(
    path.name.removesuffix(".lua")
    for path in (resources.files("gateway.engine.redis") / "lua").iterdir()
    if path.name.endswith(".lua") and not path.name.endswith("_common.lua")
)
