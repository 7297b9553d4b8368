"""In-memory presence: per hub, encoded entries by session id and a revision counter."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from gateway.engine.presence import PresenceEntry


class MemoryPresenceStore:
    def __init__(self) -> None:
        self._hubs: dict[str, dict[str, bytes]] = {}
        self._revisions: dict[str, int] = {}

    def _next_revision(self, hub_id: str) -> int:
        revision = self._revisions.get(hub_id, 0) + 1
        self._revisions[hub_id] = revision
        return revision

    def _put(self, hub_id: str, entry: PresenceEntry) -> None:
        self._hubs.setdefault(hub_id, {})[entry.session_id] = orjson.dumps(entry.to_json())

    async def join(
        self,
        hub_ids: Sequence[str],
        session_id: str,
        agent_id: str,
        name: str | None,
        status: str,
        now_ms: int,
    ) -> None:
        for hub_id in hub_ids:
            entry = PresenceEntry(
                session_id, agent_id, name, status, now_ms, self._next_revision(hub_id)
            )
            self._put(hub_id, entry)

    async def set_status(
        self, hub_ids: Sequence[str], session_id: str, status: str, now_ms: int
    ) -> None:
        for hub_id in hub_ids:
            raw = self._hubs.get(hub_id, {}).get(session_id)
            if raw is None:
                continue
            old = PresenceEntry.from_json(orjson.loads(raw))
            entry = PresenceEntry(
                session_id, old.agent_id, old.name, status, now_ms, self._next_revision(hub_id)
            )
            self._put(hub_id, entry)

    async def leave(self, hub_ids: Sequence[str], session_id: str) -> None:
        for hub_id in hub_ids:
            sessions = self._hubs.get(hub_id)
            if sessions is None:
                continue
            sessions.pop(session_id, None)
            if not sessions:
                del self._hubs[hub_id]
                self._revisions.pop(hub_id, None)

    async def entries(self, hub_id: str) -> list[PresenceEntry]:
        raws = self._hubs.get(hub_id, {}).values()
        return [PresenceEntry.from_json(orjson.loads(raw)) for raw in raws]
