"""Getting events to sessions: live through the router, and replayed from the event log.

The fan-out loop (one per process) reads the event log by cursor and hands each event, encoded
once, to the local sessions of its hub (`SessionRouter.publish`), so the cost of an event is
its audience, not the number of open sessions. It never awaits a socket: slow sessions cannot
hold it. The router also indexes sessions by the hubs they are present in, for presence.

A replay (resume after `lastEventId`, or a first connection's recent history) reads the log
for one session. The session is in the router, parked (REPLAYING), before the replay starts,
so an event stored at any moment is either read here or arrives live; `finish_replay` drops
the live copies of what was replayed. Parking is capped (see `outbox`): the replay goes live
only after a read finds nothing new and no parked frame was dropped since that read began. A
`lastEventId` newer than anything stored cannot be honoured (live events up to it would be
skipped): `recovered: false`, and the session goes live from where the store is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from gateway.engine.base import EngineUnavailable
from gateway.engine.events import EventLog, StoredEvent
from gateway.engine.ids import event_id_at, event_id_ms
from gateway.loops import LoopBody
from gateway.metrics import Metrics
from gateway.times import now_ms
from gateway.ws.frames import PING_FRAME, event_frame, server_frame, wire_text_frame
from gateway.ws.scope import Scope
from gateway.ws.state import Admit, Phase, RecentHistory

if TYPE_CHECKING:
    from gateway.ws.connection import AgentConnection

log = logging.getLogger("gateway.fanout")

BATCH_SIZE = 500
RUN_SIZE = 32
"""Events routed between yields to the event loop: long enough to write each session's
share at once, short enough that ingest and other sessions are not held up."""
WAIT_SECONDS = 1.0
BACKOFF_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
REPLAY_BATCH = 200


class SessionRouter:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._by_hub: dict[str, set[AgentConnection]] = {}
        self._present: dict[str, set[AgentConnection]] = {}
        self.sessions: dict[str, AgentConnection] = {}
        self.live_from: str | None = None
        """Every event with a greater id is still to be published: a session added now gets
        each of them live. Its `ready` frame carries it, so a client that drops before its
        first event can still resume without missing any."""

    def start_at(self, cursor: str) -> None:
        """The fan-out loop's first cursor, before it has published anything."""
        if self.live_from is None:
            self.live_from = cursor

    def add(self, session: AgentConnection) -> None:
        self.sessions[session.session_id] = session
        _index(self._by_hub, session.state.scope.hub_ids, session)
        _index(self._present, session.presence_hubs, session)
        self._metrics.ws_sessions.set(len(self.sessions))

    def remove(self, session: AgentConnection) -> None:
        if self.sessions.pop(session.session_id, None) is None:
            return
        _unindex(self._by_hub, session.state.scope.hub_ids, session)
        _unindex(self._present, session.presence_hubs, session)
        self._metrics.ws_sessions.set(len(self.sessions))

    def rescope(self, session: AgentConnection, previous: Scope) -> None:
        """The session's scope replaced `previous`."""
        if session.session_id in self.sessions:
            _unindex(self._by_hub, previous.hub_ids, session)
            _index(self._by_hub, session.state.scope.hub_ids, session)

    def move_presence(self, session: AgentConnection, hub_ids: tuple[str, ...]) -> None:
        """The session is now present in `hub_ids` (after a refresh changed its grant)."""
        if session.session_id in self.sessions:
            _unindex(self._present, session.presence_hubs, session)
            _index(self._present, hub_ids, session)
        for hub_id in session.presence_hubs:
            if hub_id not in hub_ids:
                session.rosters.pop(hub_id, None)
        session.presence_hubs = hub_ids

    def publish(self, events: Sequence[StoredEvent]) -> None:
        """Hand each stored event, framed once (the same bytes object for every session), to
        every session of its hub; never awaits. A run of several events corks the sessions
        it touches, so each one's share goes out in one write; a single event (the usual
        wake when webhooks come one at a time) is written straight away."""
        corked: list[AgentConnection] = []
        now = time.time()
        several = len(events) > 1
        for event in events:
            self._metrics.ingest_to_fanout.observe(max(now - event_id_ms(event.id) / 1000, 0.0))
            sessions = self._by_hub.get(event.hub_id)
            if not sessions:
                continue
            wire = wire_text_frame(event_frame(event.payload))
            if several:
                for session in sessions:
                    if session.cork():
                        corked.append(session)
                    session.deliver(event, wire)
            else:
                for session in sessions:
                    session.deliver(event, wire)
        for session in corked:
            session.uncork()
        if events:
            self.live_from = events[-1].id

    def present_in(self, hub_id: str) -> bool:
        return hub_id in self._present

    def present_hubs(self) -> list[str]:
        """Every hub a local session is present in."""
        return list(self._present)

    def joined_in(self, hub_id: str) -> list[AgentConnection]:
        """The local sessions present in the hub that have had its roster. A session's join
        is stored before its first roster is read, so any roster read from now on includes
        them; one read earlier may not, and goes to none of the sessions joining since."""
        return [session for session in self._present.get(hub_id, ()) if hub_id in session.rosters]

    def send_roster(self, hub_id: str, frame: bytes, recipients: Iterable[AgentConnection]) -> None:
        """A roster frame to those of `recipients` still present in the hub that lack it."""
        present = self._present.get(hub_id, set())
        for session in recipients:
            if session in present:
                session.offer_roster(hub_id, frame)


