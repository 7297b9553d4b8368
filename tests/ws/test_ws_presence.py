"""Presence: frames to the hub's sessions on connect, status and leave; the admin roster."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import aiohttp
from ws_helpers import ADMIN_KEY, agent_token, next_frame

from tests.conftest import NewEngine

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def _presence(ws: aiohttp.ClientWebSocketResponse, hub_id: str) -> dict[str, str]:
    """The next presence roster of `hub_id`, as agentId -> status."""
    while True:
        frame = await next_frame(ws, "presence")
        if frame["hubId"] == hub_id:
            return {agent["agentId"]: agent["status"] for agent in frame["agents"]}


async def _becomes(
    ws: aiohttp.ClientWebSocketResponse, hub_id: str, roster: dict[str, str]
) -> None:
    """Read `hub_id`'s presence frames until one shows `roster` (times out otherwise)."""
    while await _presence(ws, hub_id) != roster:
        pass


async def test_presence_frames_follow_connect_status_and_leave(make_gateway: Any) -> None:
    gw = await make_gateway()
    ann, _ = await gw.session(agent_token("ann", ["hub-a", "hub-b"], name="Ann"))
    first = await next_frame(ann, "presence")
    assert first["agents"] == [{"agentId": "ann", "name": "Ann", "status": "available"}]
    assert await _presence(ann, "hub-b") == {"ann": "available"}

    carol, _ = await gw.session(agent_token("carol", ["hub-c"]))
    assert await _presence(carol, "hub-c") == {"carol": "available"}

    bob1, _ = await gw.session(agent_token("bob", ["hub-a"], name="Bob"))
    await _becomes(ann, "hub-a", {"ann": "available", "bob": "available"})
    bob2, _ = await gw.session(agent_token("bob", ["hub-a"], name="Bob"))
    assert await _presence(bob2, "hub-a") == {"ann": "available", "bob": "available"}

    await bob2.send_json({"type": "status", "status": "busy"})
    # ann heard nothing of bob's second session: the roster did not change
    assert await _presence(ann, "hub-a") == {"ann": "available", "bob": "busy"}
    await _becomes(bob1, "hub-a", {"ann": "available", "bob": "busy"})
    await ann.send_json({"type": "status", "status": "unavailable"})
    await _becomes(bob2, "hub-a", {"ann": "unavailable", "bob": "busy"})
    await bob1.send_json({"type": "status", "status": "available"})
    await _becomes(ann, "hub-a", {"ann": "unavailable", "bob": "available"})
    await _becomes(bob2, "hub-a", {"ann": "unavailable", "bob": "available"})

    response = await gw.client.get("/hubs/hub-a/presence", headers=ADMIN)
    assert response.status == 200
    roster = await response.json()
    assert roster["hubId"] == "hub-a"
    assert roster["counts"] == {"available": 1, "busy": 0, "unavailable": 1}
    bob = next(agent for agent in roster["agents"] if agent["agentId"] == "bob")
    assert bob["name"] == "Bob"
    assert bob["status"] == "available"
    assert bob["sessions"] == 2
    since = datetime.fromisoformat(bob["since"].replace("Z", "+00:00")).timestamp()
    assert abs(since - time.time()) < 10

    await bob1.close()
    await bob2.close()
    # bob stays until his last session leaves, with the status he set last: one frame
    assert await _presence(ann, "hub-a") == {"ann": "unavailable"}
    roster = await (await gw.client.get("/hubs/hub-a/presence", headers=ADMIN)).json()
    assert [agent["agentId"] for agent in roster["agents"]] == ["ann"]
    assert roster["counts"] == {"available": 0, "busy": 0, "unavailable": 1}

    await ann.close()
    empty = {"hubId": "hub-a", "counts": {"available": 0, "busy": 0, "unavailable": 0}}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        roster = await (await gw.client.get("/hubs/hub-a/presence", headers=ADMIN)).json()
        if not roster["agents"]:
            break
        await asyncio.sleep(0.02)
    assert roster == {**empty, "agents": []}
    await carol.close()


async def test_carol_sees_no_presence_of_other_hubs(make_gateway: Any) -> None:
    gw = await make_gateway()
    carol, _ = await gw.session(agent_token("carol", ["hub-c"]))
    await _presence(carol, "hub-c")
    ann, _ = await gw.session(agent_token("ann", ["hub-a"]))
    await ann.send_json({"type": "status", "status": "busy"})
    await carol.send_json({"type": "status", "status": "busy"})
    frame = await next_frame(carol, "presence")
    assert frame["hubId"] == "hub-c"
    assert frame["agents"] == [{"agentId": "carol", "name": None, "status": "busy"}]
    await ann.close()
    await carol.close()


async def test_roster_needs_the_admin_key(make_gateway: Any) -> None:
    gw = await make_gateway()
    response = await gw.client.get("/hubs/hub-a/presence", headers={"Authorization": "Bearer x"})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


