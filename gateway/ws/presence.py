"""Presence: which agents are in a hub and their status, kept in the engine's presence store
(shared by every process) and announced to the hub's sessions whenever an agent connects,
changes status or leaves.

Only a roster that changed is announced: a further session of an agent already present with
that status gets the roster itself, and nobody else hears of it. Presence goes to every
session whose token grants the hub, whatever its subscription narrowed.

Across processes, three loops per process:

- The heartbeat keeps this process's sessions alive in the store (`PRESENCE_TTL_SECONDS`);
  when a beat finds the process had expired (it may have been reaped as dead, after a long
  pause or an engine outage), its live sessions join again. Sessions that ended while the
  engine was out of reach leave at the next beat that reaches it.
- The reaper removes the sessions of processes that stopped beating: a crashed process's
  agents leave the roster within `PRESENCE_TTL_SECONDS + REAP_SECONDS` (35 s; the takeover
  bound is 60 s). Every process reaps; reaping is idempotent.
- The roster feed follows the store's change feed and sends each changed hub's roster,
  encoded once, to this process's sessions present in it — whichever process made the
  change. Changes are coalesced per hub: a hub's rosters go out at `ROSTERS_PER_SECOND`
  (after a burst of `ROSTER_BURST`, so ordinary comings and goings go out at once and in
  order); a roster held back is read when it goes, so the last frame is the current roster
  however fast agents flip their status. A roster goes to the sessions that had the hub's
  roster before it was read: one joining meanwhile got a later read at its join, and never
  hears one from before it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.engine.base import EngineUnavailable
from gateway.engine.presence import STATUSES, AgentPresence, PresenceSession, PresenceStore
from gateway.http.appkeys import ENGINE
from gateway.loops import LoopBody
from gateway.times import format_ms, now_ms
from gateway.ws.frames import Status, server_frame

if TYPE_CHECKING:
    from gateway.ws.connection import AgentConnection
    from gateway.ws.fanout import SessionRouter

log = logging.getLogger("gateway.presence")

HEARTBEAT_SECONDS = 10.0
PRESENCE_TTL_SECONDS = 30.0
REAP_SECONDS = 5.0
ROSTERS_PER_SECOND = 4.0
ROSTER_BURST = 4.0
FEED_WAIT_SECONDS = 1.0
BACKOFF_SECONDS = 1.0


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


async def get_hub_presence(request: web.Request) -> web.Response:
    """Who is connected to a hub, and their status."""
    hub_id = request.match_info["hubId"]
    agents = await request.app[ENGINE].presence.agents(hub_id)
    return web.json_response(
        {
            "hubId": hub_id,
            "counts": status_counts(agents),
            "agents": [roster_detail(agent) for agent in agents],
        }
    )


class Presence:
    """Keeps the store's record of this process's sessions. Nobody is told of a change
    here: every roster change reaches the hub's sessions, in this process and every other,
    through the change feed (`RosterFeed`). A session joining a hub gets the
    hub's roster itself at once, changed or not."""

    def __init__(self, store: PresenceStore, router: SessionRouter, instance_id: str) -> None:
        self.store = store
        self.instance_id = instance_id
        self._router = router
        self._owed: dict[str, tuple[str, ...]] = {}
        """Sessions that ended while the engine was unreachable, with their hubs: they
        leave at the next heartbeat (at most one entry per session that was open)."""

    def _as_stored(self, session: AgentConnection) -> PresenceSession:
        return PresenceSession(
            session.session_id, self.instance_id, session.agent_id, session.state.grant.name
        )

    async def joined(self, session: AgentConnection) -> None:
        await self._join(session, session.presence_hubs)

    async def _join(self, session: AgentConnection, hub_ids: tuple[str, ...]) -> None:
        await self.store.join(hub_ids, self._as_stored(session), session.state.status, now_ms())
        for hub_id in hub_ids:
            session.offer_roster(hub_id, await roster_frame(self.store, hub_id))

    async def rejoin(self, sessions: Iterable[AgentConnection]) -> None:
        """After this process's presence expired (it may have been reaped as dead), its
        live sessions join again; joining is idempotent, so ones never reaped stay as
        they are."""
        for session in sessions:
            stored = self._as_stored(session)
            await self.store.join(session.presence_hubs, stored, session.state.status, now_ms())

    async def status_set(self, session: AgentConnection, status: str) -> None:
        """The session set `status` (its state holds it already, for later joins)."""
        await self.store.set_status(session.presence_hubs, session.agent_id, status, now_ms())

    async def regranted(self, session: AgentConnection, hub_ids: tuple[str, ...]) -> None:
        """A refresh moved the session's grant to `hub_ids`: it leaves the hubs no longer
        granted and joins the new ones."""
        removed = [hub_id for hub_id in session.presence_hubs if hub_id not in hub_ids]
        added = tuple(hub_id for hub_id in hub_ids if hub_id not in session.presence_hubs)
        if removed:
            await self.store.leave(removed, session.session_id)
        self._router.move_presence(session, hub_ids)
        if added:
            await self._join(session, added)

    async def left(self, session: AgentConnection) -> None:
        """The session ended; if the engine cannot be told now, the heartbeat tells it."""
        try:
            await self.store.leave(session.presence_hubs, session.session_id)
        except EngineUnavailable:
            self._owed[session.session_id] = session.presence_hubs

    async def settle(self) -> None:
        """Leave for the sessions that ended while the engine was unreachable."""
        for session_id, hub_ids in list(self._owed.items()):
            await self.store.leave(hub_ids, session_id)
            del self._owed[session_id]


