"""Presence: which agents are in a hub and their status, kept in the engine's presence store
and announced to the hub's sessions whenever an agent connects, changes status or leaves.

Only a roster that changed is announced to the hub: a further session of an agent already
present with that status gets the roster itself, and nobody else hears of it. Presence goes
to every session whose token grants the hub, whatever its subscription narrowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.engine.presence import STATUSES, AgentPresence, PresenceStore
from gateway.times import format_ms, now_ms
from gateway.ws.frames import Status, server_frame
from gateway.ws.router import SessionRouter
from gateway.ws.session import Session


class PresentAgent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agentId: str
    name: str | None
    status: Status
    sessions: int = Field(ge=1, description="Its open sessions (in every process).")
    since: AwareDatetime = Field(description="When it took this status.")


class StatusCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    available: int = Field(ge=0)
    busy: int = Field(ge=0)
    unavailable: int = Field(ge=0)


class HubPresence(BaseModel):
    """A hub's roster (`GET /hubs/{hubId}/presence`): its agents by agent id."""

    model_config = ConfigDict(extra="forbid")

    hubId: str
    counts: StatusCounts
    agents: list[PresentAgent]


def roster_entry(agent: AgentPresence) -> dict[str, Any]:
    return {"agentId": agent.agent_id, "name": agent.name, "status": agent.status}


def roster_detail(agent: AgentPresence) -> dict[str, Any]:
    since = format_ms(agent.since_ms)
    return {**roster_entry(agent), "sessions": agent.sessions, "since": since}


def status_counts(agents: Iterable[AgentPresence]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for agent in agents:
        counts[agent.status] += 1
    return counts


class PresenceAnnouncer:
    """Updates the store for a session, then sends each changed hub's roster (encoded once)
    to the local sessions of that hub."""

    def __init__(self, store: PresenceStore, router: SessionRouter) -> None:
        self._store = store
        self._router = router

    async def joined(self, session: Session) -> None:
        await self._join(session, session.presence_hubs)

    async def _join(self, session: Session, hub_ids: tuple[str, ...]) -> None:
        changed = await self._store.join(
            hub_ids,
            session.session_id,
            session.agent_id,
            session.grant.name,
            session.status,
            now_ms(),
        )
        for hub_id in hub_ids:
            frame = await self._roster_frame(hub_id)
            if hub_id in changed:
                self._router.send_to_present(hub_id, frame)
            else:
                session.outbox.offer(frame)

    async def status_set(self, session: Session, status: str) -> None:
        session.status = status
        changed = await self._store.set_status(
            session.presence_hubs, session.agent_id, status, now_ms()
        )
        await self._announce(changed)

    async def regranted(self, session: Session, hub_ids: tuple[str, ...]) -> None:
        """A refresh moved the session's grant to `hub_ids`: it leaves the hubs no longer
        granted and joins the new ones, each change announced."""
        removed = [hub_id for hub_id in session.presence_hubs if hub_id not in hub_ids]
        added = tuple(hub_id for hub_id in hub_ids if hub_id not in session.presence_hubs)
        left = await self._store.leave(removed, session.session_id) if removed else []
        self._router.move_presence(session, hub_ids)
        await self._announce(left)
        if added:
            await self._join(session, added)

    async def left(self, session: Session) -> None:
        await self._announce(await self._store.leave(session.presence_hubs, session.session_id))

    async def _announce(self, hub_ids: Iterable[str]) -> None:
        for hub_id in hub_ids:
            self._router.send_to_present(hub_id, await self._roster_frame(hub_id))

    async def _roster_frame(self, hub_id: str) -> bytes:
        agents = await self._store.agents(hub_id)
        return server_frame("presence", hubId=hub_id, agents=[roster_entry(a) for a in agents])
