"""Presence: which agents are in a hub and their status, kept in the engine's presence store
and announced to the hub's sessions whenever an agent connects, changes status or leaves."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.agents.times import rfc3339
from gateway.engine.presence import STATUSES, PresenceEntry, PresenceStore
from gateway.ws.frames import server_frame
from gateway.ws.router import SessionRouter
from gateway.ws.session import Session

INITIAL_STATUS = "available"


@dataclass(frozen=True, slots=True)
class AgentPresence:
    agent_id: str
    name: str | None
    status: str
    sessions: int
    since_ms: int

    def brief(self) -> dict[str, Any]:
        return {"agentId": self.agent_id, "name": self.name, "status": self.status}

    def detail(self) -> dict[str, Any]:
        return {**self.brief(), "sessions": self.sessions, "since": rfc3339(self.since_ms / 1000)}


def agents_present(entries: Iterable[PresenceEntry]) -> list[AgentPresence]:
    """One line per agent: the status its sessions set last (highest revision)."""
    by_agent: dict[str, list[PresenceEntry]] = {}
    for entry in entries:
        by_agent.setdefault(entry.agent_id, []).append(entry)
    agents = []
    for agent_id, sessions in sorted(by_agent.items()):
        latest = max(sessions, key=lambda entry: entry.revision)
        agents.append(
            AgentPresence(agent_id, latest.name, latest.status, len(sessions), latest.since_ms)
        )
    return agents


def status_counts(agents: Iterable[AgentPresence]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for agent in agents:
        counts[agent.status] += 1
    return counts


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PresenceAnnouncer:
    """Updates the store for a session, then sends each affected hub's roster (encoded once)
    to the local sessions of that hub."""

    def __init__(self, store: PresenceStore, router: SessionRouter) -> None:
        self._store = store
        self._router = router

    async def joined(self, session: Session) -> None:
        await self._store.join(
            session.presence_hubs,
            session.session_id,
            session.agent_id,
            session.grant.name,
            INITIAL_STATUS,
            _now_ms(),
        )
        await self._announce(session.presence_hubs)

    async def status_set(self, session: Session, status: str) -> None:
        await self._store.set_status(session.presence_hubs, session.session_id, status, _now_ms())
        await self._announce(session.presence_hubs)

    async def left(self, session: Session) -> None:
        await self._store.leave(session.presence_hubs, session.session_id)
        await self._announce(session.presence_hubs)

    async def _announce(self, hub_ids: Iterable[str]) -> None:
        for hub_id in hub_ids:
            agents = agents_present(await self._store.entries(hub_id))
            frame = server_frame(
                "presence", hubId=hub_id, agents=[agent.brief() for agent in agents]
            )
            self._router.send_to_hub(hub_id, frame)
