"""Isolation: many agents over many hubs each get exactly their events, all, in id order."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from ws_helpers import activity, agent_token, next_frame, publish

from gateway.engine.events import StoredEvent
from gateway.events.filters import TypeFilter

HUBS = [f"hub-{n}" for n in range(6)]
CONVERSATIONS = [f"conv-{n}" for n in range(5)]
TYPES = [
    "message:customer",
    "message:agent",
    "receipt:delivered",
    "receipt:read",
    "event:typing_on",
]


@dataclass
class Agent:
    agent_id: str
    hubs: list[str]
    conversations: list[str] | None
    events: list[str] | None
    by_frame: bool

    def sees(self, event: StoredEvent) -> bool:
        return (
            event.hub_id in self.hubs
            and (self.conversations is None or event.conversation_id in self.conversations)
            and TypeFilter(self.events or ["*"]).matches(event.type)
        )


def _agents() -> list[Agent]:
    rng = random.Random(7)
    agents = []
    for n in range(20):
        hubs = rng.sample(HUBS, rng.randint(1, 3))
        conversations = rng.sample(CONVERSATIONS, 2) if n % 3 == 0 else None
        events = ["message", "receipt:delivered"] if n % 4 == 1 else None
        agents.append(Agent(f"agent-{n}", hubs, conversations, events, by_frame=n % 2 == 1))
    return agents


async def _connect(gw: Any, agent: Agent) -> aiohttp.ClientWebSocketResponse:
    token = agent_token(agent.agent_id, agent.hubs, conversations=agent.conversations)
    if not agent.by_frame:
        ws, _ = await gw.session(token)
        if agent.events:
            await ws.send_json({"type": "subscribe", "events": agent.events})
            await next_frame(ws, "subscribed")
        return ws
    ws = await gw.connect()
    auth: dict[str, Any] = {"type": "auth", "token": token}
    if agent.events:
        auth["events"] = agent.events
    await ws.send_json(auth)
    assert (await next_frame(ws))["type"] == "ready"
    return ws


async def _receive(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[str]:
    ids = [(await next_frame(ws, "event"))["event"]["id"] for _ in range(count)]
    with pytest.raises(asyncio.TimeoutError):
        await next_frame(ws, "event", timeout=0.3)
    return ids


async def test_each_agent_gets_exactly_its_events_in_order(make_gateway: Any) -> None:
    gw = await make_gateway()
    agents = _agents()
    sockets = [await _connect(gw, agent) for agent in agents]

    rng = random.Random(11)
    stored: list[StoredEvent] = []
    for batch in range(30):
        bodies = [
            activity(rng.choice(HUBS), rng.choice(CONVERSATIONS), kind=rng.choice(TYPES), seq=n)
            for n in range(batch * 10, batch * 10 + 10)
        ]
        stored += await publish(gw.engine, bodies)
        await asyncio.sleep(0)
    assert len(stored) == 300

    expected = {agent.agent_id: [e.id for e in stored if agent.sees(e)] for agent in agents}
    assert all(expected.values()), "every agent must have events to receive"
    received = await asyncio.gather(
        *(
            _receive(ws, len(expected[agent.agent_id]))
            for agent, ws in zip(agents, sockets, strict=True)
        )
    )
    for agent, ids in zip(agents, received, strict=True):
        assert ids == expected[agent.agent_id], agent
    assert len({tuple(ids) for ids in received}) > 10
    for ws in sockets:
        await ws.close()
