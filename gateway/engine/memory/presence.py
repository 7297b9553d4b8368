"""In-memory presence: per hub, encoded agent records and the session -> agent map."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import orjson

from gateway.engine.presence import AgentPresence


class MemoryPresenceStore:
    def __init__(self) -> None:
        self._agents: dict[str, dict[str, bytes]] = {}
        self._sessions: dict[str, dict[str, str]] = {}

    def _get(self, hub_id: str, agent_id: str) -> AgentPresence | None:
        raw = self._agents.get(hub_id, {}).get(agent_id)
        return None if raw is None else AgentPresence.from_json(orjson.loads(raw))

    def _put(self, hub_id: str, record: AgentPresence) -> None:
        self._agents.setdefault(hub_id, {})[record.agent_id] = orjson.dumps(record.to_json())

    async def join(
        self,
        hub_ids: Sequence[str],
        session_id: str,
        agent_id: str,
        name: str | None,
        status: str,
        now_ms: int,
    ) -> list[str]:
        changed = []
        for hub_id in hub_ids:
            self._sessions.setdefault(hub_id, {})[session_id] = agent_id
            old = self._get(hub_id, agent_id)
            if old is None:
                self._put(hub_id, AgentPresence(agent_id, name, status, now_ms, 1))
                changed.append(hub_id)
                continue
            since = old.since_ms if old.status == status else now_ms
            self._put(hub_id, AgentPresence(agent_id, name, status, since, old.sessions + 1))
            if (old.name, old.status) != (name, status):
                changed.append(hub_id)
        return changed

    async def set_status(
        self, hub_ids: Sequence[str], agent_id: str, status: str, now_ms: int
    ) -> list[str]:
        changed = []
        for hub_id in hub_ids:
            old = self._get(hub_id, agent_id)
            if old is not None and old.status != status:
                self._put(hub_id, replace(old, status=status, since_ms=now_ms))
                changed.append(hub_id)
        return changed

    async def leave(self, hub_ids: Sequence[str], session_id: str) -> list[str]:
        changed = []
        for hub_id in hub_ids:
            agent_id = self._sessions.get(hub_id, {}).pop(session_id, None)
            old = None if agent_id is None else self._get(hub_id, agent_id)
            if old is None:
                continue
            if old.sessions > 1:
                self._put(hub_id, replace(old, sessions=old.sessions - 1))
                continue
            del self._agents[hub_id][old.agent_id]
            changed.append(hub_id)
            if not self._agents[hub_id]:
                del self._agents[hub_id]
                self._sessions.pop(hub_id, None)
        return changed

    async def agents(self, hub_id: str) -> list[AgentPresence]:
        records = self._agents.get(hub_id, {})
        return [AgentPresence.from_json(orjson.loads(records[key])) for key in sorted(records)]
