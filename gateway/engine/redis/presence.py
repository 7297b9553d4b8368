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
from redis.exceptions import ResponseError

from gateway.engine.presence import AgentPresence, PresenceSession, RosterChanges
from gateway.engine.redis.connection import Link, ScriptArg, guarded, text
from gateway.engine.redis.reader import BlockingReader, next_wake, parse_stream_id
from gateway.engine.redis.tail import StreamId

FEED_READ_COUNT = 1000


def _position(cursor: str) -> StreamId | None:
    try:
        return parse_stream_id(cursor)
    except ValueError:
        return None


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

    def _keys(self, hub_ids: Sequence[str], instance_id: str | None = None) -> list[str]:
        """The feed keys and every key of the hubs (and of the instance) a script may touch:
        declared, so that a slot being moved is refused before the script runs (see
        `deliveries.FIXED_KEYS`). Left undeclared: the instance of a session that leaves, and
        what a reap finds, both read inside the script."""
        keys = [*self._feed_keys, f"{self._prefix}holders"]
        for hub in hub_ids:
            keys += [f"{self._prefix}hub:{hub}:agents", f"{self._prefix}hub:{hub}:sessions"]
        if instance_id is not None:
            keys.append(f"{self._prefix}instance:{instance_id}")
        return keys

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
        keys = self._keys(hub_ids, session.instance_id)
        return self._hubs(await self._join(keys, args))

    @guarded
    async def set_status(
        self, hub_ids: Sequence[str], agent_id: str, status: str, now_ms: int
    ) -> list[str]:
        args: list[ScriptArg] = [self._prefix, agent_id, status, now_ms, *hub_ids]
        return self._hubs(await self._set_status(self._keys(hub_ids), args))

    @guarded
    async def leave(self, hub_ids: Sequence[str], session_id: str) -> list[str]:
        args = [self._prefix, session_id, *hub_ids]
        return self._hubs(await self._leave(self._keys(hub_ids), args))

    @guarded
    async def agents(self, hub_id: str) -> list[AgentPresence]:
        records = await self.link.redis.hgetall(f"{self._prefix}hub:{hub_id}:agents")
        return [AgentPresence.from_json(orjson.loads(records[key])) for key in sorted(records)]

    @guarded
    async def heartbeat(self, instance_id: str, now_ms: int, ttl_ms: int) -> bool:
        return bool(await self._heartbeat(self._feed_keys, [instance_id, now_ms, ttl_ms]))

    @guarded
    async def reap(self, now_ms: int) -> list[str]:
        return self._hubs(await self._reap(self._feed_keys, [self._prefix, now_ms]))

    async def _feed_state(self) -> tuple[str, StreamId]:
        """The feed's last id and the greatest id trimmed from it ("0-0" when none)."""
        try:
            info: Any = await self.link.redis.xinfo_stream(self.link.keys.roster)
        except ResponseError:  # no feed yet: nothing ever changed
            return "0-0", (0, 0)
        return text(info["last-generated-id"]), parse_stream_id(info["max-deleted-entry-id"])

    async def _read(self, cursor: str) -> RosterChanges | None:
        """The changes after `cursor`, or None when there are none yet. A cursor the feed
        no longer reaches back to (or never gave) is answered incomplete, from the tip."""
        tip, trimmed_to = await self._feed_state()
        position = _position(cursor)
        if position is None or position < trimmed_to or position > parse_stream_id(tip):
            return RosterChanges(cursor=tip, hub_ids=[], complete=False)
        entries: Any = await self.link.redis.xrange(
            self.link.keys.roster, min="(" + cursor, count=FEED_READ_COUNT
        )
        if not entries:
            return None
        hubs = list(dict.fromkeys(text(fields[b"h"]) for _, fields in entries))
        return RosterChanges(cursor=text(entries[-1][0]), hub_ids=hubs)

    @guarded
    async def changes_after(self, cursor: str | None, wait_seconds: float) -> RosterChanges:
        deadline = asyncio.get_running_loop().time() + wait_seconds
        pending = self._reader.pending()
        if cursor is None:
            cursor = (await self._feed_state())[0]
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
