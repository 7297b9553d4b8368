"""Presence in Redis: per-hub hashes of agents and sessions, a per-instance set of its
sessions, a sorted set of instances by the time their heartbeat runs out, and a capped
stream of changed hubs as the change feed. All of it lives in the event log's slot, so that
the process's one blocking reader follows the change feed in the same `XREAD` as the
events; each method is one script (`lua/presence_*.lua`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from gateway.engine.presence import AgentPresence, PresenceSession, RosterChanges
from gateway.engine.redis.connection import Link, ScriptArg, guarded, text
from gateway.engine.redis.reader import BlockingReader, next_wake

FEED_READ_COUNT = 1000


def _stream_id(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class RedisPresenceStore:
    def __init__(self, link: Link, reader: BlockingReader) -> None:
        self.link = link
        self._reader = reader
        self._prefix = link.keys.presence_prefix
        self._feed_keys = [link.keys.roster, link.keys.instances]
        scripts = link.scripts
        self._join = scripts.register("presence_common", "presence_join")
        self._set_status = scripts.register("presence_common", "presence_set_status")
        self._leave = scripts.register("presence_common", "presence_leave")
        self._heartbeat = scripts.register("presence_heartbeat")
        self._reap = scripts.register("presence_common", "presence_reap")

    @staticmethod
    def _hubs(changed: list[bytes]) -> list[str]:
        return [hub.decode() for hub in changed]

    @guarded
    async def join(
        self, hub_ids: Sequence[str], session: PresenceSession, status: str, now_ms: int
    ) -> list[str]:
        args: list[ScriptArg] = [
            self._prefix,
            session.session_id,
            session.instance_id,
            session.agent_id,
        ]
        args += [orjson.dumps(session.name), status, now_ms, *hub_ids]
        return self._hubs(await self._join(self._feed_keys, args))

    @guarded
    async def set_status(
        self, hub_ids: Sequence[str], agent_id: str, status: str, now_ms: int
    ) -> list[str]:
        args: list[ScriptArg] = [self._prefix, agent_id, status, now_ms, *hub_ids]
        return self._hubs(await self._set_status(self._feed_keys, args))

    @guarded
    async def leave(self, hub_ids: Sequence[str], session_id: str) -> list[str]:
        args = [self._prefix, session_id, *hub_ids]
        return self._hubs(await self._leave(self._feed_keys, args))

    @guarded
    async def agents(self, hub_id: str) -> list[AgentPresence]:
        records = await self.link.redis.hgetall(f"{self._prefix}{hub_id}:agents")
        return [AgentPresence.from_json(orjson.loads(records[key])) for key in sorted(records)]

    @guarded
    async def heartbeat(self, instance_id: str, now_ms: int, ttl_ms: int) -> bool:
        return bool(await self._heartbeat(self._feed_keys, [instance_id, now_ms, ttl_ms]))

    @guarded
    async def reap(self, now_ms: int) -> list[str]:
        return self._hubs(await self._reap(self._feed_keys, [self._prefix, now_ms]))

    async def _read(self, cursor: str) -> RosterChanges | None:
        """The changes after `cursor`, or None when there are none yet."""
        async with self.link.redis.pipeline(transaction=True) as pipe:
            pipe.xrange(self.link.keys.roster, min="(" + cursor, count=FEED_READ_COUNT)
            pipe.xinfo_stream(self.link.keys.roster)
            entries, info = await pipe.execute(raise_on_error=False)
        if isinstance(entries, Exception):
            raise entries
        trimmed_to = b"0-0" if isinstance(info, Exception) else info["max-deleted-entry-id"]
        complete = _stream_id(cursor) >= _stream_id(trimmed_to.decode())
        if not entries and complete:
            return None
        hubs = list(dict.fromkeys(fields[b"h"].decode() for _, fields in entries))
        last = entries[-1][0].decode() if entries else cursor
        return RosterChanges(cursor=last, hub_ids=hubs, complete=complete)

    async def _tip(self) -> str:
        last: Any = await self.link.redis.xrevrange(self.link.keys.roster, count=1)
        return text(last[0][0]) if last else "0-0"

    @guarded
    async def changes_after(self, cursor: str | None, wait_seconds: float) -> RosterChanges:
        deadline = asyncio.get_running_loop().time() + wait_seconds
        pending = self._reader.pending()
        if cursor is None:
            cursor = await self._tip()
        while True:
            changes = await self._read(cursor)
            if changes is not None:
                return changes
            while True:
                wake = await next_wake(pending, deadline)
                if wake is None:
                    return RosterChanges(cursor=cursor, hub_ids=[])
                if wake.error is not None:
                    raise wake.error
                pending = wake.next
                if wake.roster:
                    break
