"""The presence store's interface: which agents are connected to each hub, and their status.

One record per (hub, agent), with the agent's session count, shaped for Redis: a hash
`presence:{hubId}:agents` (agentId -> the JSON below) and a hash `presence:{hubId}:sessions`
(sessionId -> agentId, so the sessions of a dead instance can be reaped), each change one
Lua script. An agent's status is the last one any of its sessions set (a new session sets
its starting status); the agent leaves the hub with its last session.

Every change returns the hubs whose roster (agent, name, status) changed, so a session of an
agent already present with the same status announces nothing to the hub.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

STATUSES = ("available", "busy", "unavailable")


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


class PresenceStore(Protocol):
    async def join(
        self,
        hub_ids: Sequence[str],
        session_id: str,
        agent_id: str,
        name: str | None,
        status: str,
        now_ms: int,
    ) -> list[str]:
        """Add a session to each hub; its agent takes `status`. The hubs whose roster changed."""
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