async def _roster_ids(gw: Any, hub_id: str) -> list[str]:
    response = await gw.client.get(f"/hubs/{hub_id}/presence", headers=ADMIN)
    return [agent["agentId"] for agent in (await response.json())["agents"]]


async def test_refresh_moves_presence_to_the_new_tokens_hubs(make_gateway: Any) -> None:
    gw = await make_gateway()
    ann, _ = await gw.session(agent_token("ann", ["h1", "h2"]))
    await _presence(ann, "h2")
    bob, _ = await gw.session(agent_token("bob", ["h2", "h3"]))
    assert await _presence(bob, "h2") == {"ann": "available", "bob": "available"}

    await ann.send_json({"type": "status", "status": "busy"})
    await _becomes(bob, "h2", {"ann": "busy", "bob": "available"})
    await ann.send_json({"type": "refresh", "token": agent_token("ann", ["h1", "h3"])})
    await next_frame(ann, "refreshed")
    assert await _presence(bob, "h2") == {"bob": "available"}
    # ann joins h3 with the status she set, and hears its roster
    assert await _presence(bob, "h3") == {"ann": "busy", "bob": "available"}
    assert await _presence(ann, "h3") == {"ann": "busy", "bob": "available"}
    assert await _roster_ids(gw, "h2") == ["bob"]
    assert await _roster_ids(gw, "h1") == ["ann"]
    assert await _roster_ids(gw, "h3") == ["ann", "bob"]

    await ann.close()
    await _becomes(bob, "h3", {"bob": "available"})
    assert await _roster_ids(gw, "h1") == []
    await bob.close()


class HeldRosterReads:
    """The engine's presence store, except that the next roster of `hub_id` read once
    `armed` is held, after the read, until `release` is set: a roster read that was
    overtaken by a join before it went out."""

    def __init__(self, inner: Any, hub_id: str) -> None:
        self.inner, self.hub_id = inner, hub_id
        self.armed = False
        self.held, self.release = asyncio.Event(), asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def agents(self, hub_id: str) -> Any:
        agents = await self.inner.agents(hub_id)
        if self.armed and hub_id == self.hub_id:
            self.armed = False
            self.held.set()
            await self.release.wait()
        return agents


async def test_a_joining_session_never_hears_a_roster_read_before_its_join(
    make_gateway: Any, new_engine: NewEngine
) -> None:
    """The feed read h2's roster (ann now busy) and, before it went out, bob joined h2 and
    got the roster with himself in it. The older read goes to ann only: bob's next roster is
    the next change, with him still in it."""
    engine = await new_engine()
    store = HeldRosterReads(engine.presence, "h2")
    engine.presence = store
    gw = await make_gateway(engine)
    ann, _ = await gw.session(agent_token("ann", ["h2"]))
    assert await _presence(ann, "h2") == {"ann": "available"}

    store.armed = True
    await ann.send_json({"type": "status", "status": "busy"})
    await asyncio.wait_for(store.held.wait(), 10)  # the feed's read, held
    bob, _ = await gw.session(agent_token("bob", ["h2"]))
    assert await _presence(bob, "h2") == {"ann": "busy", "bob": "available"}
    store.release.set()
    assert await _presence(ann, "h2") == {"ann": "busy"}  # read before bob joined
    await _becomes(ann, "h2", {"ann": "busy", "bob": "available"})

    await ann.send_json({"type": "status", "status": "available"})
    assert await _presence(bob, "h2") == {"ann": "available", "bob": "available"}
    await ann.close()
    await bob.close()


async def test_presence_reaches_sessions_that_narrowed_the_hub_away(make_gateway: Any) -> None:
    """Presence follows the token's hubs: a subscription narrowed to hub-b still hears who
    comes and goes in hub-a."""
    gw = await make_gateway()
    ann, _ = await gw.session(agent_token("ann", ["hub-a", "hub-b"]))
    await _presence(ann, "hub-b")
    await ann.send_json({"type": "subscribe", "hubIds": ["hub-b"]})
    await next_frame(ann, "subscribed")
    bob, _ = await gw.session(agent_token("bob", ["hub-a"]))
    assert await _presence(ann, "hub-a") == {"ann": "available", "bob": "available"}
    await bob.close()
    assert await _presence(ann, "hub-a") == {"ann": "available"}
    await ann.close()


async def test_a_further_session_narrowed_away_gets_the_roster(make_gateway: Any) -> None:
    gw = await make_gateway()
    first, _ = await gw.session(agent_token("ann", ["hub-a"]))
    await _presence(first, "hub-a")
    ws = await gw.connect()
    await ws.send_json(
        {"type": "auth", "token": agent_token("ann", ["hub-a", "hub-b"]), "hubIds": ["hub-b"]}
    )
    assert await _presence(ws, "hub-a") == {"ann": "available"}
    await ws.close()
    await first.close()
