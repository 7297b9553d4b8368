"""Presence conformance: roster changes only when the roster changes, idempotent joins,
instances that heartbeat and the reaping of those that stopped, and the change feed every
process follows."""

from __future__ import annotations

import asyncio

from gateway.engine.base import Engine
from gateway.engine.presence import ROSTER_FEED_LENGTH, PresenceSession
from tests.engine.conftest import EngineFactory

TTL_MS = 30_000


def session(
    session_id: str, agent: str, instance: str = "i1", name: str | None = None
) -> PresenceSession:
    return PresenceSession(session_id, instance, agent, name)


async def roster(engine: Engine, hub_id: str) -> dict[str, tuple[str, int]]:
    return {a.agent_id: (a.status, a.sessions) for a in await engine.presence.agents(hub_id)}


async def test_only_roster_changes_are_reported(engine: Engine) -> None:
    store = engine.presence
    ann = session("s1", "ann", name="Ann")
    assert await store.join(["h1", "h2"], ann, "available", 1000) == ["h1", "h2"]
    assert await store.join(["h1"], session("s2", "ann", name="Ann"), "available", 2000) == []
    [record] = await store.agents("h1")
    assert (record.name, record.status, record.sessions, record.since_ms) == (
        "Ann",
        "available",
        2,
        1000,
    )
    assert await store.set_status(["h1", "h2"], "ann", "busy", 3000) == ["h1", "h2"]
    assert await store.set_status(["h1"], "ann", "busy", 4000) == []
    assert await store.set_status(["h1"], "nobody", "busy", 4000) == []
    assert await store.leave(["h1"], "s2") == []
    [record] = await store.agents("h1")
    assert (record.status, record.sessions, record.since_ms) == ("busy", 1, 3000)
    assert await store.leave(["h1", "h2"], "s1") == ["h1", "h2"]
    assert await store.agents("h1") == []
    assert await store.leave(["h1"], "s1") == []


async def test_agents_are_listed_by_id(engine: Engine) -> None:
    for agent in ("carol", "ann", "bob"):
        await engine.presence.join(["h1"], session(f"s-{agent}", agent), "available", 1)
    assert [a.agent_id for a in await engine.presence.agents("h1")] == ["ann", "bob", "carol"]


async def test_joining_again_is_idempotent(engine: Engine) -> None:
    ann = session("s1", "ann")
    await engine.presence.join(["h1"], ann, "available", 1000)
    assert await engine.presence.join(["h1", "h2"], ann, "available", 2000) == ["h2"]
    assert await roster(engine, "h1") == {"ann": ("available", 1)}
    assert await engine.presence.leave(["h1", "h2"], "s1") == ["h1", "h2"]
    assert await roster(engine, "h1") == {}


async def test_a_new_session_brings_its_status(engine: Engine) -> None:
    await engine.presence.join(["h1"], session("s1", "ann"), "available", 1000)
    assert await engine.presence.join(["h1"], session("s2", "ann"), "busy", 2000) == ["h1"]
    [record] = await engine.presence.agents("h1")
    assert (record.status, record.since_ms, record.sessions) == ("busy", 2000, 2)


async def test_heartbeats_say_when_an_instance_was_not_alive(engine: Engine) -> None:
    store = engine.presence
    assert await store.heartbeat("i1", 1000, TTL_MS) is True
    assert await store.heartbeat("i1", 20_000, TTL_MS) is False
    assert await store.heartbeat("i1", 20_000 + TTL_MS, TTL_MS) is True  # it had expired
    assert await store.heartbeat("i2", 20_000, TTL_MS) is True


