"""The presence store's interface: which agents are connected to each hub, and their status,
across every process sharing the engine.

One record per (hub, agent), with the agent's session count, shaped for Redis: a hash
`presence:{hubId}:agents` (agentId -> the JSON below) and a hash `presence:{hubId}:sessions`
(sessionId -> the session's agent and instance). An agent's status is the last one any of
its sessions set (a new session sets its starting status); the agent leaves the hub with its
last session. Every change is one atomic step.

Processes ("instances") heartbeat; the sessions of an instance whose heartbeat stopped are
reaped by any other, so a crashed process's agents leave the roster. Every roster change is
also appended to a change feed that every process follows, so a change made through one
process reaches the sessions of all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

STATUSES = ("available", "busy", "unavailable")

ROSTER_FEED_LENGTH = 1000
"""The change feed keeps the latest this many changes (an engine that trims approximately
may keep a few more); a reader further behind is told its view is incomplete."""


@dataclass(frozen=True, slots=True)
class AgentPresence:
    agent_id: str
    name: str | None
    status: str
    since_ms: int
    sessions: int

    def to_json(self) -> dict[str, Any]:
        return {
            "agentId": self.agent_id,
            "name": self.name,
            "status": self.status,
            "sinceMs": self.since_ms,
            "sessions": self.sessions,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentPresence:
        return cls(
            agent_id=str(data["agentId"]),
            name=data["name"],
            status=str(data["status"]),
            since_ms=int(data["sinceMs"]),
            sessions=int(data["sessions"]),
        )


@dataclass(frozen=True, slots=True)
class PresenceSession:
    """A websocket session as presence knows it: which instance holds it, for reaping."""

    session_id: str
    instance_id: str
    agent_id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class RosterChanges:
    """Hubs whose roster changed after a cursor, each once, and the cursor to read on from.
    `complete` is False when the feed no longer reaches back to the cursor asked for: the
    reader missed changes and should treat every hub it cares about as changed."""

    cursor: str
    hub_ids: list[str]
    complete: bool = True


class PresenceStore(Protocol):
    async def join(
        self, hub_ids: Sequence[str], session: PresenceSession, status: str, now_ms: int
    ) -> list[str]:
        """Add a session to each hub; its agent takes `status`. Idempotent per session id (a
        session already in a hub is not counted twice). The hubs whose roster changed."""
        ...

    async def set_status(
        self, hub_ids: Sequence[str], agent_id: str, status: str, now_ms: int
    ) -> list[str]:
        """Set a present agent's status; the hubs whose roster changed."""
        ...

    async def leave(self, hub_ids: Sequence[str], session_id: str) -> list[str]:
        """Remove a session; its agent goes with its last session. The hubs that changed."""
        ...

    async def agents(self, hub_id: str) -> list[AgentPresence]:
        """The agents present in the hub, by agent id."""
        ...

    async def heartbeat(self, instance_id: str, now_ms: int, ttl_ms: int) -> bool:
        """The instance is alive until `now_ms + ttl_ms`. True when it was not alive before
        this beat (its first, or after it expired and may have been reaped): the caller
        then joins its live sessions again."""
        ...

    async def reap(self, now_ms: int) -> list[str]:
        """Remove every session of every instance whose heartbeat expired (an instance with
        sessions and no live heartbeat at all counts as expired, as an expired Redis key is
        simply absent: an instance beats before its first session joins); the hubs whose
        roster changed."""
        ...

    async def changes_after(self, cursor: str | None, wait_seconds: float) -> RosterChanges:
        """Roster changes after `cursor` (None: from now on, nothing before), waiting up to
        `wait_seconds` for one when there are none yet."""
        ...