def _index(
    index: dict[str, set[AgentConnection]], hub_ids: Iterable[str], session: AgentConnection
) -> None:
    for hub_id in hub_ids:
        index.setdefault(hub_id, set()).add(session)


def _unindex(
    index: dict[str, set[AgentConnection]], hub_ids: Iterable[str], session: AgentConnection
) -> None:
    for hub_id in hub_ids:
        sessions = index.get(hub_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del index[hub_id]


def fanout_loop(events: EventLog, router: SessionRouter, since: str | None = None) -> LoopBody:
    """`since` is the newest id when the server started, read before it serves anything: an
    event stored once sessions can join is never behind the cursor, however late the loop's
    first read (over Redis, a round trip queued behind every other loop's)."""

    async def run(beat: Callable[[], None]) -> None:
        cursor = since
        if cursor is not None:
            router.start_at(cursor)
        failures = 0
        while True:
            beat()
            try:
                if cursor is None:
                    cursor = await events.last_id()
                    router.start_at(cursor)
                batch = await events.wait_after(cursor, BATCH_SIZE, WAIT_SECONDS)
            except EngineUnavailable:
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                log.debug("engine unavailable; fan-out retries in %.1fs", delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            for start in range(0, len(batch), RUN_SIZE):
                router.publish(batch[start : start + RUN_SIZE])
                await asyncio.sleep(0)
            if batch:
                cursor = batch[-1].id

    return run


def heartbeat_loop(router: SessionRouter, heartbeat_seconds: float) -> LoopBody:
    """The application `ping` frame to every session (one loop, not a task per session)."""

    async def run(beat: Callable[[], None]) -> None:
        while True:
            beat()
            await asyncio.sleep(heartbeat_seconds)
            for session in list(router.sessions.values()):
                session.offer(PING_FRAME)

    return run


async def replay(session: AgentConnection, events: EventLog, admit: Admit) -> None:
    """Replay what `admit` asks for, then `recovered`, then live (unless the session closed
    meanwhile)."""
    if admit.history is not None:
        start = await history_cursor(session, events, admit.history, now_ms())
    elif admit.resume_from is not None:
        start = admit.resume_from
    else:
        return
    floor, last = await events.history_floor(), await events.last_id()
    if start < floor or start > last:
        # Live from the store's newest event: a fan-out loop lagging behind the store (reading
        # Redis) may still be about to deliver it to every session.
        session.offer(server_frame("recovered", recovered=False, count=0))
        session.finish_replay(last)
        return
    limit_bytes = session.runtime.settings.ws_max_backlog_bytes
    cursor, count = start, 0
    while session.open and session.state.phase is Phase.REPLAYING:
        session.parked_dropped = False
        batch = await events.read_after(cursor, REPLAY_BATCH)
        if not batch:
            await session.drained(below_bytes=limit_bytes // 4)
            if session.parked_dropped:
                continue
            break
        for event in batch:
            cursor = event.id
            if not session.state.scope.sees(event):
                continue
            if session.backlog_bytes() > limit_bytes // 2:
                await session.drained(below_bytes=limit_bytes // 4)
            session.offer(event_frame(event.payload))
            count += 1
    if session.state.phase is Phase.REPLAYING:
        session.offer(server_frame("recovered", recovered=True, count=count))
        session.finish_replay(cursor)


async def history_cursor(
    session: AgentConnection, events: EventLog, history: RecentHistory, now: int
) -> str:
    """The cursor to replay `history` from: just before the oldest of the newest
    `history.limit` events of the window the session may see, never below the history floor
    nor above the newest id (either would make the replay report `recovered: false`). The
    scan reads the window once; memory stays bounded by `limit` ids."""
    window_start = event_id_at(max(0, now - int(history.seconds * 1000)))
    cursor = min(max(window_start, await events.history_floor()), await events.last_id())
    starts: deque[str] = deque(maxlen=history.limit)
    while batch := await events.read_after(cursor, REPLAY_BATCH):
        for event in batch:
            if session.state.scope.sees(event):
                starts.append(cursor)
            cursor = event.id
    return starts[0] if starts else cursor
