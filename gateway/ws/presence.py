"""Presence: which agents are in a hub and their status, kept in the engine's presence store
(shared by every process) and announced to the hub's sessions whenever an agent connects,
changes status or leaves.

Only a roster that changed is announced to the hub: a further session of an agent already
present with that status gets the roster itself, and nobody else hears of it. Presence goes
to every session whose token grants the hub, whatever its subscription narrowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.engine.presence import STATUSES, AgentPresence, PresenceSession, PresenceStore
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


async def roster_frame(store: PresenceStore, hub_id: str) -> bytes:
    agents = await store.agents(hub_id)
    return server_frame("presence", hubId=hub_id, agents=[roster_entry(a) for a in agents])


class Presence:
    """Keeps the store's record of this process's sessions. Nobody is told of a change
    here: every roster change reaches the hub's sessions, in this process and every other,
    through the change feed (`presence_sync.RosterFeed`). A session joining a hub gets the
    hub's roster itself at once, changed or not."""

    def __init__(self, store: PresenceStore, router: SessionRouter, instance_id: str) -> None:
        self.store = store
        self.instance_id = instance_id
        self._router = router

    def _as_stored(self, session: Session) -> PresenceSession:
        return PresenceSession(
            session.session_id, self.instance_id, session.agent_id, session.grant.name
        )

    async def joined(self, session: Session) -> None:
        await self._join(session, session.presence_hubs)

    async def _join(self, session: Session, hub_ids: tuple[str, ...]) -> None:
        await self.store.join(hub_ids, self._as_stored(session), session.status, now_ms())
        for hub_id in hub_ids:
            session.offer_roster(hub_id, await roster_frame(self.store, hub_id))

    async def rejoin(self, sessions: Iterable[Session]) -> None:
        """After this process's presence expired (it may have been reaped as dead), its
        live sessions join again; joining is idempotent, so ones never reaped stay as
        they are."""
        for session in sessions:
            stored = self._as_stored(session)
            await self.store.join(session.presence_hubs, stored, session.status, now_ms())

    async def status_set(self, session: Session, status: str) -> None:
        session.status = status
        await self.store.set_status(session.presence_hubs, session.agent_id, status, now_ms())

    async def regranted(self, session: Session, hub_ids: tuple[str, ...]) -> None:
        """A refresh moved the session's grant to `hub_ids`: it leaves the hubs no longer
        granted and joins the new ones."""
        removed = [hub_id for hub_id in session.presence_hubs if hub_id not in hub_ids]
        added = tuple(hub_id for hub_id in hub_ids if hub_id not in session.presence_hubs)
        if removed:
            await self.store.leave(removed, session.session_id)
        self._router.move_presence(session, hub_ids)
        if added:
            await self._join(session, added)

    async def left(self, session: Session) -> None:
        await self.store.leave(session.presence_hubs, session.session_id)
