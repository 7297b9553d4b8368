"""One authenticated websocket session: its grant, scope, outbox and resume state.

`deliver` runs inside the fan-out loop, so it only compares and hands the frame to the outbox;
it never awaits. While a
resume replays history, live frames are parked; when the replay ends they are released,
minus those the replay already sent (ids at or below the last replayed one): none missing,
none twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiohttp import web

from gateway.agents.tokens import AgentGrant
from gateway.engine.events import StoredEvent
from gateway.ws.closing import close_socket
from gateway.ws.frames import CLOSE_TOO_SLOW
from gateway.ws.outbox import Outbox
from gateway.ws.scope import Scope

FLUSH_BEFORE_CLOSE_SECONDS = 2.0


@dataclass(eq=False, slots=True)
class Session:
    session_id: str
    grant: AgentGrant
    scope: Scope
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    outbox: Outbox
    presence_hubs: tuple[str, ...]
    """The hubs of its grant: where the agent is present and hears presence (a narrowed
    scope does not hide the agents it shares a hub with)."""
    status: str = "available"
    """The status this session last set (what it brings to a hub a refresh adds)."""
    replaying: bool = False
    last_event_id: str | None = None
    rosters: dict[str, int] = field(default_factory=dict)
    """Per hub, a digest of the last roster frame sent: a session is never sent a roster it
    already has (a joining session gets its hubs' rosters at once; the change feed's copy
    then goes only to the others), so what it sees is what changed."""
    _closing: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def agent_id(self) -> str:
        return self.grant.agent_id

    def deliver(self, event: StoredEvent, frame: bytes) -> None:
        """A live event from the fan-out loop (already routed to one of the session's hubs)."""
        if not self.scope.sees(event):
            return
        if self.replaying:
            self.outbox.park(event.id, frame)
            return
        if self.last_event_id is not None and event.id <= self.last_event_id:
            return
        self.last_event_id = event.id
        self.outbox.offer(frame)

    def offer_roster(self, hub_id: str, frame: bytes) -> None:
        digest = hash(frame)
        if self.rosters.get(hub_id) != digest:
            self.rosters[hub_id] = digest
            self.outbox.offer(frame)

    def finish_replay(self, last_replayed_id: str | None) -> None:
        """Go live: release parked frames newer than the replay. Runs without awaiting, so
        the fan-out loop cannot slip an event in between."""
        self.last_event_id = last_replayed_id
        self.outbox.unpark_after(last_replayed_id)
        self.replaying = False

    def close(self, code: int, reason: str) -> asyncio.Task[None]:
        """Close once (later calls get the same task): flush what is queued unless the
        session is being dropped for its backlog, then close the socket with `code`."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(code, reason), name="ws-close")
        return self._closing

    async def _close(self, code: int, reason: str) -> None:
        if code != CLOSE_TOO_SLOW:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.drained(), FLUSH_BEFORE_CLOSE_SECONDS)
        self.outbox.shut()
        await close_socket(self.ws, self.transport, code, reason)
