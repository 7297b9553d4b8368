"""Routing to local sessions: indexes from hub to the sessions that see its events (the
scope) and to the sessions present in it (the grant's hubs, for presence frames).

The fan-out loop looks an event's hub up here and hands the one encoded frame to each
session found, so the cost of an event is its audience, not the number of open sessions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from gateway.engine.events import StoredEvent
from gateway.engine.ids import event_id_ms
from gateway.metrics import Metrics
from gateway.ws.frames import event_frame
from gateway.ws.outbox import Outbox
from gateway.ws.scope import Scope
from gateway.ws.session import Session


class SessionRouter:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._by_hub: dict[str, set[Session]] = {}
        self._present: dict[str, set[Session]] = {}
        self.sessions: dict[str, Session] = {}
        self.live_from: str | None = None
        """Every event with a greater id is still to be published: a session added now gets
        each of them live. Its `ready` frame carries it, so a client that drops before its
        first event can still resume without missing any."""

    def start_at(self, cursor: str) -> None:
        """The fan-out loop's first cursor, before it has published anything."""
        if self.live_from is None:
            self.live_from = cursor

    def add(self, session: Session) -> None:
        self.sessions[session.session_id] = session
        _index(self._by_hub, session.scope.hub_ids, session)
        _index(self._present, session.presence_hubs, session)
        self._metrics.ws_sessions.set(len(self.sessions))

    def remove(self, session: Session) -> None:
        if self.sessions.pop(session.session_id, None) is None:
            return
        _unindex(self._by_hub, session.scope.hub_ids, session)
        _unindex(self._present, session.presence_hubs, session)
        self._metrics.ws_sessions.set(len(self.sessions))

    def rescope(self, session: Session, scope: Scope) -> None:
        _unindex(self._by_hub, session.scope.hub_ids, session)
        session.scope = scope
        _index(self._by_hub, session.scope.hub_ids, session)

    def move_presence(self, session: Session, hub_ids: tuple[str, ...]) -> None:
        """The session is now present in `hub_ids` (after a refresh changed its grant)."""
        if session.session_id in self.sessions:
            _unindex(self._present, session.presence_hubs, session)
            _index(self._present, hub_ids, session)
        for hub_id in session.presence_hubs:
            if hub_id not in hub_ids:
                session.rosters.pop(hub_id, None)
        session.presence_hubs = hub_ids

    def publish(self, events: Sequence[StoredEvent]) -> None:
        """Hand each stored event, encoded once, to every session of its hub; never awaits.
        The outboxes touched are corked for the run, so each session's share goes out in
        one write."""
        corked: list[Outbox] = []
        now = time.time()
        for event in events:
            self._metrics.ingest_to_fanout.observe(max(now - event_id_ms(event.id) / 1000, 0.0))
            sessions = self._by_hub.get(event.hub_id)
            if not sessions:
                continue
            frame = event_frame(event.payload)
            for session in sessions:
                if session.outbox.cork():
                    corked.append(session.outbox)
                session.deliver(event, frame)
        for outbox in corked:
            outbox.uncork()
        if events:
            self.live_from = events[-1].id

    def present_in(self, hub_id: str) -> bool:
        return hub_id in self._present

    def present_hubs(self) -> list[str]:
        """Every hub a local session is present in."""
        return list(self._present)

    def send_to_present(self, hub_id: str, frame: bytes) -> None:
        """A roster frame to every local session present in the hub that lacks it."""
        for session in self._present.get(hub_id, ()):
            session.offer_roster(hub_id, frame)


def _index(index: dict[str, set[Session]], hub_ids: Iterable[str], session: Session) -> None:
    for hub_id in hub_ids:
        index.setdefault(hub_id, set()).add(session)


def _unindex(index: dict[str, set[Session]], hub_ids: Iterable[str], session: Session) -> None:
    for hub_id in hub_ids:
        sessions = index.get(hub_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del index[hub_id]