async def beat_once(presence: Presence, router: SessionRouter) -> None:
    if await presence.store.heartbeat(
        presence.instance_id, now_ms(), int(PRESENCE_TTL_SECONDS * 1000)
    ):
        await presence.rejoin(list(router.sessions.values()))
    await presence.settle()


def presence_heartbeat_loop(presence: Presence, router: SessionRouter) -> LoopBody:
    async def run(beat: Callable[[], None]) -> None:
        while True:
            beat()
            try:
                await beat_once(presence, router)
            except EngineUnavailable:
                log.debug("engine unavailable; presence heartbeat missed")
            await asyncio.sleep(HEARTBEAT_SECONDS)

    return run


def reap_loop(presence: Presence) -> LoopBody:
    async def run(beat: Callable[[], None]) -> None:
        while True:
            beat()
            try:
                await presence.store.reap(now_ms())
            except EngineUnavailable:
                log.debug("engine unavailable; presence not reaped this round")
            await asyncio.sleep(REAP_SECONDS)

    return run


class RosterFeed:
    def __init__(self, presence: Presence, router: SessionRouter, since: str | None = None) -> None:
        """`since`: the feed's cursor when the server started (None: from the first read)."""
        self._since = since
        self._store = presence.store
        self._router = router
        self._pending: dict[str, None] = {}
        """Hubs whose roster is owed, in the order they changed."""
        self._budget: dict[str, tuple[float, float]] = {}
        """Hubs whose rosters went out lately: (tokens left, when counted)."""

    async def run(self, beat: Callable[[], None]) -> None:
        cursor = self._since
        while True:
            beat()
            try:
                changes = await self._store.changes_after(cursor, self._wait(time.monotonic()))
                cursor = changes.cursor
                hub_ids = changes.hub_ids if changes.complete else self._router.present_hubs()
                self._pending.update(
                    dict.fromkeys(h for h in hub_ids if self._router.present_in(h))
                )
                await self._send_due(time.monotonic())
            except EngineUnavailable:
                log.debug("engine unavailable; presence feed retrying")
                await asyncio.sleep(BACKOFF_SECONDS)

    def _tokens(self, hub_id: str, now: float) -> float:
        tokens, counted = self._budget.get(hub_id, (ROSTER_BURST, now))
        return min(ROSTER_BURST, tokens + (now - counted) * ROSTERS_PER_SECOND)

    def _wait(self, now: float) -> float:
        """Until the next held-back roster may go, or the feed's own wait."""
        waits = [(1.0 - self._tokens(h, now)) / ROSTERS_PER_SECOND for h in self._pending]
        return max(0.0, min(waits, default=FEED_WAIT_SECONDS))

    async def _send_due(self, now: float) -> None:
        for hub_id in list(self._pending):
            tokens = self._tokens(hub_id, now)
            if tokens < 1.0:
                continue
            del self._pending[hub_id]
            self._budget[hub_id] = (tokens - 1.0, now)
            # Who hears it is fixed before the read: a session whose own join completes
            # during the read got a roster read later, which this one must not follow.
            recipients = self._router.joined_in(hub_id)
            self._router.send_roster(hub_id, await roster_frame(self._store, hub_id), recipients)
        for hub_id in [h for h in self._budget if self._tokens(h, now) >= ROSTER_BURST]:
            del self._budget[hub_id]  # as good as new: forgotten, so the map stays small
