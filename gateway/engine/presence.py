"""The presence store's interface: which agent sessions are connected to each hub.

One record per (hub, session), shaped for Redis: a hash `presence:{hubId}` whose fields are
session ids and whose values are the JSON below, plus a per-hub revision counter (HINCRBY) so
"the last status any session set" is a max over revisions, never a wall-clock race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

STATUSES = ("available", "busy", "unavailable")


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """One session of an agent in one hub; `revision` orders status changes in the hub."""

    session_id: str
    agent_id: str
    name: str | None
    status: str
    since_ms: int
    revision: int

    def to_json(self) -> dict[str, Any]:
        return {
            "sessionId": self.session_id,
            "agentId": self.agent_id,
            "name": self.name,
            "status": self.status,
            "sinceMs": self.since_ms,
            "revision": self.revision,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PresenceEntry:
        return cls(
            session_id=str(data["sessionId"]),
            agent_id=str(data["agentId"]),
            name=data["name"],
            status=str(data["status"]),
            since_ms=int(data["sinceMs"]),
            revision=int(data["revision"]),
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
    ) -> None:
        """Record a session in every hub it may see, with its starting status."""
        ...

    async def set_status(
        self, hub_ids: Sequence[str], session_id: str, status: str, now_ms: int
    ) -> None:
        """Set a joined session's status; the newest revision wins for its agent."""
        ...

    async def leave(self, hub_ids: Sequence[str], session_id: str) -> None: ...

    async def entries(self, hub_id: str) -> list[PresenceEntry]:
        """Every session present in the hub, in no particular order."""
        ...