async def test_the_sessions_of_an_instance_that_stopped_beating_are_reaped(
    make_engine: EngineFactory,
) -> None:
    first, second = await make_engine(), await make_engine()
    await first.presence.heartbeat("i1", 0, TTL_MS)
    await second.presence.heartbeat("i2", 0, TTL_MS)
    await first.presence.join(["h1", "h2"], session("a1", "ann", "i1"), "available", 0)
    await first.presence.join(["h3"], session("c1", "carol", "i1"), "available", 0)
    await second.presence.join(["h1"], session("a2", "ann", "i2"), "busy", 0)
    await second.presence.join(["h1"], session("b2", "bob", "i2"), "available", 0)

    assert await second.presence.reap(TTL_MS - 1) == []
    await second.presence.heartbeat("i2", 20_000, TTL_MS)
    assert sorted(await second.presence.reap(TTL_MS)) == ["h2", "h3"]
    assert await roster(first, "h1") == {"ann": ("busy", 1), "bob": ("available", 1)}
    assert await roster(first, "h2") == {}
    assert await roster(first, "h3") == {}
    assert await second.presence.reap(TTL_MS + 1) == []
    assert await second.presence.leave(["h1"], "a2") == ["h1"]
    assert await roster(first, "h1") == {"bob": ("available", 1)}

    # the reaped instance comes back: told so, it joins its live sessions again
    assert await first.presence.heartbeat("i1", TTL_MS + 5, TTL_MS) is True
    assert await first.presence.join(["h2"], session("a1", "ann", "i1"), "available", 1) == ["h2"]


async def test_the_feed_carries_every_change_to_every_process(make_engine: EngineFactory) -> None:
    first, second = await make_engine(), await make_engine()
    start = await second.presence.changes_after(None, 0.01)
    assert (start.hub_ids, start.complete) == ([], True)
    waiting = asyncio.create_task(second.presence.changes_after(start.cursor, 5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await first.presence.join(["h1", "h2"], session("s1", "ann"), "available", 1)
    changes = await asyncio.wait_for(waiting, 2)
    assert sorted(changes.hub_ids) == ["h1", "h2"] and changes.complete

    await first.presence.set_status(["h1"], "ann", "busy", 2)
    await first.presence.join(["h1"], session("s2", "ann"), "busy", 3)  # no change
    await first.presence.set_status(["h1"], "ann", "available", 4)
    await first.presence.leave(["h2"], "s1")
    later = await second.presence.changes_after(changes.cursor, 0.01)
    assert sorted(later.hub_ids) == ["h1", "h2"]  # each hub once
    assert (await second.presence.changes_after(later.cursor, 0.01)).hub_ids == []


async def test_reaping_is_in_the_feed(engine: Engine) -> None:
    await engine.presence.join(["h9"], session("s1", "ann", "gone"), "available", 0)
    cursor = (await engine.presence.changes_after(None, 0)).cursor
    await engine.presence.reap(10 * TTL_MS)
    assert (await engine.presence.changes_after(cursor, 1)).hub_ids == ["h9"]


async def test_a_reader_left_behind_is_told_its_view_is_incomplete(engine: Engine) -> None:
    cursor = (await engine.presence.changes_after(None, 0)).cursor
    await engine.presence.join(["h1"], session("s1", "ann"), "available", 0)
    for step in range(3 * ROSTER_FEED_LENGTH):
        status = ("busy", "available")[step % 2]
        await engine.presence.set_status(["h1"], "ann", status, step)
    behind = await engine.presence.changes_after(cursor, 0)
    assert behind.complete is False
    assert (await engine.presence.changes_after(behind.cursor, 0)).complete is True
    assert (await engine.presence.changes_after("not a cursor", 0)).complete is False


async def test_concurrent_joins_of_one_agent_count_every_session(
    make_racing_engine: EngineFactory,
) -> None:
    first, second = await make_racing_engine(), await make_racing_engine()
    await asyncio.gather(
        *(
            engine.presence.join(
                ["h1"], session(f"s{n}", "ann", engine.instance_id), "available", n
            )
            for n, engine in enumerate([first, second] * 3)
        )
    )
    assert await roster(first, "h1") == {"ann": ("available", 6)}
