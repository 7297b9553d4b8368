"""In-memory presence: per hub, encoded agent records and the sessions present; per instance,
its heartbeat and its sessions (for reaping); and a bounded change feed of hub ids."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from itertools import islice

import orjson

from gateway.engine.presence import (
    ROSTER_FEED_LENGTH,
    AgentPresence,
    PresenceSession,
    RosterChanges,
)


class _Feed:
    """Hub ids by sequence number, the oldest forgotten past `ROSTER_FEED_LENGTH`; cursors
    are the sequence numbers as text."""

    def __init__(self) -> None:
        self._entries: deque[tuple[int, str]] = deque(maxlen=ROSTER_FEED_LENGTH)
        self._seq = 0
        self._changed = asyncio.Event()

    def append(self, hub_ids: list[str]) -> None:
        if not hub_ids:
            return
        for hub_id in hub_ids:
            self._seq += 1
            self._entries.append((self._seq, hub_id))
        self._changed.set()
        self._changed = asyncio.Event()

    def after(self, cursor: str | None) -> RosterChanges:
        after = self._seq if cursor is None else _parse(cursor)
        oldest = self._entries[0][0] if self._entries else self._seq + 1
        if after is None or after > self._seq or after < oldest - 1:
            return RosterChanges(str(self._seq), [], complete=False)
        newest_first = islice(reversed(self._entries), self._seq - after)
        hub_ids = dict.fromkeys(hub_id for _, hub_id in reversed(list(newest_first)))
        return RosterChanges(str(self._seq), list(hub_ids))

    async def wait(self, wait_seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_seconds):  # wait_for (3.11) can swallow a cancel
                await self._changed.wait()


def _parse(cursor: str) -> int | None:
    return int(cursor) if cursor.isdigit() else None


class MemoryPresenceStore:
    def __init__(self) -> None:
        self._agents: dict[str, dict[str, bytes]] = {}
        self._sessions: dict[str, dict[str, PresenceSession]] = {}
        self._by_instance: dict[str, dict[str, set[str]]] = {}
        self._alive_until: dict[str, int] = {}
        self._feed = _Feed()

    def _get(self, hub_id: str, agent_id: str) -> AgentPresence | None:
        raw = self._agents.get(hub_id, {}).get(agent_id)
        return None if raw is None else AgentPresence.from_json(orjson.loads(raw))

    def _put(self, hub_id: str, record: AgentPresence) -> None:
        self._agents.setdefault(hub_id, {})[record.agent_id] = orjson.dumps(record.to_json())

    def _changed(self, hub_ids: list[str]) -> list[str]:
        self._feed.append(hub_ids)
        return hub_ids

    async def join(
        self, hub_ids: Sequence[str], session: PresenceSession, status: str, now_ms: int
    ) -> list[str]:
        changed = [
            hub_id
            for hub_id in hub_ids
            if self._join_hub(hub_id, session, status, now_ms, self._get(hub_id, session.agent_id))
        ]
        return self._changed(changed)

    def _join_hub(
        self,
        hub_id: str,
        session: PresenceSession,
        status: str,
        now_ms: int,
        old: AgentPresence | None,
    ) -> bool:
        """Add the session to the hub, its agent's record having been `old`; whether the
        hub's roster changed."""
        present = self._sessions.setdefault(hub_id, {})
        if session.session_id in present:
            return False
        present[session.session_id] = session
        instance = self._by_instance.setdefault(session.instance_id, {})
        instance.setdefault(session.session_id, set()).add(hub_id)
        agent_id, name = session.agent_id, session.name
        if old is None:
            self._put(hub_id, AgentPresence(agent_id, name, status, now_ms, 1))
            return True
        since = old.since_ms if old.status == status else now_ms
        self._put(hub_id, AgentPresence(agent_id, name, status, since, old.sessions + 1))
        return (old.name, old.status) != (name, status)

    async def set_status(
        self, hub_ids: Sequence[str], agent_id: str, status: str, now_ms: int
    ) -> list[str]:
        changed = []
        for hub_id in hub_ids:
            old = self._get(hub_id, agent_id)
            if old is not None and old.status != status:
                self._put(hub_id, replace(old, status=status, since_ms=now_ms))
                changed.append(hub_id)
        return self._changed(changed)

    async def leave(self, hub_ids: Sequence[str], session_id: str) -> list[str]:
        return self._changed([h for h in hub_ids if self._leave_hub(h, session_id)])

    def _leave_hub(self, hub_id: str, session_id: str) -> bool:
        """Remove the session from the hub; whether the hub's roster changed."""
        session = self._sessions.get(hub_id, {}).pop(session_id, None)
        if session is None:
            return False
        instance = self._by_instance.get(session.instance_id, {})
        hubs = instance.get(session_id, set())
        hubs.discard(hub_id)
        if not hubs:
            instance.pop(session_id, None)
        old = self._get(hub_id, session.agent_id)
        if old is None:
            return False
        if old.sessions > 1:
            self._put(hub_id, replace(old, sessions=old.sessions - 1))
            return False
        del self._agents[hub_id][old.agent_id]
        if not self._agents[hub_id]:
            del self._agents[hub_id]
            self._sessions.pop(hub_id, None)
        return True

    async def agents(self, hub_id: str) -> list[AgentPresence]:
        records = self._agents.get(hub_id, {})
        return [AgentPresence.from_json(orjson.loads(records[key])) for key in sorted(records)]

    async def heartbeat(self, instance_id: str, now_ms: int, ttl_ms: int) -> bool:
        was_alive = self._alive_until.get(instance_id, 0) > now_ms
        self._alive_until[instance_id] = now_ms + ttl_ms
        return not was_alive

    async def reap(self, now_ms: int) -> list[str]:
        """An instance holding sessions without a live heartbeat is gone (never beating
        counts as expired, as a Redis key that expired is simply absent)."""
        changed: dict[str, None] = {}
        for instance_id in {*self._by_instance, *self._alive_until}:
            if self._alive_until.get(instance_id, 0) > now_ms:
                continue
            self._alive_until.pop(instance_id, None)
            for session_id, hubs in self._by_instance.pop(instance_id, {}).items():
                for hub_id in sorted(hubs):
                    if self._leave_hub(hub_id, session_id):
                        changed[hub_id] = None
        return self._changed(list(changed))

    async def changes_after(self, cursor: str | None, wait_seconds: float) -> RosterChanges:
        changes = self._feed.after(cursor)
        if changes.hub_ids or not changes.complete:
            return changes
        await self._feed.wait(wait_seconds)
        return self._feed.after(changes.cursor)
