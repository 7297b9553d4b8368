"""Presence across processes sharing one engine (two in-process gateways, each with its own
instance id): changes made through one reach the sessions of the other, the sessions of a
process that stopped beating are reaped, a process reaped while alive joins its sessions
again, and a hub's rosters are coalesced however fast an agent flips its status."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from typing import Any

import aiohttp
import pytest
from ws_helpers import ADMIN_KEY, agent_token, next_frame

from gateway.engine.base import Engine, EngineUnavailable
from gateway.engine.memory import MemoryEngine
from gateway.engine.presence import PresenceSession
from gateway.http.appkeys import LOOPS
from gateway.ws import presence as presence_sync
from tests.conftest import NewEngine

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def two_processes(make_gateway: Any, new_engine: NewEngine) -> tuple[Any, Any, Engine]:
    """Two gateways over one engine's data, each with its own instance id, as two
    processes sharing a backing store are (over Redis, two engines on one Redis)."""
    engine = await new_engine()
    if isinstance(engine, MemoryEngine):
        other: Engine = copy.copy(engine)
        other.instance_id = uuid.uuid4().hex
    else:
        other = await new_engine()
    return await make_gateway(engine), await make_gateway(other), engine


async def roster_of(ws: aiohttp.ClientWebSocketResponse, hub_id: str) -> dict[str, str]:
    while True:
        frame = await next_frame(ws, "presence")
        if frame["hubId"] == hub_id:
            return {agent["agentId"]: agent["status"] for agent in frame["agents"]}


async def becomes(ws: aiohttp.ClientWebSocketResponse, hub_id: str, roster: dict[str, str]) -> None:
    while await roster_of(ws, hub_id) != roster:
        pass


TAKEOVER_BOUND_SECONDS = 60


def test_a_crashed_process_leaves_the_rosters_within_the_takeover_bound() -> None:
    """Its last beat is at most its crash, its record lives `PRESENCE_TTL_SECONDS` after
    that beat, and some process reaps within `REAP_SECONDS` after: the agents of a crashed
    process are gone from every roster within the sum, which the docs state."""
    bound = presence_sync.PRESENCE_TTL_SECONDS + presence_sync.REAP_SECONDS
    assert bound <= TAKEOVER_BOUND_SECONDS
    assert presence_sync.HEARTBEAT_SECONDS * 2 <= presence_sync.PRESENCE_TTL_SECONDS
    assert f"({bound:.0f} s;" in (presence_sync.__doc__ or "")


@pytest.fixture
def fast_presence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Heartbeats, expiry and reaping in tenths of seconds instead of tens."""
    monkeypatch.setattr(presence_sync, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(presence_sync, "PRESENCE_TTL_SECONDS", 0.3)
    monkeypatch.setattr(presence_sync, "REAP_SECONDS", 0.05)


async def test_changes_through_one_process_reach_sessions_of_the_other(
    make_gateway: Any, new_engine: NewEngine
) -> None:
    first, second, _ = await two_processes(make_gateway, new_engine)
    ann, _ = await first.session(agent_token("ann", ["hub-a"]))
    assert await roster_of(ann, "hub-a") == {"ann": "available"}

    bob, _ = await second.session(agent_token("bob", ["hub-a"]))
    await becomes(ann, "hub-a", {"ann": "available", "bob": "available"})
    await bob.send_json({"type": "status", "status": "busy"})
    await becomes(ann, "hub-a", {"ann": "available", "bob": "busy"})
    await ann.send_json({"type": "status", "status": "unavailable"})
    await becomes(bob, "hub-a", {"ann": "unavailable", "bob": "busy"})
    await bob.close()
    await becomes(ann, "hub-a", {"ann": "unavailable"})
    await ann.close()


@pytest.mark.usefixtures("fast_presence")
async def test_the_sessions_of_a_process_that_stopped_beating_leave(
    make_gateway: Any, new_engine: NewEngine
) -> None:
    first, second, _ = await two_processes(make_gateway, new_engine)
    ann, _ = await first.session(agent_token("ann", ["hub-a"]))
    bob, _ = await second.session(agent_token("bob", ["hub-a"]))
    await becomes(ann, "hub-a", {"ann": "available", "bob": "available"})

    await second.app[LOOPS].stop()  # the second process hangs: no heartbeat, no reaping
    started = time.monotonic()
    await becomes(ann, "hub-a", {"ann": "available"})
    assert time.monotonic() - started >= 0.2  # not before its presence expired
    roster = await (await first.client.get("/hubs/hub-a/presence", headers=ADMIN)).json()
    assert [agent["agentId"] for agent in roster["agents"]] == ["ann"]
    await ann.close()
    await bob.close()


@pytest.mark.usefixtures("fast_presence")
async def test_a_process_reaped_while_alive_joins_its_sessions_again(
    make_gateway: Any, new_engine: NewEngine
) -> None:
    """As after an engine outage longer than the presence expiry: another process reaped
    this one's sessions; its next heartbeat learns it and joins them again."""
    first, watcher, engine = await two_processes(make_gateway, new_engine)
    carol, _ = await watcher.session(agent_token("carol", ["hub-a"]))
    ann, _ = await first.session(agent_token("ann", ["hub-a"], name="Ann"))
    await ann.send_json({"type": "status", "status": "busy"})
    await becomes(carol, "hub-a", {"ann": "busy", "carol": "available"})

    # another process, believing the first dead (a long pause), reaps it
    await engine.presence.reap(int(time.time() * 1000) + 3_600_000)
    await becomes(carol, "hub-a", {})  # carol's own process was reaped too
    await becomes(carol, "hub-a", {"ann": "busy", "carol": "available"})
    roster = await (await first.client.get("/hubs/hub-a/presence", headers=ADMIN)).json()
    assert {(a["agentId"], a["name"], a["sessions"]) for a in roster["agents"]} == {
        ("ann", "Ann", 1),
        ("carol", None, 1),
    }
    await ann.close()
    await carol.close()


class FailingLeave:
    """The engine's presence store behind a switch: `failing` makes every leave raise."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failing = False

    async def leave(self, *args: Any) -> list[str]:
        if self.failing:
            raise EngineUnavailable("leave refused by the test")
        result: list[str] = await self.inner.leave(*args)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.usefixtures("fast_presence")
async def test_a_session_that_ends_while_the_engine_is_away_leaves_at_the_next_beat(
    make_gateway: Any, new_engine: NewEngine
) -> None:
    engine = await new_engine()
    store = FailingLeave(engine.presence)
    engine.presence = store  # type: ignore[assignment]
    gateway = await make_gateway(engine)
    ann, _ = await gateway.session(agent_token("ann", ["hub-a"]))
    bob, _ = await gateway.session(agent_token("bob", ["hub-a"]))
    await becomes(ann, "hub-a", {"ann": "available", "bob": "available"})

    store.failing = True
    await bob.close()
    await asyncio.sleep(0.3)  # several heartbeats, each failing to settle bob's leave
    assert [agent.agent_id for agent in await store.inner.agents("hub-a")] == ["ann", "bob"]
    store.failing = False
    await becomes(ann, "hub-a", {"ann": "available"})
    await ann.close()


@pytest.mark.usefixtures("fast_presence")
async def test_a_session_of_a_crashed_process_is_reaped(make_gateway: Any) -> None:
    engine = MemoryEngine()
    gateway = await make_gateway(engine)
    ghost = PresenceSession("ghost-session", "crashed-instance", "ghost", None)
    await engine.presence.join(["hub-a"], ghost, "available", int(time.time() * 1000))
    ann, _ = await gateway.session(agent_token("ann", ["hub-a"]))
    assert await roster_of(ann, "hub-a") in (
        {"ann": "available", "ghost": "available"},
        {"ann": "available"},
    )
    await becomes(ann, "hub-a", {"ann": "available"})
    await ann.close()


async def test_a_status_flood_is_coalesced_and_ends_with_the_current_roster(
    make_gateway: Any,
) -> None:
    # bob's 61 frames at once are past the client-frame rate limit (tests/ws/test_ws_limits.py);
    # here it is raised, so that every status reaches the roster feed
    gateway = await make_gateway(ws_client_frames_per_second=1000)
    ann, _ = await gateway.session(agent_token("ann", ["hub-a"]))
    bob, _ = await gateway.session(agent_token("bob", ["hub-a"]))
    await becomes(ann, "hub-a", {"ann": "available", "bob": "available"})
    await asyncio.sleep(1.1)  # the hub's budget refilled

    statuses = ["busy", "available"] * 30 + ["unavailable"]
    for status in statuses:
        await bob.send_json({"type": "status", "status": status})
    started = time.monotonic()
    rosters = []
    while time.monotonic() - started < 1.5:
        try:
            rosters.append(await asyncio.wait_for(roster_of(ann, "hub-a"), 0.5))
        except TimeoutError:
            break
    assert rosters[-1] == {"ann": "available", "bob": "unavailable"}
    elapsed = time.monotonic() - started
    allowed = presence_sync.ROSTER_BURST + presence_sync.ROSTERS_PER_SECOND * elapsed + 1
    assert len(rosters) <= allowed < len(statuses)
    await ann.close()
    await bob.close()


async def test_readyz_watches_the_presence_loops(make_gateway: Any) -> None:
    class BrokenHeartbeat:
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.beats = 0

        async def heartbeat(self, *args: Any) -> bool:
            self.beats += 1
            if self.beats > 1:
                raise RuntimeError("injected bug")
            result: bool = await self.inner.heartbeat(*args)
            return result

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    engine = MemoryEngine()
    engine.presence = BrokenHeartbeat(engine.presence)  # type: ignore[assignment]
    gateway = await make_gateway(engine)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = await gateway.client.get("/readyz")
        if response.status == 503:
            break
        await asyncio.sleep(0.02)
    body = await response.json()
    assert "loop presence-heartbeat is not running" in body["problems"]
